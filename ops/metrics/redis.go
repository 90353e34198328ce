package metrics

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// The Redis series.
const (
	RedisOps       = "redis.ops"
	RedisHitRate   = "redis.hit_rate"
	RedisMemory    = "redis.memory"
	RedisClients   = "redis.clients"
	RedisEvictions = "redis.evictions"
	RedisKeys      = "redis.keys"
)

// RedisSampler reads the Redis series from one INFO per sample.
type RedisSampler struct {
	url      string
	timeout  time.Duration
	interval time.Duration
	series   []SeriesInfo

	mu     sync.Mutex
	client *goredis.Client

	commands, evictions Counter
	hits                Ratio
}

// NewRedisSampler samples the server at url every interval; dialTimeout
// bounds connecting and each command.
func NewRedisSampler(url string, dialTimeout, interval time.Duration, th config.Thresholds) *RedisSampler {
	s := systemSeries("redis", th)
	return &RedisSampler{url: url, timeout: dialTimeout, interval: interval, series: []SeriesInfo{
		s(RedisOps, "ops/s", UnitPerSec, "redis_ops_per_sec", 1),
		s(RedisHitRate, "hit rate", UnitPercent, "redis_hit_rate_percent", 1),
		s(RedisMemory, "memory", UnitPercent, "redis_memory_percent", 1),
		s(RedisClients, "clients", UnitPercent, "redis_clients_percent", 1),
		s(RedisEvictions, "evictions/s", UnitPerSec, "redis_evictions_per_sec", 1),
		s(RedisKeys, "keys", UnitNone, "redis_keys", 1),
	}}
}

// Name implements Sampler.
func (r *RedisSampler) Name() string { return "redis" }

// Interval implements Sampler.
func (r *RedisSampler) Interval() time.Duration { return r.interval }

// Series implements Sampler.
func (r *RedisSampler) Series() []SeriesInfo { return r.series }

// Close releases the client's connections.
func (r *RedisSampler) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		_ = r.client.Close()
		r.client = nil
	}
}

func (r *RedisSampler) clientFor() (*goredis.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		c, err := redis.NewClient(r.url, r.timeout)
		if err != nil {
			return nil, err
		}
		r.client = c
	}
	return r.client, nil
}

// Sample implements Sampler.
func (r *RedisSampler) Sample(ctx context.Context, now time.Time) ([]Reading, error) {
	c, err := r.clientFor()
	if err != nil {
		return nil, err
	}
	s, err := redis.TakeSnapshot(ctx, c)
	if err != nil {
		return nil, err
	}
	return r.readings(s, now), nil
}

func (r *RedisSampler) readings(s redis.Snapshot, now time.Time) []Reading {
	rs := make([]Reading, 0, len(r.series))
	if ops, ok := r.commands.Rate(float64(s.TotalCommands), now); ok {
		rs = append(rs, Reading{ID: RedisOps, Value: ops, Detail: fmt.Sprintf("server's own estimate %d/s", s.OpsPerSec)})
	}
	switch hit, ok := r.hits.Percent(float64(s.KeyspaceHits), float64(s.KeyspaceMisses), now); {
	case ok:
		rs = append(rs, Reading{ID: RedisHitRate, Value: hit, Detail: fmt.Sprintf("since start %.1f%%", s.HitRatePercent)})
	case !s.NoLookupsYet:
		// Nothing looked up since the last sample: the ratio since start.
		rs = append(rs, Reading{ID: RedisHitRate, Value: s.HitRatePercent, Detail: "no lookups lately · since start"})
	}
	mem := Reading{ID: RedisMemory, Value: math.NaN(), Detail: kube.HumanBytes(s.UsedMemory) + " used, no maxmemory set: it can grow until the pod is OOM-killed"}
	if pct, ok := s.MemoryPercent(); ok {
		mem.Value = pct
		mem.Detail = fmt.Sprintf("%s/%s · %s", kube.HumanBytes(s.UsedMemory), kube.HumanBytes(s.MaxMemory), s.MaxMemoryPolicy)
	}
	rs = append(rs, mem)
	cl := Reading{ID: RedisClients, Value: math.NaN(), Detail: fmt.Sprintf("%d connected, maxclients not reported", s.ConnectedClients)}
	if s.MaxClients > 0 {
		cl.Value = 100 * float64(s.ConnectedClients) / float64(s.MaxClients)
		cl.Detail = fmt.Sprintf("%d of %d · %d blocked", s.ConnectedClients, s.MaxClients, s.BlockedClients)
	}
	rs = append(rs, cl)
	if ev, ok := r.evictions.Rate(float64(s.EvictedKeys), now); ok {
		rs = append(rs, Reading{ID: RedisEvictions, Value: ev, Detail: fmt.Sprintf("%d since start", s.EvictedKeys)})
	}
	return append(rs, Reading{ID: RedisKeys, Value: float64(s.TotalKeys), Detail: fmt.Sprintf("%d databases", len(s.Keyspace))})
}
