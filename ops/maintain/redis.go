package maintain

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// Runbook sections the Redis findings link.
const (
	rbRedisDown   = "troubleshooting.md#redis-down"
	rbRedisMemory = "troubleshooting.md#redis-memory"
	rbRedisHit    = "troubleshooting.md#redis-hit-rate"
	rbRedisCache  = "performance.md#cache"
)

// BigKeyBytes is the size from which a single key is reported as big.
const BigKeyBytes = 10 << 20

// checkpointName is the keyspace analysis checkpoint under the state dir.
const checkpointName = "keyspace-checkpoint.json"

// KeyspaceOptions override the configuration for one keyspace analysis.
type KeyspaceOptions struct {
	// DBs restricts the scan to these databases.
	DBs []int
	// MaxOpsPerSec overrides maintenance.redis.max_ops_per_sec when >= 0.
	MaxOpsPerSec int
	// Resume continues the last interrupted analysis from its checkpoint.
	Resume bool
	// Skip leaves the keyspace analysis out (INFO findings only).
	Skip bool
}

// runRedis judges INFO and analyses the keyspace.
func (e *Engine) runRedis(ctx context.Context, rep *Report, o Options, explicit bool) ([]Finding, []string) {
	client, err := e.redisUp(ctx)
	if err != nil {
		return []Finding{targetFailure(AreaRedis, "redis", err, explicit)}, nil
	}
	snap, err := redis.TakeSnapshot(ctx, client)
	if err != nil {
		markDown(ctx, "redis", err)
		f := targetFailure(AreaRedis, "redis", err, true)
		if k := redis.Classify(err); k == redis.KindAuth || k == redis.KindPermission {
			f.Status = health.Unknown
		}
		return []Finding{f}, nil
	}
	rep.Redis = &RedisDetail{Snapshot: snap}
	fs := RedisInfoFindings(snap, e.Config.Thresholds)
	if o.Keyspace.Skip {
		return fs, []string{"keyspace analysis skipped"}
	}
	var notes []string
	a, err := e.analyzeKeyspace(ctx, client, o)
	if a != nil {
		rep.Redis.Keyspace = a
		fs = append(fs, KeyspaceFindings(a, snap)...)
	}
	switch {
	case err == nil:
	case a != nil && !a.Complete():
		// Interrupted: keep what was read and where to go on from.
		path := filepath.Join(e.stateDir(), checkpointName)
		if serr := saveJSON(path, a); serr != nil {
			logErr("save keyspace checkpoint", serr)
			notes = append(notes, fmt.Sprintf("keyspace analysis stopped at %s (%v); the checkpoint could not be saved: %v", a.Cursor, err, serr))
		} else {
			notes = append(notes, fmt.Sprintf("keyspace analysis stopped at %s after %s keys (%v): run again with --resume to go on", a.Cursor, count(a.Keys), err))
		}
		fs = append(fs, Finding{Area: AreaRedis, Check: "keyspace", Status: health.Unknown, Object: "keyspace",
			Summary:    fmt.Sprintf("analysis incomplete: %s of about %s keys read", count(a.Keys), count(totalDBSize(a))),
			Evidence:   []string{"stopped: " + err.Error(), "resume cursor: " + a.Cursor.String()},
			Suggestion: "opsdeck maintain redis --resume continues from the checkpoint"})
	default:
		fs = append(fs, Finding{Area: AreaRedis, Check: "keyspace", Status: health.Unknown, Object: "keyspace", Summary: "analysis failed: " + err.Error()})
	}
	return fs, notes
}

// analyzeKeyspace runs (or resumes) the keyspace analysis with the
// configured options and reports progress against DBSIZE.
func (e *Engine) analyzeKeyspace(ctx context.Context, client *goredis.Client, o Options) (*redis.KeyspaceAnalysis, error) {
	mc := e.Config.Maintenance.Redis
	ko := redis.KeyspaceOptions{
		DBs: o.Keyspace.DBs, Separator: mc.Separator, PrefixDepth: mc.PrefixDepth, MemorySamples: mc.MemorySamples,
		MaxOpsPerSec: mc.MaxOpsPerSec, ScanCount: mc.ScanCount, TopKeys: mc.TopKeys,
	}
	if o.Keyspace.MaxOpsPerSec >= 0 {
		ko.MaxOpsPerSec = o.Keyspace.MaxOpsPerSec
	}
	path := filepath.Join(e.stateDir(), checkpointName)
	if o.Keyspace.Resume {
		var a redis.KeyspaceAnalysis
		if err := loadJSON(path, &a); err != nil {
			return nil, fmt.Errorf("no keyspace checkpoint to resume (%w) — run without --resume", err)
		}
		ko.Resume = &a
	}
	ko.Progress = func(p redis.KeyspaceProgress) {
		o.Progress.Emit(progress.Event{Kind: progress.Advance, Op: "maintain", Step: "redis keyspace",
			Done: p.Scanned, Total: p.Total, Message: fmt.Sprintf("db%d, %s commands", p.DB, count(p.Ops))})
	}
	a, err := redis.AnalyzeKeyspace(ctx, client, ko)
	if err == nil && a != nil && a.Complete() {
		// A finished analysis makes the checkpoint stale.
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			logErr("remove keyspace checkpoint", rerr)
		}
	}
	return a, err
}

