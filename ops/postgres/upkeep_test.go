package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// exec runs statements on the shared server as the superuser.
func exec(t *testing.T, sql ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range sql {
		if _, err := conn.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// cleanup runs statements when the test ends, ignoring errors.
func cleanup(t *testing.T, sql ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server.DSN())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		for _, s := range sql {
			_, _ = conn.Exec(ctx, s)
		}
	})
}

func TestReadUpkeep(t *testing.T) {
	requireServer(t)
	cleanup(t, "DROP INDEX IF EXISTS stocks_sector_dup_idx")
	exec(t, "CREATE INDEX stocks_sector_dup_idx ON stocks (sector)")
	pool := connect(t, server.DSN())
	u, err := postgres.ReadUpkeep(t.Context(), pool, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Missing) > 0 {
		t.Fatalf("missing as superuser: %+v", u.Missing)
	}
	tables := map[string]postgres.TableStat{}
	for _, ts := range u.Tables {
		tables[ts.Name] = ts
	}
	for _, name := range sandbox.PostgresSeedTables {
		ts, ok := tables[name]
		if !ok {
			t.Errorf("table %s missing", name)
			continue
		}
		if ts.Schema != "public" || ts.TotalBytes <= 0 || ts.TotalBytes < ts.TableBytes+ts.IndexBytes-8192 {
			t.Errorf("%s: %+v", name, ts)
		}
	}
	if dp := tables["daily_prices"]; dp.LiveTuples < 4000 || dp.LastAnalyzed() == nil {
		t.Errorf("daily_prices = %+v, want ≥ 4000 live tuples and analyzed by the seed", dp)
	}
	keys := map[string][]string{}
	for _, ix := range u.Indexes {
		keys[ix.Key] = append(keys[ix.Key], ix.Name)
		if ix.Name == "stocks_pkey" && (!ix.Primary || ix.Constraint != "stocks_pkey" || ix.Method != "btree") {
			t.Errorf("stocks_pkey = %+v", ix)
		}
	}
	found := false
	for _, names := range keys {
		if strings.Join(names, ",") == "stocks_sector_dup_idx,stocks_sector_idx" {
			found = true
		}
	}
	if !found {
		t.Errorf("the duplicate of stocks_sector_idx does not share its key: %v", keys)
	}
	if len(u.Bloat) == 0 {
		t.Error("no bloat estimates")
	}
	for _, b := range u.Bloat {
		if b.Name == "daily_prices" && (b.ExpectedPages <= 0 || b.BloatPercent() > 50) {
			t.Errorf("daily_prices bloat estimate %+v (%.0f%%) is off for a freshly loaded table", b, b.BloatPercent())
		}
	}
	if u.Settings["autovacuum"] != "on" || u.Settings["shared_buffers"] == "" {
		t.Errorf("settings = %v", u.Settings)
	}
}

func TestReadUpkeepAsOrdinaryRole(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.AppDSN())
	u, err := postgres.ReadUpkeep(t.Context(), pool, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The application role sees the tables it may use; nothing is refused.
	if len(u.Tables) == 0 {
		t.Errorf("no tables for the application role: %+v", u)
	}
}

