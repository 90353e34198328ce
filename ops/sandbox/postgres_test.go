package sandbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// requirePostgresBinaries skips when OPSDECK_SKIP_INTEGRATION=1 and fails
// loudly when the server binaries are missing.
func requirePostgresBinaries(t *testing.T) {
	t.Helper()
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	if _, err := sandbox.PostgresBinDir(); err != nil {
		t.Fatalf("%v\nrun `make deps` to install the test servers, or set OPSDECK_SKIP_INTEGRATION=1 to skip", err)
	}
}

// startPostgres starts a server for one test and stops it after.
func startPostgres(t *testing.T, opts sandbox.PostgresOptions) *sandbox.PostgresServer {
	t.Helper()
	requirePostgresBinaries(t)
	srv, err := sandbox.StartPostgres(t.Context(), opts)
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return srv
}

func TestPostgresStartConnectStop(t *testing.T) {
	srv := startPostgres(t, sandbox.PostgresOptions{})
	ctx := t.Context()

	for name, dsn := range map[string]string{"superuser": srv.DSN(), "app role": srv.AppDSN()} {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect as %s: %v", name, err)
		}
		var db, user string
		if err := conn.QueryRow(ctx, "SELECT current_database(), current_user").Scan(&db, &user); err != nil {
			t.Fatalf("query as %s: %v", name, err)
		}
		conn.Close(ctx)
		if db != sandbox.PostgresDatabase {
			t.Errorf("%s: database = %q, want %q", name, db, sandbox.PostgresDatabase)
		}
	}

	// The password is required: scram-sha-256, not trust.
	bad := strings.Replace(srv.DSN(), srv.Password, "wrong-password", 1)
	if conn, err := pgx.Connect(ctx, bad); err == nil {
		conn.Close(ctx)
		t.Fatal("connected with a wrong password: authentication is not enforced")
	}

	info, err := os.Stat(srv.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("temp dir mode = %o, want 700", perm)
	}

	// A client stays connected through the shutdown.
	client, err := pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())

	pid := srv.PID()
	if pid == 0 {
		t.Fatal("PID() = 0 for a running server")
	}
	tree := processTree(pid)
	if len(tree) < 3 {
		t.Fatalf("postgres has %d processes; expected the postmaster, its helpers and a backend", len(tree))
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	assertGone(t, tree, srv.Dir)
}

// processTree returns pid and all its descendants, from /proc.
func processTree(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
		if f := strings.Fields(rest); len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		for p, pp := range parent {
			if pp == tree[i] {
				tree = append(tree, p)
			}
		}
	}
	return tree
}

// assertGone checks that none of pids is alive (zombies of ours count as
// gone) and that dir no longer exists.
func assertGone(t *testing.T, pids []int, dir string) {
	t.Helper()
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err == nil && !strings.Contains(string(data), ") Z ") {
			t.Errorf("process %d still runs after Stop: %s", pid, data)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s still exists after Stop (stat: %v)", dir, err)
	}
}

func TestPostgresKillAndRestart(t *testing.T) {
	srv := startPostgres(t, sandbox.PostgresOptions{})
	ctx := t.Context()
	client, err := pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())
	tree := processTree(srv.PID())
	if err := srv.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	assertGone(t, tree, "/nonexistent")
	if _, err := os.Stat(srv.Dir); err != nil {
		t.Errorf("Kill removed the data: %v", err)
	}
	if conn, err := pgx.Connect(ctx, srv.DSN()); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a killed server")
	}
	t0 := time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	t.Logf("restart took %s", time.Since(t0))
	conn, err := pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatalf("connect after Restart: %v", err)
	}
	conn.Close(ctx)
}

