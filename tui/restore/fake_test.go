package restore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// fakeEngine is the tab's engine in the model tests: a fixed catalog,
// plans made from the options, and a run that emits what the test feeds it.
type fakeEngine struct {
	mu       sync.Mutex
	sets     []backup.Set
	prepared []oprestore.Options
	runs     int
	runCtx   context.Context
	// crit adds a critical preflight check.
	crit bool
	// feed is what Run emits, until the test closes it; report and runErr
	// are what it returns then.
	feed    chan progress.Event
	report  *oprestore.Report
	runErr  error
	ranPlan *oprestore.Plan
	// clock is the tab's clock: the test moves it with the events.
	clock time.Time
	// The point-in-time path: the archive's coverage, what wal find
	// returns (findGate, when set, holds it until closed), the live
	// tables, and a moment the archive does not cover.
	ovs      []backup.WALOverview
	found    *pitr.Found
	findErr  error
	findGate chan struct{}
	finds    int
	tables   []postgres.TableName
	outside  bool
}

// now is the tab's clock.
func (f *fakeEngine) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fakeEngine) setNow(t time.Time) {
	f.mu.Lock()
	f.clock = t
	f.mu.Unlock()
}

func newFake() *fakeEngine {
	return &fakeEngine{sets: catalog(), feed: make(chan progress.Event, 64), clock: tuitest.Now,
		ovs: archive(), found: &pitr.Found{Events: events(), Segments: 214}, tables: liveTables()}
}

func (f *fakeEngine) WALOverviews(context.Context) ([]backup.WALOverview, error) { return f.ovs, nil }

