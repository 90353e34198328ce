package maintain

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

var now = time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(-d); return &t }

// find returns the findings of a check.
func find(fs []Finding, check string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func snapshot() postgres.Snapshot {
	s := postgres.Snapshot{Server: postgres.ServerInfo{Database: "stockdb", Version: "15.18"}}
	s.Connections = postgres.Connections{Total: 10, Max: 100, SuperuserReserved: 3}
	s.Cache = postgres.CacheStats{BlocksHit: 990, BlocksRead: 10, HitPercent: 99}
	return s
}

func TestDeadTupleFindings(t *testing.T) {
	cfg := config.Default()
	up := postgres.Upkeep{Settings: map[string]string{"autovacuum": "on"}, Tables: []postgres.TableStat{
		{Schema: "public", Name: "quiet", LiveTuples: 1_000_000, DeadTuples: 20_000, LastAutovacuum: at(time.Hour), LastAutoanalyze: at(time.Hour)},
		{Schema: "public", Name: "warm", LiveTuples: 85_000, DeadTuples: 15_000, LastAutoanalyze: at(time.Hour)},
		{Schema: "public", Name: "hot", LiveTuples: 50_000, DeadTuples: 50_000, LastAnalyze: at(48 * time.Hour)},
		{Schema: "public", Name: "tiny", LiveTuples: 10, DeadTuples: 900, LastAnalyze: at(time.Hour)},
		{Schema: "app", Name: "Fresh", LiveTuples: 5000, ModifiedSinceAnalyze: 5000},
	}}
	fs := DBFindings(snapshot(), up, postgres.Sessions{}, cfg, now)
	dead := find(fs, "dead tuples")
	if len(dead) != 2 || dead[0].Object != `"public"."hot"` || dead[0].Status != health.Crit || dead[1].Object != `"public"."warm"` || dead[1].Status != health.Warn {
		t.Fatalf("dead tuples: %+v", dead)
	}
	if a := dead[0].Action; a == nil || a.Kind != ActVacuum || a.Schema != "public" || a.Table != "hot" {
		t.Errorf("action = %+v", a)
	}
	if !strings.Contains(dead[0].Summary, "50.0% dead") || !slices.ContainsFunc(dead[0].Evidence, func(e string) bool { return strings.Contains(e, "last analyze: 48h ago") }) {
		t.Errorf("evidence: %q %q", dead[0].Summary, dead[0].Evidence)
	}
	never := find(fs, "never analyzed")
	if len(never) != 1 || never[0].Object != `"app"."Fresh"` {
		t.Errorf("never analyzed: %+v", never)
	}
	rep := &Report{Findings: fs, DB: &DBDetail{Upkeep: up}}
	if got := VacuumTargets(rep, false); len(got) != 3 {
		t.Errorf("vacuum targets: %d, want hot, warm and the never analyzed table", len(got))
	}
	if got := VacuumTargets(rep, true); len(got) != len(up.Tables) {
		t.Errorf("--all targets: %d, want %d", len(got), len(up.Tables))
	}

	up.Tables = up.Tables[:1]
	fs = DBFindings(snapshot(), up, postgres.Sessions{}, cfg, now)
	if d := find(fs, "dead tuples"); len(d) != 1 || d[0].Status != health.OK || !strings.Contains(d[0].Summary, "none past 10%") {
		t.Errorf("clean tables: %+v", d)
	}
}

func TestIndexFindings(t *testing.T) {
	cfg := config.Default()
	ix := func(name, key string, cols []int, scans, size int64, mut func(*postgres.IndexStat)) postgres.IndexStat {
		i := postgres.IndexStat{Schema: "public", Table: "t", Name: name, Key: key, Columns: cols, Scans: scans, Bytes: size, Method: "btree", Definition: "CREATE INDEX " + name}
		if mut != nil {
			mut(&i)
		}
		return i
	}
	up := postgres.Upkeep{Indexes: []postgres.IndexStat{
		ix("t_pkey", "k1", []int{1}, 0, 50<<20, func(i *postgres.IndexStat) { i.Primary, i.Unique, i.Constraint = true, true, "t_pkey" }),
		ix("t_unused", "k2", []int{3}, 0, 8<<20, nil),
		ix("t_small_unused", "k3", []int{4}, 0, 100<<10, nil),
		ix("t_a", "k4", []int{2}, 10, 4<<20, nil),
		ix("t_a_copy", "k4", []int{2}, 5, 4<<20, nil),
		ix("t_b", "k5", []int{5}, 100, 4<<20, nil),
		ix("t_b_c", "k6", []int{5, 6}, 100, 6<<20, nil),
	}}
	fs := DBFindings(snapshot(), up, postgres.Sessions{}, cfg, now)
	objs := func(check string) []string {
		var out []string
		for _, f := range find(fs, check) {
			out = append(out, f.Object)
		}
		return out
	}
	if got := objs("unused index"); !slices.Equal(got, []string{`"public"."t_unused"`}) {
		t.Errorf("unused: %v (the primary key and the index under 1MiB are not reported)", got)
	}
	if got := objs("duplicate index"); !slices.Equal(got, []string{`"public"."t_a_copy"`}) {
		t.Errorf("duplicates: %v", got)
	}
	if got := objs("redundant index"); !slices.Equal(got, []string{`"public"."t_b"`}) {
		t.Errorf("redundant: %v", got)
	}
	for _, f := range find(fs, "unused index") {
		if !strings.Contains(f.Suggestion, "DROP INDEX CONCURRENTLY") || f.Action != nil {
			t.Errorf("unused index finding: %+v (DDL is suggested, never run)", f)
		}
	}
}

func TestSessionFindings(t *testing.T) {
	cfg := config.Default()
	start := now.Add(-time.Hour)
	sess := postgres.Sessions{CollectedAt: now, List: []postgres.Session{
		{PID: 10, User: "app", State: "active", Query: "SELECT slow()", QueryAge: 15 * time.Minute, BackendStart: start},
		{PID: 11, User: "app", State: "idle in transaction", Query: "UPDATE t SET v = 1", StateAge: 3 * time.Minute, XactAge: 4 * time.Minute, BackendStart: start},
		{PID: 12, User: "app", State: "active", Query: "UPDATE t SET v = 2", QueryAge: 90 * time.Second, BlockedBy: []int{11}, LockWaitStart: at(90 * time.Second), WaitEventType: "Lock"},
		{PID: 13, User: "app", State: "active", Query: "SELECT 1", QueryAge: time.Second},
		{PID: 14, User: "app", State: "idle", Query: "SELECT 1", StateAge: time.Hour},
	}}
	up := postgres.Upkeep{Settings: map[string]string{"idle_in_transaction_session_timeout": "0", "autovacuum": "on", "track_counts": "on"}}
	fs := DBFindings(snapshot(), up, sess, cfg, now)
	long := find(fs, "long query")
	if len(long) != 1 || long[0].Object != "pid 10" || long[0].Status != health.Crit || long[0].Action.Kind != ActCancel || !long[0].Action.BackendStart.Equal(start) {
		t.Errorf("long query: %+v", long)
	}
	idle := find(fs, "idle in transaction")
	if len(idle) != 1 || idle[0].Object != "pid 11" || idle[0].Status != health.Warn || idle[0].Action.Kind != ActTerminate {
		t.Errorf("idle in transaction: %+v", idle)
	}
	wait := find(fs, "lock wait")
	if len(wait) != 1 || wait[0].Object != "pid 12" || wait[0].Status != health.Crit {
		t.Fatalf("lock wait: %+v", wait)
	}
	if a := wait[0].Action; a == nil || a.Kind != ActTerminate || a.PID != 11 {
		t.Errorf("the lock wait's action must end the idle blocker: %+v", a)
	}
	if !slices.ContainsFunc(wait[0].Evidence, func(e string) bool { return strings.Contains(e, "blocked by pid 11") }) {
		t.Errorf("lock wait evidence: %q", wait[0].Evidence)
	}
	if s := find(fs, "setting idle_in_transaction_session_timeout"); len(s) != 1 || !slices.Contains(s[0].Evidence, "pid 11 idle in transaction for 3m") {
		t.Errorf("suggestion from the idle session: %+v", s)
	}
	calm := postgres.Sessions{List: sess.List[3:]}
	fs = DBFindings(snapshot(), up, calm, cfg, now)
	if s := find(fs, "sessions"); len(s) != 1 || s[0].Status != health.OK {
		t.Errorf("calm sessions: %+v", s)
	}
	if s := find(fs, "setting idle_in_transaction_session_timeout"); len(s) != 0 {
		t.Errorf("the timeout is suggested without an idle transaction: %+v", s)
	}
}

func TestDBFindingsNAAndSettings(t *testing.T) {
	cfg := config.Default()
	up := postgres.Upkeep{
		Settings: map[string]string{"autovacuum": "off", "track_counts": "on"},
		Missing:  []postgres.MissingFact{{Fact: postgres.FactBloat, Reason: "permission denied (pg_stats) — grant pg_monitor"}},
	}
	fs := DBFindings(snapshot(), up, postgres.Sessions{}, cfg, now)
	b := find(fs, "bloat")
	if len(b) != 1 || !b[0].NA || !strings.Contains(b[0].Summary, "n/a: permission denied") {
		t.Errorf("bloat without privilege: %+v", b)
	}
	if s := find(fs, "setting autovacuum"); len(s) != 1 || s[0].Status != health.Crit {
		t.Errorf("autovacuum off: %+v", s)
	}
	rep := &Report{Findings: fs}
	rep.finish()
	if rep.Status != health.Crit {
		t.Errorf("status %v", rep.Status)
	}
	// An n/a finding alone never fails a run.
	rep = &Report{Findings: []Finding{b[0], {Area: AreaDB, Check: "x", Status: health.OK}}}
	rep.finish()
	if rep.Status != health.OK {
		t.Errorf("n/a made the run %v", rep.Status)
	}
}

func TestBloatFindings(t *testing.T) {
	cfg := config.Default()
	up := postgres.Upkeep{Bloat: []postgres.TableBloat{
		{Schema: "public", Name: "fat", Pages: 10000, ExpectedPages: 3000, BlockSize: 8192},
		{Schema: "public", Name: "lean", Pages: 10000, ExpectedPages: 9500, BlockSize: 8192},
		{Schema: "public", Name: "small", Pages: 100, ExpectedPages: 10, BlockSize: 8192},
	}}
	fs := find(DBFindings(snapshot(), up, postgres.Sessions{}, cfg, now), "bloat")
	if len(fs) != 1 || fs[0].Object != `"public"."fat"` || fs[0].Status != health.Crit || !strings.Contains(fs[0].Summary, "70%") {
		t.Errorf("bloat: %+v", fs)
	}
}

func TestReportRecord(t *testing.T) {
	f := Finding{Area: AreaDB, Check: "dead tuples", Status: health.Crit, Object: "t", Action: &Action{Kind: ActVacuum, Schema: "public", Table: "t"}}
	rep := &Report{Findings: []Finding{f, {Area: AreaDB, Check: "other", Status: health.Warn}}}
	rep.finish()
	if rep.Status != health.Crit || len(rep.PendingActions()) != 1 {
		t.Fatalf("before: %v, %d pending", rep.Status, len(rep.PendingActions()))
	}
	rep.Record(ActionResult{Action: *f.Action, FindingKey: f.Key(), OK: true, Detail: "vacuumed"})
	if rep.Status != health.Warn || len(rep.PendingActions()) != 0 || rep.Findings[0].Done == "" && rep.Findings[1].Done == "" {
		t.Errorf("after success: %v, %+v", rep.Status, rep.Findings)
	}
	rep.Record(ActionResult{Action: Action{Kind: ActCancel}, FindingKey: "none", Error: "boom"})
	if rep.Status != health.Warn || len(rep.Actions) != 2 {
		t.Errorf("after a failed action: %v", rep.Status)
	}
}