// RedisInfoFindings judges INFO with the morning check's judge plus
// fragmentation and keys per database.
func RedisInfoFindings(s redis.Snapshot, th config.Thresholds) []Finding {
	var fs []Finding
	for _, r := range health.JudgeRedis(s, th) {
		if r.Name == "reachable" {
			continue
		}
		f := Finding{Area: AreaRedis, Check: r.Name, Status: r.Status, Object: "redis", Summary: r.Value,
			Suggestion: r.Hint, Runbook: runbookPath(r.Runbook)}
		if r.Threshold != "" {
			f.Evidence = []string{"threshold: " + r.Threshold}
		}
		fs = append(fs, f)
	}
	frag := Finding{Area: AreaRedis, Check: "fragmentation", Status: health.OK, Object: "redis", Runbook: rbRedisMemory,
		Summary:  fmt.Sprintf("ratio %.2f (RSS %s for %s used)", s.FragmentationRatio, progress.Bytes(s.UsedMemoryRSS), progress.Bytes(s.UsedMemory)),
		Evidence: []string{"mem_fragmentation_ratio = used_memory_rss / used_memory"}}
	switch {
	case s.UsedMemory < 64<<20:
		frag.Evidence = append(frag.Evidence, "under 64 MiB used the ratio says little: the allocator's fixed overhead dominates")
	case s.FragmentationRatio > 1.5:
		frag.Status = health.Warn
		frag.Why = "the process holds much more memory than its data needs; the pod can be OOM-killed below maxmemory"
		frag.Suggestion = "CONFIG SET activedefrag yes (jemalloc), or restart the replica first and fail over"
	case s.FragmentationRatio > 0 && s.FragmentationRatio < 1:
		frag.Status = health.Warn
		frag.Why = "less RSS than data means part of Redis is swapped out: every access to it is slow"
		frag.Suggestion = "give the pod more memory or lower maxmemory; make sure the node does not swap"
	}
	fs = append(fs, frag)
	var ev []string
	for _, db := range s.Keyspace {
		ev = append(ev, fmt.Sprintf("db%d: %s keys, %s with a TTL", db.DB, count(db.Keys), count(db.Expires)))
	}
	fs = append(fs, Finding{Area: AreaRedis, Check: "keys", Status: health.OK, Object: "redis",
		Summary: fmt.Sprintf("%s keys in %d database(s)", count(s.TotalKeys), len(s.Keyspace)), Evidence: ev})
	return fs
}

