package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// redisCallTimeout bounds dialing and each call of a replay: a FLUSHALL
// of a large keyspace, or a batch of big values, takes longer than a check.
var redisCallTimeout = time.Minute

// A replay sends its RESTOREs in pipelines of at most replayBatchKeys keys
// or about replayBatchBytes of payload, whichever comes first.
var (
	replayBatchKeys  = 500
	replayBatchBytes = 8 << 20
)

// expiryHorizon is how far ahead a replay remembers when the keys it
// restored expire (per second), so that the verification can allow for
// those that expired since. Keys that expire later are counted only.
const expiryHorizon = time.Hour

// replayResult is what one replay did, per database.
type replayResult struct {
	start time.Time
	// restored counts the keys sent with RESTORE, expired those skipped
	// because their expiry had passed.
	restored, expired map[int]int64
	// withTTL counts the restored keys with an expiry; soon maps the Unix
	// second of each expiry within expiryHorizon to its keys.
	withTTL map[int]int64
	soon    map[int]map[int64]int64
}

func newReplayResult(start time.Time) *replayResult {
	return &replayResult{start: start, restored: map[int]int64{}, expired: map[int]int64{}, withTTL: map[int]int64{}, soon: map[int]map[int64]int64{}}
}

// add records a restored key.
func (res *replayResult) add(e backup.RDBEntry) {
	res.restored[e.DB]++
	if e.ExpireAt == 0 {
		return
	}
	res.withTTL[e.DB]++
	if e.ExpireAt < res.start.Add(expiryHorizon).UnixMilli() {
		if res.soon[e.DB] == nil {
			res.soon[e.DB] = map[int64]int64{}
		}
		res.soon[e.DB][e.ExpireAt/1000]++
	}
}

// expiredSince returns how many keys restored into db may have expired by
// now (an upper bound).
func (res *replayResult) expiredSince(db int, now time.Time) int64 {
	if res == nil {
		return 0
	}
	if !now.Before(res.start.Add(expiryHorizon)) {
		return res.withTTL[db]
	}
	var n int64
	for sec, k := range res.soon[db] {
		if sec <= now.Unix() {
			n += k
		}
	}
	return n
}

// withTimeout runs f under a context bounded by d.
func withTimeout(ctx context.Context, d time.Duration, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(cctx)
}

// replay flushes the server and loads every key of the RDB file of comp
// (in set setID) with RESTORE ... REPLACE ABSTTL, skipping (and counting)
// the keys already expired. onFlush is called once the flush is done;
// report sends progress against the component's key count. The restore
// and its undo (with the safety backup) both use it.
func (r *redisRestore) replay(ctx context.Context, setID string, comp *backup.Component, onFlush func(), report bool) (*replayResult, error) {
	en := r.en
	f := comp.Files[0]
	fr, err := backup.OpenFile(ctx, en.eng.Backup.Store, setID, f, en.ids)
	if err != nil {
		return nil, fmt.Errorf("open %s of set %s: %w", f.Name, setID, err)
	}
	defer fr.Close()
	client, err := redis.NewClient(r.url, redisCallTimeout)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	conn := client.Conn()
	defer conn.Close()

	err = withTimeout(ctx, redisCallTimeout, func(ctx context.Context) error { return conn.FlushAll(ctx).Err() })
	var refused goredis.Error
	if err != nil && errors.As(err, &refused) {
		return nil, fmt.Errorf("FLUSHALL: %w — nothing was flushed (the ACL user needs +flushall, and the command must not be renamed)", redis.Wrap(client, err))
	}
	// Without an answer the flush may have happened: the undo must run.
	if onFlush != nil {
		onFlush()
	}
	if err != nil {
		return nil, fmt.Errorf("FLUSHALL: %w", redis.Wrap(client, err))
	}
	if report {
		en.note("FLUSHALL done: every database of %s is empty", r.server)
	}

	res := newReplayResult(time.Now())
	total := totalKeys(comp.Redis.Keys)
	var done int64
	b := &restoreBatch{conn: conn, client: client}
	send := func() error {
		if err := b.send(ctx); err != nil {
			return err
		}
		if report {
			en.advance(done, total, false)
		}
		return nil
	}
	sum, err := backup.ReadRDBEntries(fr, func(e backup.RDBEntry) error {
		done++
		if e.Expired(time.Now()) {
			res.expired[e.DB]++
			return nil
		}
		res.add(e)
		b.add(e)
		if len(b.entries) >= replayBatchKeys || b.bytes >= replayBatchBytes {
			return send()
		}
		return nil
	})
	if err == nil {
		err = send()
	}
	if err == nil {
		// The walk stops at the RDB's end: read on to the end of the
		// stored file so that its SHA-256 is compared with the manifest.
		_, err = io.Copy(io.Discard, fr)
	}
	if err != nil {
		if errors.Is(err, backup.ErrRDB) || errors.Is(err, backup.ErrChecksum) {
			return res, fmt.Errorf("%s of set %s is damaged after %d keys: %w", f.Name, setID, done, err)
		}
		return res, err
	}
	if !maps.Equal(sum.Keys, comp.Redis.Keys) {
		return res, fmt.Errorf("%s holds %s, the manifest of set %s says %s — the set is inconsistent: pick another one",
			f.Name, countsText(sum.Keys), setID, countsText(comp.Redis.Keys))
	}
	return res, nil
}