// deadTuples makes a table with n rows, updates them all and waits until
// the statistics show the dead tuples.
func deadTuples(t *testing.T, table string, n int) {
	t.Helper()
	cleanup(t, "DROP TABLE IF EXISTS "+table)
	exec(t,
		"CREATE TABLE "+table+" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)",
		"INSERT INTO "+table+" SELECT g, md5(g::text) FROM generate_series(1, "+strconv.Itoa(n)+") g",
		"UPDATE "+table+" SET v = v || 'x'",
		"SELECT pg_stat_force_next_flush()",
	)
	pool := connect(t, server.DSN())
	deadline := time.Now().Add(10 * time.Second)
	for {
		var dead int64
		if err := pool.QueryRow(t.Context(), "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = $1", table).Scan(&dead); err != nil {
			t.Fatal(err)
		}
		if dead >= int64(n)*9/10 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s shows %d dead tuples after updating %d rows", table, dead, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestVacuumRemovesDeadTuplesWithProgress(t *testing.T) {
	requireServer(t)
	deadTuples(t, "vacuum_me", 200000)
	// A cost delay keeps the vacuum running for about a second, so that
	// the progress view is sampled however loaded the machine is.
	sep := "?"
	if strings.Contains(server.DSN(), "?") {
		sep = "&"
	}
	pool := connect(t, server.DSN()+sep+"vacuum_cost_delay=1&vacuum_cost_limit=10")
	var mu sync.Mutex
	var seen []postgres.VacuumProgress
	res, err := postgres.Vacuum(t.Context(), pool, "public", "vacuum_me", postgres.VacuumOptions{
		Analyze:   true,
		PollEvery: 5 * time.Millisecond,
		Progress: func(p postgres.VacuumProgress) {
			mu.Lock()
			seen = append(seen, p)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeadBefore < 180000 || res.DeadAfter != 0 || res.Skipped != "" {
		t.Errorf("vacuum: %+v, want ≥ 180000 dead before and none after", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("no progress reported")
	}
	for _, p := range seen {
		if p.Table != "vacuum_me" || p.Phase == "" || p.Fraction() < 0 || p.Fraction() > 1 {
			t.Errorf("progress %+v", p)
		}
	}
	var analyzed *time.Time
	if err := pool.QueryRow(t.Context(), "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'vacuum_me'").Scan(&analyzed); err != nil || analyzed == nil {
		t.Errorf("ANALYZE did not run: %v %v", analyzed, err)
	}
}

func TestVacuumSkipsLockedTable(t *testing.T) {
	requireServer(t)
	cleanup(t, "DROP TABLE IF EXISTS vacuum_locked")
	exec(t, "CREATE TABLE vacuum_locked (id int)")
	holder, err := pgx.Connect(t.Context(), server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	tx, err := holder.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), "LOCK TABLE vacuum_locked IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	pool := connect(t, server.DSN())
	start := time.Now()
	res, err := postgres.Vacuum(t.Context(), pool, "public", "vacuum_locked", postgres.VacuumOptions{LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == "" || time.Since(start) > 5*time.Second {
		t.Errorf("vacuum of a locked table: %+v after %s, want skipped quickly", res, time.Since(start))
	}
	// The pool's connections are usable afterwards, without the lock timeout.
	var lt string
	if err := pool.QueryRow(t.Context(), "SHOW lock_timeout").Scan(&lt); err != nil || lt != "0" {
		t.Errorf("lock_timeout left at %q (%v)", lt, err)
	}
}

func TestVacuumCancel(t *testing.T) {
	requireServer(t)
	deadTuples(t, "vacuum_cancel", 300000)
	pool := connect(t, server.DSN())
	ctx, cancel := context.WithCancel(t.Context())
	var once sync.Once
	_, err := postgres.Vacuum(ctx, pool, "public", "vacuum_cancel", postgres.VacuumOptions{
		PollEvery: 2 * time.Millisecond,
		Progress:  func(postgres.VacuumProgress) { once.Do(cancel) },
	})
	if err == nil {
		t.Skip("the VACUUM finished before the cancel reached it")
	}
	if !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("err = %v, want cancelled", err)
	}
	// Nothing runs on the server any more.
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'vacuum_cancel'::regclass").Scan(&n); err != nil || n != 0 {
		t.Errorf("vacuum still running: %d (%v)", n, err)
	}
}

func TestSessionsLongQueryAndCancel(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.DSN())
	slow, err := pgx.Connect(t.Context(), server.AppDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := slow.Exec(context.Background(), "SELECT pg_sleep(30)")
		done <- err
	}()
	var s postgres.Session
	deadline := time.Now().Add(5 * time.Second)
	for {
		ss, err := postgres.ReadSessions(t.Context(), pool, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		if s, ok = ss.ByPID(int(slow.PgConn().PID())); ok && s.State == "active" && s.QueryAge > 200*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sleeping session is not seen as active: %+v", ss)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.User != sandbox.PostgresAppUser || !strings.Contains(s.Query, "pg_sleep") || s.BackendStart.IsZero() {
		t.Errorf("session = %+v", s)
	}
	// A stale backend start is refused: the pid might be another session's now.
	err = postgres.SignalBackend(t.Context(), pool, s.PID, s.BackendStart.Add(-time.Hour), postgres.SignalCancel)
	if !errors.Is(err, postgres.ErrSessionGone) {
		t.Errorf("signal with a stale start: %v, want ErrSessionGone", err)
	}
	if err := postgres.SignalBackend(t.Context(), pool, s.PID, s.BackendStart, postgres.SignalCancel); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
			t.Errorf("cancelled query returned %v, want 57014", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the query was not cancelled")
	}
	if err := postgres.SignalBackend(t.Context(), pool, 999999, time.Time{}, postgres.SignalTerminate); !errors.Is(err, postgres.ErrSessionGone) {
		t.Errorf("signal of a missing pid: %v", err)
	}
}

func TestSessionsLockWaitAndTerminate(t *testing.T) {
	requireServer(t)
	cleanup(t, "DROP TABLE IF EXISTS lock_me")
	exec(t, "CREATE TABLE lock_me (id int PRIMARY KEY, v int)", "INSERT INTO lock_me VALUES (1, 0)")
	holder, err := pgx.Connect(t.Context(), server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	waiter, err := pgx.Connect(t.Context(), server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close(context.Background())
	if _, err := holder.Exec(t.Context(), "BEGIN; UPDATE lock_me SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(context.Background(), "UPDATE lock_me SET v = 2 WHERE id = 1")
		done <- err
	}()
	pool := connect(t, server.DSN())
	hp, wp := int(holder.PgConn().PID()), int(waiter.PgConn().PID())
	var ss postgres.Sessions
	deadline := time.Now().Add(5 * time.Second)
	for {
		ss, err = postgres.ReadSessions(t.Context(), pool, 0)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := ss.ByPID(wp); ok && len(w.BlockedBy) > 0 && w.LockWait(ss.CollectedAt) > 100*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the waiter is not seen blocked: %+v", ss)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w, _ := ss.ByPID(wp)
	h, _ := ss.ByPID(hp)
	if len(w.BlockedBy) != 1 || w.BlockedBy[0] != hp || w.WaitEventType != "Lock" || w.LockWaitStart == nil {
		t.Errorf("waiter = %+v, want blocked by %d", w, hp)
	}
	if h.State != "idle in transaction" || h.StateAge <= 0 || h.XactAge < h.StateAge {
		t.Errorf("holder = %+v", h)
	}
	if err := postgres.SignalBackend(t.Context(), pool, hp, h.BackendStart, postgres.SignalTerminate); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the waiter failed after the holder was terminated: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter is still blocked")
	}
	if ss, err := postgres.ReadSessions(t.Context(), pool, 0); err != nil {
		t.Fatal(err)
	} else if _, ok := ss.ByPID(hp); ok {
		t.Errorf("terminated session %d still listed", hp)
	}
}

func TestSignalNeedsPrivilege(t *testing.T) {
	requireServer(t)
	victim, err := pgx.Connect(t.Context(), server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(context.Background())
	pool := connect(t, server.AppDSN())
	err = postgres.SignalBackend(t.Context(), pool, int(victim.PgConn().PID()), time.Time{}, postgres.SignalTerminate)
	if err == nil || !strings.Contains(err.Error(), "pg_signal_backend") {
		t.Errorf("the application role terminating a superuser session: %v", err)
	}
	if err := victim.Ping(t.Context()); err != nil {
		t.Errorf("the session was hurt: %v", err)
	}
}

func TestMaskQuery(t *testing.T) {
	for in, want := range map[string]string{
		"ALTER ROLE app PASSWORD 'hunter2'":                    "ALTER ROLE app PASSWORD 'xxxxx'",
		"create role x login password 'it''s'":                 "create role x login password 'xxxxx'",
		"SELECT dblink('host=db password=s3cret', 'select 1')": "SELECT dblink('host=db password=xxxxx', 'select 1')",
		"COPY t FROM PROGRAM 'curl https://u:pw1234@h/x'":      "COPY t FROM PROGRAM 'curl https://u:xxxxx@h/x'",
		"SELECT * FROM users WHERE password_hash = 'abc'":      "SELECT * FROM users WHERE password_hash = 'abc'",
	} {
		if got := postgres.MaskQuery(in); got != want {
			t.Errorf("MaskQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
