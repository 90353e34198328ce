package restore

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// preflight checks the target Redis (read-only): that it answers and
// takes writes, that it reads the backup's RDB version, what the flush
// will delete, whether the data fits in maxmemory, and whether the flush
// can be undone.
func (r *redisRestore) preflight(ctx context.Context) {
	en := r.en
	cfg := en.cfg()
	defer r.checkSafety()
	client, err := redis.NewClient(r.url, cfg.Timeouts.Connect)
	if err != nil {
		en.check(Redis, "reachable", health.Crit, err.Error())
		return
	}
	defer client.Close()
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Check)
	defer cancel()
	if err := client.Ping(cctx).Err(); err != nil {
		en.check(Redis, "reachable", health.Crit, redis.Wrap(client, err).Error()+" — the restore needs the target Redis up: start it or fix redis.url, then prepare the restore again")
		return
	}
	snap, err := redis.TakeSnapshot(cctx, client)
	if err != nil {
		en.check(Redis, "reachable", health.Crit, err.Error())
		return
	}
	where := fmt.Sprintf("Redis %s at %s", snap.Version, r.server)
	switch {
	case snap.Mode != "" && snap.Mode != "standalone":
		en.check(Redis, "reachable", health.Crit, fmt.Sprintf("%s runs in %s mode: opsdeck restores a standalone Redis only — restore into the primary of a standalone setup", where, snap.Mode))
		return
	case snap.Role == "slave":
		en.check(Redis, "reachable", health.Crit, where+" is a replica, which takes no writes — point redis.url at the primary")
		return
	}
	en.check(Redis, "reachable", health.OK, where+" answers PING")

	r.checkVersion(cctx, client, snap)
	r.checkKeys(snap)
	r.checkMemory(snap)
}

// checkVersion compares the backup's RDB version with the newest the
// server reads: RESTORE refuses payloads of a newer one.
func (r *redisRestore) checkVersion(ctx context.Context, client *goredis.Client, snap redis.Snapshot) {
	facts := r.comp.Redis
	file, from := r.fileVersion(ctx)
	backed := fmt.Sprintf("the backup is RDB version %d (Redis %s, read from the %s)", file, facts.Version, from)
	server, how := serverRDBVersion(ctx, client, snap)
	switch {
	case server == 0:
		r.en.check(Redis, "rdb version", health.Warn, fmt.Sprintf("%s; which RDB versions Redis %s reads is not known — RESTORE will refuse every key if it is older", backed, snap.Version))
	case file > server:
		r.en.check(Redis, "rdb version", health.Crit, fmt.Sprintf("%s, newer than the %d that Redis %s reads (%s): RESTORE would refuse every key — restore into a Redis at least as new as %s", backed, server, snap.Version, how, facts.Version))
	default:
		r.en.check(Redis, "rdb version", health.OK, fmt.Sprintf("%s; Redis %s reads up to %d (%s)", backed, snap.Version, server, how))
	}
}

// fileVersion reads the RDB version from the file's header, or from the
// manifest when the file cannot be read (the checksum check says why).
func (r *redisRestore) fileVersion(ctx context.Context) (int, string) {
	en := r.en
	fr, err := backup.OpenFile(ctx, en.eng.Backup.Store, en.plan.SetID, r.comp.Files[0], en.ids)
	if err != nil {
		return r.comp.Redis.RDBVersion, "manifest"
	}
	defer fr.Close()
	head := make([]byte, 9)
	if _, err := io.ReadFull(fr, head); err != nil || string(head[:5]) != "REDIS" {
		return r.comp.Redis.RDBVersion, "manifest"
	}
	v, err := strconv.Atoi(string(head[5:]))
	if err != nil {
		return r.comp.Redis.RDBVersion, "manifest"
	}
	return v, "file"
}

// serverRDBVersion tells the newest RDB version the server reads: the
// version in the DUMP of one of its keys, or, when it has none, the one
// its release writes.
func serverRDBVersion(ctx context.Context, client *goredis.Client, snap redis.Snapshot) (int, string) {
	for _, k := range snap.Keyspace {
		if k.Keys == 0 {
			continue
		}
		if v, ok := dumpVersion(ctx, client, k.DB); ok {
			return v, "seen in a DUMP"
		}
		break
	}
	if v := rdbVersionOfRelease(snap.Version); v > 0 {
		return v, "its release's"
	}
	return 0, ""
}

