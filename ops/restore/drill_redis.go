package restore

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/redistemp"
)

// A Redis drill loads the set's RDB into a temporary redis-server on
// loopback (ops/redistemp, started as the replica of a stand-in master
// so that keys whose TTL passed since the backup load too) and proves it
// by the server's own DEBUG DIGEST against the one opsdeck computed from
// the RDB stream at backup time (backup.DigestRDB); on a mismatch the
// stored file's per-database digests name the databases that differ. A
// set taken before opsdeck recorded digests, or holding values it cannot
// digest (modules, zipmaps), is proven by its key counts per database,
// and says so.

// Proofs of a Redis drill.
const (
	ProofDigest    = "digest"
	ProofKeyCounts = "key counts"
)

// drillRedis is a Redis drill: its set's RDB, the temporary server.
type drillRedis struct {
	en   *env
	comp *backup.Component
	bin  string
	// binErr is a missing redis-server: the drill is refused.
	binErr error
	inst   *redistemp.Instance
	// dir and pid are the server's, for the journal.
	dir string
	pid int
}

// buildRedisDrill makes the steps of a Redis drill.
func (e *Engine) buildRedisDrill(en *env) error {
	plan := en.plan
	comp, ok := plan.Set.Component(backup.Redis)
	if !ok || len(comp.Files) == 0 {
		return fmt.Errorf("backup set %s has no Redis snapshot", plan.SetID)
	}
	dr := &drillRedis{en: en, comp: comp}
	dr.bin, dr.binErr = redistemp.ServerPath("")
	en.redisDrill = dr
	en.components = append(en.components, dr)
	plan.Target.Redis = "a temporary redis-server"
	plan.Steps = append(plan.Steps,
		&Step{
			Name: "drill.redis", Component: backup.Redis,
			Title: "Start a temporary redis-server on 127.0.0.1 loaded from the set's RDB",
			Undo:  "Stop the temporary redis-server and remove its directory",
			do:    dr.start,
			undo:  func(context.Context) error { return dr.remove() },
		},
		&Step{
			Name: "redis.prove", Component: backup.Redis,
			Title: "Compare the server's DEBUG DIGEST (or key counts) with the set's",
			do:    dr.prove,
		})
	return nil
}

func (dr *drillRedis) preflight(context.Context) {
	en := dr.en
	f := dr.comp.Redis
	switch {
	case f == nil || f.Digest == nil:
		en.check(backup.Redis, "proof", health.Warn, fmt.Sprintf("set %s was taken before opsdeck recorded Redis digests: it is proven by its key counts", en.plan.SetID))
	case len(f.Digest.Unsupported) > 0:
		en.check(backup.Redis, "proof", health.Warn, fmt.Sprintf("the set holds values opsdeck does not digest (%s): it is proven by its key counts", strings.Join(f.Digest.Unsupported, ", ")))
	default:
		en.check(backup.Redis, "proof", health.OK, fmt.Sprintf("DEBUG DIGEST of %d database(s)", len(f.Digest.DBs)))
	}
	if dr.binErr != nil {
		en.check(backup.Redis, "server binary", health.Crit, dr.binErr.Error())
	} else {
		en.check(backup.Redis, "server binary", health.OK, dr.bin)
	}
}

// start loads the RDB into the temporary server.
func (dr *drillRedis) start(ctx context.Context) error {
	en := dr.en
	if dr.binErr != nil {
		return &RefusedError{dr.binErr}
	}
	rc, err := backup.OpenFile(ctx, en.eng.Backup.Store, en.plan.SetID, dr.comp.Files[0], en.ids)
	if err != nil {
		return err
	}
	defer rc.Close()
	dbs := 16
	if f := dr.comp.Redis; f != nil {
		for db := range f.Keys {
			dbs = max(dbs, db+1)
		}
	}
	cfg := en.cfg()
	work := cfg.Restore.WorkDirIn(cfg.StateDir)
	inst, err := redistemp.Start(ctx, redistemp.Options{
		Path: dr.bin, BaseDir: work, RDB: rc, Databases: dbs, KeepExpired: true,
		Hooks: redistemp.Hooks{
			Dir:     func(dir string) error { dr.dir = dir; en.persist(); return nil },
			Started: func(pid int) { dr.pid = pid; en.persist() },
		},
	})
	if err != nil {
		return fmt.Errorf("load the set's RDB into a temporary redis-server: %w", err)
	}
	dr.inst = inst
	en.plan.Target.Redis = inst.Addr()
	en.note("temporary redis-server on %s (pid %d, %s)", inst.Addr(), inst.PID(), inst.Dir)
	return en.eng.hook("instance")
}

