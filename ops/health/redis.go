package health

import (
	"context"
	"fmt"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/reach"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// CheckRedis connects to the configured server, reads INFO once and judges it.
func CheckRedis(ctx context.Context, cfg *config.Config) []Result {
	tgt, err := reach.Redis(ctx, cfg)
	if err != nil {
		return []Result{unreachable("port-forward", err, "redis-down", false)}
	}
	defer tgt.Close()
	client, err := redis.NewClient(tgt.DSN, cfg.Timeouts.Connect)
	if err != nil {
		return []Result{unreachable(redis.Classify(err).String(), err, "redis-down", true)}
	}
	defer client.Close()
	snap, err := redis.TakeSnapshot(ctx, client)
	if err != nil {
		k := redis.Classify(err)
		access := k == redis.KindAuth || k == redis.KindPermission || k == redis.KindConfig
		return []Result{unreachable(k.String(), tgt.Explain(err), "redis-down", access)}
	}
	return via(JudgeRedis(snap, cfg.Thresholds), tgt)
}

// JudgeRedis turns an INFO snapshot into check results.
func JudgeRedis(s redis.Snapshot, th config.Thresholds) []Result {
	rs := []Result{{
		Name:   "reachable",
		Status: OK,
		Value:  fmt.Sprintf("Redis %s %s, %d keys", s.Version, s.Role, s.TotalKeys),
	}}

	mem := Result{Name: "memory", Threshold: Percent(th.RedisMemoryPercent), Runbook: "redis-memory"}
	if pct, ok := s.MemoryPercent(); ok {
		mem.Status = Above(pct, th.RedisMemoryPercent)
		mem.Value = fmt.Sprintf("%s/%s (%.0f%%)", kube.HumanBytes(s.UsedMemory), kube.HumanBytes(s.MaxMemory), pct)
		if mem.Status != OK {
			mem.Hint = fmt.Sprintf("policy %s: find big keys and keys without TTL (opsdeck maintain redis), or raise maxmemory", s.MaxMemoryPolicy)
		}
	} else {
		mem.Status = Warn
		mem.Value = kube.HumanBytes(s.UsedMemory) + ", no maxmemory"
		mem.Hint = "maxmemory is 0 (unlimited): Redis can grow until the pod is OOM-killed; set maxmemory and a policy"
	}
	rs = append(rs, mem)

	hit := Result{Name: "hit rate", Threshold: PercentMin(th.RedisHitRatePercent), Runbook: "redis-hit-rate"}
	if s.NoLookupsYet {
		hit.Status, hit.Value = OK, "no lookups yet"
	} else {
		hit.Status = Below(s.HitRatePercent, th.RedisHitRatePercent)
		hit.Value = fmt.Sprintf("%.1f%% (%d hits, %d misses)", s.HitRatePercent, s.KeyspaceHits, s.KeyspaceMisses)
		if hit.Status != OK {
			hit.Hint = "the cache misses often: keys expire too soon, are evicted, or are never written; check TTLs and evictions"
		}
	}
	rs = append(rs, hit)

	ev := Result{Name: "evictions", Status: OK, Value: fmt.Sprint(s.EvictedKeys), Runbook: "redis-memory"}
	if s.EvictedKeys > 0 {
		ev.Status = Warn
		ev.Hint = fmt.Sprintf("keys are evicted under memory pressure (policy %s): the cache is too small for its working set", s.MaxMemoryPolicy)
	}
	rs = append(rs, ev)

	rej := Result{Name: "rejected conns", Status: OK, Value: fmt.Sprint(s.RejectedConnections), Runbook: "redis-clients"}
	if s.RejectedConnections > 0 {
		rej.Status = Warn
		rej.Hint = fmt.Sprintf("maxclients (%d) was reached: clients leak connections or the pool is too large", s.MaxClients)
	}
	rs = append(rs, rej)
	return rs
}