// KeyspaceFindings judges a keyspace analysis: big keys, the biggest keys
// per type, memory by prefix and keys without a TTL.
func KeyspaceFindings(a *redis.KeyspaceAnalysis, s redis.Snapshot) []Finding {
	var fs []Finding
	if a.MemoryUnavailable != "" {
		fs = append(fs, na(AreaRedis, "key sizes", "keyspace", a.MemoryUnavailable))
	}
	types := slices.Sorted(maps.Keys(a.ByType))
	var top []string
	for _, t := range types {
		ts := a.ByType[t]
		if len(ts.Top) > 0 {
			k := ts.Top[0]
			top = append(top, fmt.Sprintf("%s: %s in db%d, %s%s (%s keys, %s in all)", t, quoteKey(k.Key), k.DB, progress.Bytes(k.Bytes), lengthOf(k), count(ts.Keys), progress.Bytes(ts.Bytes)))
		}
		for _, k := range ts.Top {
			if k.Bytes < BigKeyBytes {
				break
			}
			fs = append(fs, Finding{
				Area: AreaRedis, Check: "big key", Status: health.Warn, Object: fmt.Sprintf("db%d %s", k.DB, quoteKey(k.Key)),
				Summary:    fmt.Sprintf("%s %s of %s%s", t, quoteKey(k.Key), progress.Bytes(k.Bytes), lengthOf(k)),
				Evidence:   []string{fmt.Sprintf("MEMORY USAGE SAMPLES %d", a.MemorySamples), "TTL: " + ttlText(k)},
				Why:        "reading, writing or deleting a big key blocks Redis for everyone; it replicates and evicts as one piece",
				Suggestion: "split it (by time or id), trim it (LTRIM, XTRIM, ZREMRANGEBYRANK) and delete it with UNLINK, not DEL",
				Runbook:    rbRedisMemory,
			})
		}
	}
	scope := fmt.Sprintf("%s keys, %s, in %s", count(a.Keys), progress.Bytes(a.Bytes), a.Took.Round(1e6))
	if !a.Complete() {
		scope += " (partial)"
	}
	fs = append(fs, Finding{Area: AreaRedis, Check: "biggest keys", Status: health.OK, Object: "keyspace", Summary: scope, Evidence: top, Runbook: rbRedisMemory})

	prefixes := slices.Collect(maps.Keys(a.Prefixes))
	slices.SortFunc(prefixes, func(x, y string) int {
		if c := cmp.Compare(a.Prefixes[y].Bytes, a.Prefixes[x].Bytes); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	var pev []string
	for i, p := range prefixes {
		if i == 10 {
			pev = append(pev, fmt.Sprintf("… and %d more prefixes", len(prefixes)-10))
			break
		}
		b := a.Prefixes[p]
		pev = append(pev, fmt.Sprintf("%s: %s keys, %s (%.0f%%), %s without TTL", quoteKey(p), count(b.Keys), progress.Bytes(b.Bytes), pct(b.Bytes, a.Bytes), count(b.NoTTL)))
	}
	fs = append(fs, Finding{Area: AreaRedis, Check: "prefixes", Status: health.OK, Object: "keyspace",
		Summary:  fmt.Sprintf("%d prefixes (separator %q, depth %d)", len(prefixes), a.Separator, a.PrefixDepth),
		Evidence: pev, Runbook: rbRedisMemory})

	var tev []string
	for _, b := range a.TTL.Named() {
		tev = append(tev, fmt.Sprintf("%s: %s keys, %s", b.Label, count(b.Keys), progress.Bytes(b.Bytes)))
	}
	noTTL := Finding{Area: AreaRedis, Check: "keys without TTL", Status: health.OK, Object: "keyspace",
		Summary:  fmt.Sprintf("%s of %s keys (%.0f%% of memory) never expire", count(a.TTL.None.Keys), count(a.Keys), pct(a.TTL.None.Bytes, a.Bytes)),
		Evidence: tev, Runbook: rbRedisCache}
	for i, k := range a.NoTTLTop {
		if i == 5 {
			break
		}
		noTTL.Evidence = append(noTTL.Evidence, fmt.Sprintf("no TTL: db%d %s, %s", k.DB, quoteKey(k.Key), progress.Bytes(k.Bytes)))
	}
	if strings.HasPrefix(s.MaxMemoryPolicy, "volatile-") && a.Keys > 0 && pct(a.TTL.None.Keys, a.Keys) >= 50 {
		noTTL.Status = health.Warn
		noTTL.Why = fmt.Sprintf("maxmemory-policy %s evicts only keys with a TTL: when memory runs out, writes fail", s.MaxMemoryPolicy)
		noTTL.Suggestion = "give cache keys a TTL where they are written, or use an allkeys-* policy"
	} else if a.TTL.None.Keys > 0 {
		noTTL.Suggestion = "cache keys should expire: check the prefixes without TTL above are meant to live forever"
	}
	fs = append(fs, noTTL)
	return fs
}

func totalDBSize(a *redis.KeyspaceAnalysis) int64 {
	var n int64
	for _, d := range a.DBs {
		n += d.Size
	}
	return n
}

func lengthOf(k redis.KeyInfo) string {
	if k.Length < 0 {
		return ""
	}
	unit := "elements"
	if k.Type == "string" {
		unit = "bytes long"
	}
	return fmt.Sprintf(", %s %s", count(k.Length), unit)
}

func ttlText(k redis.KeyInfo) string {
	if k.TTL < 0 {
		return "none"
	}
	return health.ShortDuration(k.TTL)
}

// quoteKey shows a key name as is when it is printable, quoted otherwise.
func quoteKey(k string) string {
	for _, r := range k {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return strconv.Quote(k)
		}
	}
	if len(k) > 80 {
		return k[:79] + "…"
	}
	return k
}

func pct(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// saveJSON writes v to path atomically (0600, in a 0700 directory made if
// needed).
func saveJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return safefile.Write(path, data, 0o600)
}

func loadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s is not valid (%w) — delete it", path, err)
	}
	return nil
}
