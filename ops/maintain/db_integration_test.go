package maintain

import (
	"context"
	"errors"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
)

func deadTupleCount(t *testing.T, table string) int64 {
	t.Helper()
	conn, err := pgx.Connect(accesstest.Admin(t.Context()), sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(accesstest.Admin(context.Background()))
	var n int64
	if err := conn.QueryRow(accesstest.Admin(t.Context()), "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = $1", table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDBDeadTuplesFoundAndVacuumed(t *testing.T) {
	cfg := sandboxConfig(t)
	sqlCleanup(t, "DROP TABLE IF EXISTS maint_dead")
	sql(t,
		"CREATE TABLE maint_dead (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)",
		"INSERT INTO maint_dead SELECT g, md5(g::text) FROM generate_series(1, 50000) g",
		"ANALYZE maint_dead",
		"UPDATE maint_dead SET v = v || 'x' WHERE id % 2 = 0",
		"SELECT pg_stat_force_next_flush()",
	)
	deadline := time.Now().Add(10 * time.Second)
	for deadTupleCount(t, "maint_dead") < 20000 {
		if time.Now().After(deadline) {
			t.Fatal("the statistics never showed the dead tuples")
		}
		time.Sleep(100 * time.Millisecond)
	}
	e := newEngine(t, cfg)
	var events []progress.Event
	rep, err := e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeDB, Progress: func(ev progress.Event) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	f := findingOf(t, rep, "dead tuples", `"public"."maint_dead"`)
	if f.Status != health.Crit || f.Action == nil || f.Action.Kind != ActVacuum || !strings.Contains(f.Summary, "25,000 dead") {
		t.Fatalf("dead tuples finding: %+v", f)
	}
	if rep.DB == nil || len(rep.DB.Upkeep.Tables) < 10 || rep.Status.Severity() < health.Crit.Severity() {
		t.Errorf("report: status %v, detail %+v", rep.Status, rep.DB)
	}
	if len(events) == 0 || events[0].Kind != progress.Start {
		t.Errorf("progress events: %+v", events)
	}
	for _, c := range []string{"connections", "cache hit", "sizes", "bloat", "sessions"} {
		found := false
		for _, x := range rep.Findings {
			found = found || x.Check == c
		}
		if !found {
			t.Errorf("no %q finding", c)
		}
	}

	res := e.Apply(accesstest.Admin(t.Context()), f, nil)
	if !res.OK || !strings.Contains(res.Detail, "→ 0") {
		t.Fatalf("vacuum: %+v", res)
	}
	if n := deadTupleCount(t, "maint_dead"); n != 0 {
		t.Errorf("n_dead_tup = %d after the vacuum", n)
	}
	rep.Record(res)
	if g := findingOf(t, rep, "dead tuples", `"public"."maint_dead"`); g.Status != health.OK || g.Done == "" {
		t.Errorf("finding after the vacuum: %+v", g)
	}
	recs := auditRecords(t, cfg)
	if len(recs) != 1 || recs[0].Action != "maintain.vacuum" || recs[0].Target != `"public"."maint_dead"` || recs[0].Result != audit.ResultOK {
		t.Errorf("audit: %+v", recs)
	}

	// Read-only: the same action is refused, and the refusal audited.
	ro := sandboxConfig(t)
	ro.ReadOnly = true
	res = newEngine(t, ro).Apply(accesstest.Admin(t.Context()), f, nil)
	if res.OK || !res.Refused || !strings.Contains(res.Error, "read-only") {
		t.Errorf("read-only vacuum: %+v", res)
	}
	if recs := auditRecords(t, ro); len(recs) != 1 || recs[0].Result != audit.ResultRefused {
		t.Errorf("read-only audit: %+v", recs)
	}
}

func TestDBLongQueryAndLockWaitCancelled(t *testing.T) {
	cfg := sandboxConfig(t)
	cfg.Maintenance.LongQuery.Warn = 200 * time.Millisecond
	cfg.Maintenance.IdleInTransaction.Warn = 200 * time.Millisecond
	cfg.Maintenance.LockWait.Warn = 200 * time.Millisecond
	sqlCleanup(t, "DROP TABLE IF EXISTS maint_lock")
	sql(t, "CREATE TABLE maint_lock (id int PRIMARY KEY, v int)", "INSERT INTO maint_lock VALUES (1, 0)")
	connect := func() *pgx.Conn {
		c, err := pgx.Connect(accesstest.Admin(t.Context()), sb.Postgres.AppDSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(accesstest.Admin(context.Background())) })
		return c
	}
	sleeper, holder, waiter := connect(), connect(), connect()
	slept := make(chan error, 1)
	go func() {
		_, err := sleeper.Exec(accesstest.Admin(context.Background()), "SELECT pg_sleep(60)")
		slept <- err
	}()
	if _, err := holder.Exec(accesstest.Admin(t.Context()), "BEGIN; UPDATE maint_lock SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(accesstest.Admin(context.Background()), "UPDATE maint_lock SET v = 2 WHERE id = 1")
		waited <- err
	}()
	time.Sleep(600 * time.Millisecond)

	e := newEngine(t, cfg)
	rep, err := e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeDB})
	if err != nil {
		t.Fatal(err)
	}
	pid := func(c *pgx.Conn) string { return "pid " + strconv.Itoa(int(c.PgConn().PID())) }
	long := findingOf(t, rep, "long query", pid(sleeper))
	idle := findingOf(t, rep, "idle in transaction", pid(holder))
	wait := findingOf(t, rep, "lock wait", pid(waiter))
	if long.Action == nil || long.Action.Kind != ActCancel || idle.Action == nil || idle.Action.Kind != ActTerminate {
		t.Fatalf("actions: %+v / %+v", long.Action, idle.Action)
	}
	if wait.Action == nil || wait.Action.Kind != ActTerminate || wait.Action.PID != int(holder.PgConn().PID()) {
		t.Fatalf("the lock wait must point at its blocker: %+v", wait.Action)
	}

	if res := e.Apply(accesstest.Admin(t.Context()), long, nil); !res.OK {
		t.Fatalf("cancel: %+v", res)
	}
	select {
	case err := <-slept:
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
			t.Errorf("the long query ended with %v, want a cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long query was not cancelled")
	}
	if res := e.Apply(accesstest.Admin(t.Context()), wait, nil); !res.OK {
		t.Fatalf("terminate the blocker: %+v", res)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("the waiting update failed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter is still blocked")
	}
	// The same action again: the session is gone, nothing is signalled.
	if res := e.Apply(accesstest.Admin(t.Context()), idle, nil); res.OK || !strings.Contains(res.Error, "gone") {
		t.Errorf("terminating a gone session: %+v", res)
	}
	var actions []string
	for _, r := range auditRecords(t, cfg) {
		actions = append(actions, r.Action+":"+r.Result)
	}
	if strings.Join(actions, " ") != "maintain.cancel:ok maintain.terminate:ok maintain.terminate:error" {
		t.Errorf("audit: %v", actions)
	}
}