func TestPostgresFailedStartCleansUp(t *testing.T) {
	requirePostgresBinaries(t)
	base := t.TempDir()
	for _, dir := range []string{base, filepath.Dir(base)} { // the postgres user must reach into it
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_, err := sandbox.StartPostgres(t.Context(), sandbox.PostgresOptions{
		BaseDir:  base,
		Settings: map[string]string{"shared_buffers": "not-a-size"},
	})
	if err == nil {
		t.Fatal("StartPostgres succeeded with an invalid setting")
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("failed start took %s; it should fail as soon as postgres exits", took)
	}
	if !strings.Contains(err.Error(), "shared_buffers") {
		t.Errorf("error does not quote the server log about shared_buffers:\n%v", err)
	}
	left, _ := filepath.Glob(filepath.Join(base, "*"))
	if len(left) > 0 {
		t.Errorf("failed start left %v behind", left)
	}
}

func TestPostgresSeedScale0(t *testing.T) {
	srv := startPostgres(t, sandbox.PostgresOptions{})
	ctx := t.Context()
	stats, err := sandbox.SeedPostgres(ctx, srv.DSN(), 0)
	if err != nil {
		t.Fatalf("SeedPostgres: %v", err)
	}
	t.Logf("seed scale 0: %+v", stats)
	want := map[string]int64{
		"stocks": 25, "daily_prices": sandbox.PostgresSeedPriceRows(0), "users": 50, "user_sessions": 40,
		"analysis_tasks": 300, "alerts": 60, "notifications": 200, "data_quality_checks": 28,
	}
	for table, n := range want {
		if got := stats.Rows[table]; got != n {
			t.Errorf("%s: %d rows, want %d", table, got, n)
		}
	}
	for _, table := range sandbox.PostgresSeedTables {
		if stats.Rows[table] == 0 {
			t.Errorf("%s is empty", table)
		}
	}
	if stats.FailedTasks != 24 { // 8% of 300
		t.Errorf("FailedTasks = %d, want 24", stats.FailedTasks)
	}
	if stats.BadPriceRows < 1 {
		t.Errorf("BadPriceRows = %d, want some", stats.BadPriceRows)
	}

	// The application role can read what the superuser created.
	app, err := pgx.Connect(ctx, srv.AppDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	var n int64
	if err := app.QueryRow(ctx, "SELECT count(*) FROM daily_prices").Scan(&n); err != nil {
		t.Fatalf("app role cannot read daily_prices: %v", err)
	}

	// The foreign keys hold.
	if _, err := app.Exec(ctx, "INSERT INTO daily_prices (stock_id, trade_date, open, high, low, close, adj_close, volume) VALUES (999999, current_date, 1, 1, 1, 1, 1, 1)"); err == nil {
		t.Error("inserted a price for a stock that does not exist")
	}

	// Seeding twice is refused instead of mixing data.
	if _, err := sandbox.SeedPostgres(ctx, srv.DSN(), 0); err == nil || !strings.Contains(err.Error(), "empty database") {
		t.Errorf("second seed: err = %v, want a refusal", err)
	}
}

func TestPostgresSeedScale1(t *testing.T) {
	if testing.Short() {
		t.Skip("scale 1 seeds 300,000 price rows")
	}
	start := time.Now()
	srv := startPostgres(t, sandbox.PostgresOptions{})
	started := time.Since(start)
	stats, err := sandbox.SeedPostgres(t.Context(), srv.DSN(), 1)
	if err != nil {
		t.Fatalf("SeedPostgres: %v", err)
	}
	t.Logf("StartPostgres %s, SeedPostgres(scale 1) %s: %v", started.Round(time.Millisecond), stats.Took.Round(time.Millisecond), stats.Rows)
	if got := stats.Rows["daily_prices"]; got != 300_000 {
		t.Errorf("daily_prices = %d, want 300000", got)
	}
	if stats.FailedTasks != 1600 {
		t.Errorf("FailedTasks = %d, want 1600", stats.FailedTasks)
	}
}

// BenchmarkPostgresStartAndSeed measures a demo's database: start a server
// and seed it at scale 1.
func BenchmarkPostgresStartAndSeed(b *testing.B) {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		b.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	for b.Loop() {
		srv, err := sandbox.StartPostgres(context.Background(), sandbox.PostgresOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sandbox.SeedPostgres(context.Background(), srv.DSN(), 1); err != nil {
			srv.Stop()
			b.Fatal(err)
		}
		if err := srv.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}