// remove stops the server and removes its directory; after a kill it
// works from the journal's directory and pid.
func (dr *drillRedis) remove() error {
	if dr.inst != nil {
		err := dr.inst.Remove()
		dr.inst = nil
		if err != nil {
			return fmt.Errorf("remove the temporary redis-server: %w", err)
		}
		dr.en.note("stopped the temporary redis-server and removed %s", dr.dir)
		dr.dir, dr.pid = "", 0
		dr.en.persist()
		return nil
	}
	if dr.pid > 0 && dr.dir != "" {
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", dr.pid)); err == nil && cwd == dr.dir {
			_ = syscall.Kill(dr.pid, syscall.SIGKILL)
			for range 50 {
				if syscall.Kill(dr.pid, 0) != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if dr.dir != "" {
		if err := os.RemoveAll(dr.dir); err != nil {
			return fmt.Errorf("remove the temporary redis-server's directory %s: %w", dr.dir, err)
		}
		dr.en.note("removed the temporary redis-server's directory %s", dr.dir)
	}
	dr.dir, dr.pid = "", 0
	dr.en.persist()
	return nil
}

// prove compares the loaded server with the set: its DEBUG DIGEST with
// the recorded one, and its keys per database with the recorded counts.
func (dr *drillRedis) prove(ctx context.Context) error {
	en, f := dr.en, dr.comp.Redis
	res := en.drillPart(Redis)
	got, err := dr.keyCounts(ctx)
	if err != nil {
		return err
	}
	for _, n := range got {
		res.Rows += n
	}
	if f == nil {
		res.Proof = ProofKeyCounts
		en.note("the set records no key counts: loaded, not compared")
		return nil
	}
	res.Tables = len(f.Keys)
	var differ []string
	for _, db := range slices.Sorted(maps.Keys(unionDBs(f.Keys, got))) {
		if f.Keys[db] != got[db] {
			differ = append(differ, fmt.Sprintf("db%d (%d keys, the set recorded %d)", db, got[db], f.Keys[db]))
		}
	}
	if f.Digest == nil || len(f.Digest.Unsupported) > 0 {
		res.Proof = ProofKeyCounts
		en.note("proven by key counts only: the set records no digest it can be compared with")
		if len(differ) > 0 {
			res.Differ = differ
			return fmt.Errorf("the loaded server's keys differ from the set's: %s", strings.Join(differ, "; "))
		}
		return nil
	}
	res.Proof = ProofDigest
	c := dr.inst.Client(0)
	defer c.Close()
	digest, err := c.Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		return fmt.Errorf("DEBUG DIGEST on the temporary server: %w", err)
	}
	if digest == f.Digest.Dataset && len(differ) == 0 {
		en.note("DEBUG DIGEST %s, as recorded at backup time", digest)
		return nil
	}
	// Which databases: the stored file's own digests against the recorded.
	named, ferr := dr.fileDiffer(ctx)
	switch {
	case ferr != nil:
		en.note("could not digest the stored RDB to name the databases: %v", ferr)
	case len(named) > 0:
		differ = append(differ, named...)
	default:
		differ = append(differ, "the stored RDB digests as recorded, the loaded server does not: see the server log in the report")
	}
	res.Differ = differ
	return fmt.Errorf("the loaded server's DEBUG DIGEST is %s, the set recorded %s: %s", digest, f.Digest.Dataset, strings.Join(differ, "; "))
}

// keyCounts are the loaded server's keys per database.
func (dr *drillRedis) keyCounts(ctx context.Context) (map[int]int64, error) {
	c := dr.inst.Client(0)
	defer c.Close()
	info, err := c.Info(ctx, "keyspace").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO keyspace on the temporary server: %w", err)
	}
	out := map[int]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		var db int
		var keys int64
		if n, _ := fmt.Sscanf(strings.TrimSpace(line), "db%d:keys=%d", &db, &keys); n == 2 {
			out[db] = keys
		}
	}
	return out, nil
}

// fileDiffer names the databases whose digest in the stored RDB is not
// the recorded one and, when the set recorded its key buckets, the keys
// (backup.DigestRDBAgainst).
func (dr *drillRedis) fileDiffer(ctx context.Context) ([]string, error) {
	en := dr.en
	rc, err := backup.OpenFile(ctx, en.eng.Backup.Store, en.plan.SetID, dr.comp.Files[0], en.ids)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	rec := dr.comp.Redis.Digest
	d, _, keys, err := backup.DigestRDBAgainst(rc, rec, maxDifferKeys)
	if err != nil {
		return nil, err
	}
	return append(backup.DigestsDiffer(rec.DBs, d.DBs), keys...), nil
}

// maxDifferKeys is how many differing keys a Redis drill names.
const maxDifferKeys = 20

func unionDBs(a, b map[int]int64) map[int]bool {
	out := map[int]bool{}
	for db, n := range a {
		if n != 0 {
			out[db] = true
		}
	}
	for db, n := range b {
		if n != 0 {
			out[db] = true
		}
	}
	return out
}