func TestActionsCheckTheRole(t *testing.T) {
	cfg := sandboxConfig(t)
	e := newEngine(t, cfg)
	f := Finding{Area: AreaDB, Check: "dead tuples", Object: "t", Action: &Action{Kind: ActVacuum, Schema: "public", Table: "stocks"}}
	viewer := access.WithIdentity(accesstest.Admin(t.Context()), access.Identity{User: "val", Roles: map[string]access.Role{access.AllEnvs: access.Viewer}, SSH: &audit.SSH{User: "val", KeyFingerprint: "SHA256:abc"}})
	res := e.Apply(viewer, f, nil)
	if res.OK || !res.Refused || !strings.Contains(res.Error, "needs the operator role") {
		t.Errorf("a viewer's vacuum: %+v", res)
	}
	operator := access.WithIdentity(accesstest.Admin(t.Context()), access.Identity{User: "otto", Roles: map[string]access.Role{access.AllEnvs: access.Operator}})
	drop := Finding{Area: AreaCleanup, Check: "pre-restore databases", Object: "x", Action: &Action{Kind: ActDropDatabase, Database: "stockdb_pre_20200101_000000"}}
	if res := e.Apply(operator, drop, nil); !res.Refused || !strings.Contains(res.Error, "admin") {
		t.Errorf("an operator's drop: %+v", res)
	}
	if res := e.Apply(operator, f, nil); !res.OK {
		t.Errorf("an operator's vacuum: %+v", res)
	}
	recs := auditRecords(t, cfg)
	if len(recs) != 3 || recs[0].Who != "val" || recs[0].SSH == nil || recs[0].Result != audit.ResultRefused || recs[2].Who != "otto" || recs[2].Result != audit.ResultOK {
		t.Errorf("audit: %+v", recs)
	}
}