// restoreBatch is the RESTOREs of one pipeline.
type restoreBatch struct {
	conn    *goredis.Conn
	client  *goredis.Client
	entries []backup.RDBEntry
	bytes   int
}

func (b *restoreBatch) add(e backup.RDBEntry) {
	b.entries = append(b.entries, e)
	b.bytes += len(e.Key) + len(e.Payload)
}

// send runs the batch in one pipeline: a SELECT before the first key and
// wherever the database changes, then RESTORE key expiry payload REPLACE
// ABSTTL for each key.
func (b *restoreBatch) send(ctx context.Context) error {
	if len(b.entries) == 0 {
		return nil
	}
	keys := make([]*backup.RDBEntry, 0, len(b.entries)+1) // per command: nil for a SELECT
	err := withTimeout(ctx, redisCallTimeout, func(ctx context.Context) error {
		cmds, err := b.conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
			db := -1
			for i := range b.entries {
				e := &b.entries[i]
				if e.DB != db {
					p.Select(ctx, e.DB)
					keys = append(keys, nil)
					db = e.DB
				}
				p.Do(ctx, "RESTORE", e.Key, e.ExpireAt, e.Payload, "REPLACE", "ABSTTL")
				keys = append(keys, e)
			}
			return nil
		})
		for i, c := range cmds {
			if c.Err() == nil || i >= len(keys) {
				continue
			}
			if keys[i] == nil {
				return fmt.Errorf("SELECT: %w — the server has fewer databases than the backup uses: raise its databases setting", redis.Wrap(b.client, c.Err()))
			}
			return restoreErr(b.client, keys[i], c.Err())
		}
		if err != nil {
			return redis.Wrap(b.client, err)
		}
		return nil
	})
	b.entries, b.bytes = b.entries[:0], 0
	return err
}

// restoreErr explains a refused RESTORE.
func restoreErr(client *goredis.Client, e *backup.RDBEntry, err error) error {
	key := e.Key
	if len(key) > 80 {
		key = key[:80] + "…"
	}
	msg := err.Error()
	advice := ""
	switch {
	case strings.Contains(msg, "payload version or checksum"):
		advice = " — the server reads an older RDB version than the backup's: restore into a Redis at least as new as the one backed up"
	case strings.HasPrefix(msg, "OOM"):
		advice = " — the data does not fit in maxmemory: raise maxmemory and restore again"
	case strings.Contains(msg, "Bad data format"):
		advice = " — the server cannot read this value (a module type, or a newer encoding)"
	}
	return fmt.Errorf("RESTORE of %q in db %d: %w%s", key, e.DB, redis.Wrap(client, err), advice)
}

// countsText lists keys per database: "db0 120, db1 40".
func countsText(keys map[int]int64) string {
	if len(keys) == 0 {
		return "no keys"
	}
	var parts []string
	for _, db := range slices.Sorted(maps.Keys(keys)) {
		parts = append(parts, fmt.Sprintf("db%d %d", db, keys[db]))
	}
	return strings.Join(parts, ", ")
}

// verifyCounts compares DBSIZE of every database with the keys a replay
// should have left: want (the manifest's) less those skipped as expired.
// Keys restored with an expiry that has passed since may be gone; any
// other difference fails, and so does a key in a database the backup
// does not have.
func (r *redisRestore) verifyCounts(ctx context.Context, want map[int]int64, res *replayResult) error {
	en := r.en
	client, err := redis.NewClient(r.url, en.cfg().Timeouts.Connect)
	if err != nil {
		return err
	}
	defer client.Close()
	conn := client.Conn()
	defer conn.Close()

	got := map[int]int64{}
	err = withTimeout(ctx, en.cfg().Timeouts.Check, func(ctx context.Context) error {
		snap, err := redis.TakeSnapshot(ctx, client)
		if err != nil {
			return err
		}
		dbs := slices.Collect(maps.Keys(want))
		for _, k := range snap.Keyspace {
			if !slices.Contains(dbs, k.DB) {
				dbs = append(dbs, k.DB)
			}
		}
		slices.Sort(dbs)
		sizes := map[int]*goredis.IntCmd{}
		if _, err := conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, db := range dbs {
				p.Select(ctx, db)
				sizes[db] = p.DBSize(ctx)
			}
			return nil
		}); err != nil {
			return redis.Wrap(client, err)
		}
		for db, c := range sizes {
			got[db] = c.Val()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count the keys: %w", err)
	}

	now := time.Now()
	var bad []string
	for _, db := range slices.Sorted(maps.Keys(got)) {
		var skipped int64
		if res != nil {
			skipped = res.expired[db]
		}
		expect := want[db] - skipped
		gone := res.expiredSince(db, now)
		n := got[db]
		line := fmt.Sprintf("db%d: %d keys, the backup has %d", db, n, want[db])
		if skipped > 0 {
			line += fmt.Sprintf(" (%d skipped as expired)", skipped)
		}
		switch {
		case n == expect:
			en.note("%s", line)
		case n < expect && n >= expect-gone:
			en.note("%s; %d restored with a TTL expired since", line, expect-n)
		case n > expect:
			bad = append(bad, fmt.Sprintf("%s: %d more than restored — something wrote to Redis during the restore (stop the application first)", line, n-expect))
		default:
			bad = append(bad, fmt.Sprintf("%s: %d missing", line, expect-n))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("key counts differ from the backup: %s", strings.Join(bad, "; "))
	}
	return nil
}
