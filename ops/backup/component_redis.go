package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/reach"
)

// redisComponent is a Redis snapshot: the RDB the server streams over the
// replication protocol, parsed and CRC-checked on the way in.
type redisComponent struct{}

func (redisComponent) Name() string { return Redis }

func (redisComponent) About(*config.Config) string {
	return "RDB snapshot over the replication protocol, CRC-64 checked"
}

func (redisComponent) Chosen() bool { return true }

func (redisComponent) Restorable() bool { return true }

func (redisComponent) Backup(ctx context.Context, run *ComponentRun) error {
	cfg := run.Config()
	if cfg.Redis.URL == "" {
		return errors.New("no Redis configured — set redis.url")
	}
	tgt, err := reach.Redis(ctx, cfg)
	if err != nil {
		return err
	}
	defer tgt.Close()
	var total atomic.Int64
	tick := run.Advance(&total)
	var sum RDBSummary
	err = run.WriteFile(ctx, "redis.rdb", "rdb", nil, func(w io.Writer) error {
		var err error
		sum, err = SnapshotRDB(ctx, tgt.DSN, w, RDBOptions{
			DialTimeout: cfg.Timeouts.Connect,
			Tick:        func(done, t int64) { total.Store(t); tick(done) },
		})
		return tgt.Explain(err)
	})
	if err != nil {
		return err
	}
	run.Record.Redis = &RedisFacts{Version: sum.Aux["redis-ver"], RDBVersion: sum.Version, Keys: sum.Keys, Expires: sum.Expires, Digest: sum.Digest}
	if sum.ChecksumDisabled {
		run.Record.Warnings = append(run.Record.Warnings, "the server writes RDBs without a checksum (rdbchecksum no): the snapshot could not be checked")
	}
	return nil
}

// Check parses the RDB to its end (its CRC-64 trailer included) and
// compares its keys per database, its version and (when the set recorded
// them) each database's DEBUG DIGEST with the manifest's: a valid RDB of
// another set, or one with a value changed, is not this set's snapshot.
func (redisComponent) Check(_ context.Context, c *ContentCheck) error {
	want := c.Record.Redis
	var rec *RDBDigest
	if want != nil {
		rec = want.Digest
	}
	d, sum, keys, err := DigestRDBAgainst(c.Content, rec, maxCheckKeys)
	if err != nil {
		return err
	}
	if want == nil {
		return nil
	}
	var bad []string
	if want.RDBVersion != 0 && sum.Version != want.RDBVersion {
		bad = append(bad, fmt.Sprintf("RDB version %d, the manifest says %d", sum.Version, want.RDBVersion))
	}
	if d := countsDiffer("keys", want.Keys, sum.Keys); d != "" {
		bad = append(bad, d)
	}
	if d := countsDiffer("keys with a TTL", want.Expires, sum.Expires); d != "" {
		bad = append(bad, d)
	}
	if want.Digest != nil && len(want.Digest.Unsupported) == 0 {
		bad = append(bad, DigestsDiffer(want.Digest.DBs, d.DBs)...)
		bad = append(bad, keys...)
	}
	if len(bad) > 0 {
		return fmt.Errorf("the snapshot does not match its manifest: %s", strings.Join(bad, "; "))
	}
	return nil
}

// maxCheckKeys is how many differing keys a check names.
const maxCheckKeys = 20

// DigestsDiffer names the databases whose DEBUG DIGEST differs from the
// recorded one, in order ("db3's digest is …, the set recorded …").
func DigestsDiffer(want, got map[int]string) []string {
	dbs := map[int]bool{}
	for db := range want {
		dbs[db] = true
	}
	for db := range got {
		dbs[db] = true
	}
	var out []string
	for _, db := range slices.Sorted(maps.Keys(dbs)) {
		if want[db] != got[db] {
			out = append(out, fmt.Sprintf("db%d's digest is %s, the set recorded %s", db, orNone(got[db]), orNone(want[db])))
		}
	}
	return out
}

func orNone(d string) string {
	if d == "" {
		return "none (no keys)"
	}
	return d
}

// countsDiffer names the databases whose counts differ ("" when none).
func countsDiffer(what string, want, got map[int]int64) string {
	dbs := map[int]bool{}
	for db, n := range want {
		if n != 0 {
			dbs[db] = true
		}
	}
	for db, n := range got {
		if n != 0 {
			dbs[db] = true
		}
	}
	var out []string
	for _, db := range slices.Sorted(maps.Keys(dbs)) {
		if want[db] != got[db] {
			out = append(out, fmt.Sprintf("db%d has %d %s, the manifest says %d", db, got[db], what, want[db]))
		}
	}
	return strings.Join(out, "; ")
}
