package maintain

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// sb is the package's one sandbox (tiny data set), nil under
// OPSDECK_SKIP_INTEGRATION=1.
var sb *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	redis.RouteLibraryLogs(nil)
	kube.RouteLibraryLogs(nil)
	return sandbox.RunTests(m, sandbox.Options{Scale: 0}, &sb)
}

// sandboxConfig returns a copy of the sandbox's config with a state dir and
// backup store of the test's own.
func sandboxConfig(t *testing.T) *config.Config {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	cfg, err := config.Load(sb.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Backup.Dir = filepath.Join(dir, "backups")
	return cfg
}

// newEngine returns an engine on cfg, closed after the test.
func newEngine(t *testing.T, cfg *config.Config) *Engine {
	t.Helper()
	log := cfg.OpenAudit()
	e := New(cfg, "test", log)
	t.Cleanup(func() { e.Close(); log.Close() })
	return e
}

// sql runs statements as the sandbox's superuser.
func sql(t *testing.T, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(accesstest.Admin(t.Context()), sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(accesstest.Admin(context.Background()))
	for _, s := range stmts {
		if _, err := conn.Exec(accesstest.Admin(t.Context()), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// sqlCleanup runs statements when the test ends, ignoring errors.
func sqlCleanup(t *testing.T, stmts ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, sb.Postgres.DSN())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		for _, s := range stmts {
			_, _ = conn.Exec(ctx, s)
		}
	})
}

// auditRecords reads the engine's audit log.
func auditRecords(t *testing.T, cfg *config.Config) []audit.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(cfg.StateDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// findingOf returns the finding of check about object, failing the test
// when there is none.
func findingOf(t *testing.T, rep *Report, check, object string) Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Check == check && f.Object == object {
			return f
		}
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Check+" / "+f.Object+" / "+f.StatusText())
	}
	t.Fatalf("no %q finding for %q; findings:\n%q", check, object, got)
	return Finding{}
}

func hasFinding(rep *Report, check, object string) bool {
	for _, f := range rep.Findings {
		if f.Check == check && f.Object == object {
			return true
		}
	}
	return false
}