func (f *fakeEngine) Find(ctx context.Context, _ pitr.FindOptions, p progress.Func) (*pitr.Found, error) {
	f.mu.Lock()
	f.finds++
	gate := f.findGate
	f.mu.Unlock()
	if gate != nil {
		p.Emit(progress.Event{Kind: progress.Advance, Op: "find", Step: "wal", Done: 96 << 20, Total: 384 << 20, Bytes: true})
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.found, f.findErr
}

func (f *fakeEngine) Tables(context.Context) ([]postgres.TableName, error) { return f.tables, nil }

func (f *fakeEngine) List(context.Context) ([]backup.Set, error) { return f.sets, nil }

func (f *fakeEngine) Prepare(_ context.Context, o oprestore.Options, p progress.Func) (*oprestore.Plan, error) {
	f.mu.Lock()
	f.prepared = append(f.prepared, o)
	f.mu.Unlock()
	p.Emit(progress.Event{Kind: progress.Advance, Op: "verify", Step: o.ID, Done: 1 << 20, Total: 4 << 20, Bytes: true})
	if o.PointInTime != nil {
		return f.pitPlan(o)
	}
	var set *backup.Manifest
	for _, s := range f.sets {
		if s.ID == o.ID {
			set = s.Manifest
		}
	}
	if set == nil {
		return nil, fmt.Errorf("backup set %s not found", o.ID)
	}
	return plan(o, set, f.crit), nil
}

func (f *fakeEngine) Run(ctx context.Context, p *oprestore.Plan, pf progress.Func) (*oprestore.Report, error) {
	f.mu.Lock()
	f.runs++
	f.runCtx, f.ranPlan = ctx, p
	f.mu.Unlock()
	for ev := range f.feed {
		pf.Emit(ev)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.report, f.runErr
}

// setReport sets what Run returns once the feed is closed.
func (f *fakeEngine) setReport(rep *oprestore.Report, err error) {
	f.mu.Lock()
	f.report, f.runErr = rep, err
	f.mu.Unlock()
}

func (f *fakeEngine) counts() (prepared, runs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.prepared), f.runs
}

// at is a time of the run: sec seconds after ten minutes before the fixed clock.
func at(sec float64) time.Time {
	return tuitest.Now.Add(-10 * time.Minute).Add(time.Duration(sec * float64(time.Second)))
}

// catalog is a store with full, database, config and safety sets.
func catalog() []backup.Set {
	mk := func(id, kind, verify string, tags []string, comps ...string) backup.Set {
		start, _ := time.Parse(backup.IDLayout, id)
		m := &backup.Manifest{Format: 1, ID: id, Kind: kind, Status: backup.StatusOK, Tags: tags, Start: start, End: start.Add(time.Minute)}
		for i, c := range comps {
			failed := strings.HasSuffix(c, "!")
			c = strings.TrimSuffix(c, "!")
			comp := backup.Component{Name: c, Status: backup.StatusOK, Files: []backup.File{{Name: c + ".zst", Size: int64(i+1) * 37 << 20}}}
			if failed {
				comp.Status, comp.Files, m.Status = backup.StatusFailed, nil, backup.StatusPartial
			}
			m.Components = append(m.Components, comp)
		}
		s := backup.Set{ID: id, Manifest: m}
		switch verify {
		case "ok":
			s.Verify = &backup.VerifyResult{ID: id, OK: true, Files: len(comps)}
		case "failed":
			s.Verify = &backup.VerifyResult{ID: id, Problems: []string{"database.zst: sha256 mismatch"}}
		}
		return s
	}
	return []backup.Set{
		mk("20261125_063000", "pre-restore", "", []string{oprestore.PreRestoreTag}, backup.Database, backup.Redis),
		mk("20261125_020000", "full", "ok", nil, backup.Database, backup.Redis, backup.Config, backup.Logs),
		mk("20261124_020000", "database", "ok", nil, backup.Database),
		mk("20261122_020000", "full", "ok", nil, backup.Database, backup.Redis+"!", backup.Config),
		mk("20261120_020000", "database", "failed", nil, backup.Database),
		mk("20261101_020000", "config", "", nil, backup.Config),
	}
}

// plan is what the engine would plan for o: the steps of a database,
// redis, config or full restore with their undo, and the checks.
func plan(o oprestore.Options, set *backup.Manifest, crit bool) *oprestore.Plan {
	p := &oprestore.Plan{Options: o, Set: set, SetID: set.ID, Prepared: tuitest.Now}
	has := func(c string) bool { return o.Kind == c || o.Kind == oprestore.Full }
	p.Checks = append(p.Checks, oprestore.Check{Component: "set", Name: "checksums", Status: health.OK, Detail: "111.0 MiB of database re-read, SHA-256 as in the manifest"},
		oprestore.Check{Component: "set", Name: "store lock", Status: health.OK, Detail: "free"})
	step := func(name, comp, title, undo string) {
		p.Steps = append(p.Steps, &oprestore.Step{Name: name, Component: comp, Title: title, Undo: undo})
	}
	step("preflight", "set", "Check the set, the targets and the free space again", "")
	if !o.NoSafetyBackup && (has(oprestore.Database) || has(oprestore.Redis)) {
		step("safety-backup", "set", "Back up the current database (a set tagged pre-restore)", "")
	}
	if has(oprestore.Config) {
		p.Components = append(p.Components, oprestore.Config)
		p.Target.Namespaces = []string{"stockapp"}
		step("config.apply", "config", "Create the 2 missing objects of namespace stockapp (server-side apply)", "Delete the objects created")
		p.Objects = []oprestore.ObjectChange{
			{Kind: "ConfigMap", Namespace: "stockapp", Name: "app-config", Action: oprestore.ObjectCreate},
			{Kind: "Deployment", Namespace: "stockapp", Name: "worker", Action: oprestore.ObjectSkip, Fields: []string{"spec.replicas", "spec.template.spec.containers[0].image"}},
			{Kind: "Service", Namespace: "stockapp", Name: "api", Action: oprestore.ObjectUnchanged},
			{Kind: "Secret", Namespace: "stockapp", Name: "db-credentials", Action: oprestore.ObjectCreate},
		}
		p.Checks = append(p.Checks, oprestore.Check{Component: "config", Name: "dry run", Status: health.OK, Detail: "4 objects: 2 create, 1 skip, 1 unchanged"})
	}
	if has(oprestore.Database) {
		db := o.TargetDB
		if db == "" {
			db = "stockdb"
		}
		p.Components = append(p.Components, oprestore.Database)
		p.Target.Database, p.Target.Postgres = db, "10.0.0.5:5432"
		p.Checks = append(p.Checks, oprestore.Check{Component: "database", Name: "pg_restore", Status: health.OK, Detail: "pg_restore 15.18 reads the dump of PostgreSQL 15.18"},
			oprestore.Check{Component: "database", Name: "free disk", Status: health.Warn, Detail: "2.1 GiB free in the work dir, the dump needs 1.4 GiB: tight"})
		step("database.restore", "database", "Restore the dump into "+db+"_restore_"+set.ID+" with pg_restore --jobs 2", "Drop "+db+"_restore_"+set.ID)
		step("writers.down", "writers", "Scale stockapp/worker and stockapp/scheduler to 0", "Scale them back to their replicas")
		step("database.swap", "database", "Rename "+db+" to "+db+"_pre_<time> and the restored one to "+db, "Rename them back")
	}
	if has(oprestore.Redis) {
		p.Components = append(p.Components, oprestore.Redis)
		p.Target.Redis = "10.0.0.6:6379"
		step("redis.restore", "redis", "Flush every database of Redis at 10.0.0.6:6379 (FLUSHALL) and load the 9114 keys", "Flush Redis again and load the safety backup's keys back")
	}
	if has(oprestore.Database) {
		step("writers.up", "writers", "Scale the writers back", "")
	}
	step("post-checks", "set", "Run the health checks of the restored targets", "")
	if crit {
		p.Checks = append(p.Checks, oprestore.Check{Component: "set", Name: "store lock", Status: health.Crit, Detail: "held by backup full (alice, since 08:12) — wait for it to finish"})
	}
	switch {
	case p.Target.Database != "":
		p.Confirm = p.Target.Database
	case p.Target.Redis != "":
		p.Confirm = "flushall"
	default:
		p.Confirm = "stockapp"
	}
	return p
}