// dumpProbeMax is the largest key (by MEMORY USAGE) the preflight DUMPs
// to learn the server's RDB version: DUMP blocks the server while it
// serializes the value.
const dumpProbeMax = 64 << 10

// dumpVersion reads the RDB version in the DUMP of a small random key of
// db, trying a few keys.
func dumpVersion(ctx context.Context, client *goredis.Client, db int) (int, bool) {
	conn := client.Conn()
	defer conn.Close()
	if err := conn.Select(ctx, db).Err(); err != nil {
		return 0, false
	}
	for range 5 {
		key, err := conn.RandomKey(ctx).Result()
		if err != nil {
			return 0, false
		}
		size, err := conn.MemoryUsage(ctx, key).Result()
		if err != nil {
			return 0, false
		}
		if size > dumpProbeMax {
			continue
		}
		payload, err := conn.Dump(ctx, key).Result()
		if err != nil {
			continue // expired meanwhile
		}
		return backup.DumpVersion([]byte(payload))
	}
	return 0, false
}

// rdbReleases maps Redis releases to the RDB version they write (and the
// newest they read), oldest first.
var rdbReleases = []struct {
	major, minor, rdb int
}{
	{2, 6, 6}, {3, 2, 7}, {4, 0, 8}, {5, 0, 9}, {7, 0, 10}, {7, 2, 11}, {7, 4, 12},
}

// rdbVersionOfRelease returns the RDB version Redis version v writes, 0
// when v does not parse or is older than 2.6. Releases after the newest
// listed are taken to read at least its version.
func rdbVersionOfRelease(v string) int {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0
	}
	out := 0
	for _, rel := range rdbReleases {
		if major > rel.major || major == rel.major && minor >= rel.minor {
			out = rel.rdb
		}
	}
	return out
}

// checkKeys shows what the flush deletes.
func (r *redisRestore) checkKeys(snap redis.Snapshot) {
	if snap.TotalKeys == 0 {
		r.en.check(Redis, "current keys", health.OK, "none: the flush deletes nothing")
		return
	}
	var parts []string
	for _, k := range snap.Keyspace {
		parts = append(parts, fmt.Sprintf("db%d %d keys (%d with a TTL)", k.DB, k.Keys, k.Expires))
	}
	then := " — the safety backup saves them first"
	if r.en.plan.Options.NoSafetyBackup {
		then = " — and they are not saved first"
	}
	r.en.check(Redis, "current keys", health.Warn, fmt.Sprintf("FLUSHALL deletes %d keys: %s%s", snap.TotalKeys, strings.Join(parts, ", "), then))
}

// checkMemory compares maxmemory with the snapshot's raw size: in memory
// the keys take more room than in the RDB, often twice as much.
func (r *redisRestore) checkMemory(snap redis.Snapshot) {
	raw := r.comp.Files[0].RawSize
	size := "the snapshot is " + progress.Bytes(raw)
	switch {
	case snap.MaxMemory <= 0:
		r.en.check(Redis, "memory", health.OK, size+"; no maxmemory limit")
	case 2*raw > snap.MaxMemory:
		r.en.check(Redis, "memory", health.Warn, fmt.Sprintf("%s and in memory it takes more (often twice): it may not fit in maxmemory %s (policy %s: keys would be evicted, or refused) — raise maxmemory first",
			size, progress.Bytes(snap.MaxMemory), snap.MaxMemoryPolicy))
	default:
		r.en.check(Redis, "memory", health.OK, fmt.Sprintf("%s; maxmemory %s", size, progress.Bytes(snap.MaxMemory)))
	}
}

// checkSafety says whether the flush can be undone.
func (r *redisRestore) checkSafety() {
	if r.en.plan.Options.NoSafetyBackup {
		r.en.check(Redis, "safety backup", health.Warn, "skipped: the flushed data cannot be put back")
		return
	}
	r.en.check(Redis, "safety backup", health.OK, "the current keys are backed up (a set tagged "+PreRestoreTag+") before the flush, and put back if the restore fails")
}
