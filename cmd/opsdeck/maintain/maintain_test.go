package maintain

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

var sb *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	redis.RouteLibraryLogs(nil)
	kube.RouteLibraryLogs(nil)
	return sandbox.RunTests(m, sandbox.Options{Scale: 0}, &sb)
}

// configFile writes a copy of the sandbox's config with its own state dir
// and returns its path.
func configFile(t *testing.T, mutate func(*config.Config)) string {
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
	if mutate != nil {
		mutate(cfg)
	}
	path := filepath.Join(dir, "opsdeck.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs `opsdeck maintain args...` in process, with stdin and a
// terminal or not.
func runCmd(t *testing.T, configPath, stdin string, terminal bool, args ...string) result {
	t.Helper()
	g := &cli.Globals{}
	root := &cobra.Command{Use: "opsdeck", SilenceUsage: true, SilenceErrors: true}
	g.Register(root)
	root.AddCommand(newCommand(g, func() bool { return terminal }, func() bool { return false }))
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	if configPath != "" {
		args = append(args, "--config", configPath)
	}
	root.SetArgs(append([]string{"maintain"}, args...))
	err := root.ExecuteContext(accesstest.Admin(t.Context()))
	code, silent := cli.Code(err)
	if err != nil && !silent {
		errb.WriteString(err.Error())
	}
	return result{code, out.String(), errb.String()}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "which mode?"},
		{[]string{"vacuum"}, `unknown mode "vacuum"`},
		{[]string{"db", "redis"}, "one mode at a time"},
		{[]string{"redis", "--all"}, "--all belongs to maintain db or full, not redis"},
		{[]string{"db", "--resume"}, "--resume belongs to maintain redis or full"},
		{[]string{"db", "--dry-run", "--yes"}, "contradict"},
		{[]string{"db", "--terminate", "0"}, "0 is not a process id"},
		{[]string{"redis", "--max-ops-per-sec", "-7"}, "--max-ops-per-sec -7"},
		{[]string{"db", "-o", "xml"}, `unknown output format "xml"`},
		{[]string{"db", "--config", "/nonexistent/opsdeck.yaml"}, "does not exist"},
	} {
		r := runCmd(t, "", "", false, tc.args...)
		if r.code != 3 {
			t.Errorf("%v: exit %d, want 3", tc.args, r.code)
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: stderr %q, want %q", tc.args, r.stderr, tc.want)
		}
	}
}

func sql(t *testing.T, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func deadTuples(t *testing.T) int64 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(t.Context(), "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'cli_dead'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// plantDeadTuples makes cli_dead with 5,000 dead tuples of 10,000.
func plantDeadTuples(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		if conn, err := pgx.Connect(context.Background(), sb.Postgres.DSN()); err == nil {
			conn.Exec(context.Background(), "DROP TABLE IF EXISTS cli_dead")
			conn.Close(context.Background())
		}
	})
	sql(t, "DROP TABLE IF EXISTS cli_dead",
		"CREATE TABLE cli_dead (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)",
		"INSERT INTO cli_dead SELECT g, 0 FROM generate_series(1, 10000) g", "ANALYZE cli_dead",
		"UPDATE cli_dead SET v = 1 WHERE id % 2 = 0", "SELECT pg_stat_force_next_flush()")
	deadline := time.Now().Add(10 * time.Second)
	for deadTuples(t) < 5000 {
		if time.Now().After(deadline) {
			t.Fatal("no dead tuples in the statistics")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDBActionsNeedConfirmation(t *testing.T) {
	path := configFile(t, nil)
	plantDeadTuples(t)

	// cron without --yes: listed, not done, exit by the findings.
	r := runCmd(t, path, "", false, "db")
	if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") || !strings.Contains(r.stdout, `"public"."cli_dead"`) || deadTuples(t) < 5000 {
		t.Fatalf("no terminal, no --yes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// --dry-run.
	if r := runCmd(t, path, "", true, "db", "--dry-run"); !strings.Contains(r.stderr, "dry run: 1 action(s) not done") || deadTuples(t) < 5000 {
		t.Errorf("dry run: %+v", r)
	}
	// Read-only.
	if r := runCmd(t, path, "y\n", true, "db", "--read-only"); !strings.Contains(r.stderr, "read-only: 1 action(s) not done") || deadTuples(t) < 5000 {
		t.Errorf("read-only: %+v", r)
	}
	// A terminal, the default answer: No.
	if r := runCmd(t, path, "\n", true, "db"); !strings.Contains(r.stdout, "Vacuum these 1 table(s)? [y/N]") && !strings.Contains(r.stderr, "Vacuum these 1 table(s)? [y/N]") || deadTuples(t) < 5000 {
		t.Errorf("answer enter: %+v", r)
	}
	// A terminal, yes: vacuumed, the finding resolved, exit 0.
	r = runCmd(t, path, "y\n", true, "db", "--report", filepath.Join(t.TempDir(), "db.md"))
	if deadTuples(t) != 0 || !strings.Contains(r.stdout, "after the actions: OK") || r.code != 0 {
		t.Errorf("answer y: exit %d, %d dead tuples\n%s\n%s", r.code, deadTuples(t), r.stdout, r.stderr)
	}
}

func TestJSONAndReport(t *testing.T) {
	path := configFile(t, nil)
	plantDeadTuples(t)
	report := filepath.Join(t.TempDir(), "maintenance.md")
	r := runCmd(t, path, "", false, "db", "--yes", "-o", "json", "--report", report)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Mode     string `json:"mode"`
		Status   string `json:"status"`
		Findings []struct {
			Check, Object, Status, Done string
		} `json:"findings"`
		Actions []struct {
			OK bool `json:"ok"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if rep.Mode != "db" || rep.Status != "ok" || len(rep.Actions) != 1 || !rep.Actions[0].OK {
		t.Errorf("report: %+v", rep)
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "# opsdeck maintenance report: db") || !strings.Contains(string(md), "## Actions") {
		t.Errorf("markdown:\n%s", md)
	}
	if st, _ := os.Stat(report); st.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v", st.Mode().Perm())
	}
	// The Markdown report on standard output.
	if r := runCmd(t, path, "", false, "capacity", "--report", "-"); !strings.HasPrefix(r.stdout, "# opsdeck maintenance report: capacity") {
		t.Errorf("--report -: %q", r.stdout)
	}
}

func TestTerminateNeedsAVisibleSession(t *testing.T) {
	path := configFile(t, nil)
	r := runCmd(t, path, "", false, "db", "--terminate", "999999", "--yes")
	if r.code != 3 || !strings.Contains(r.stderr, "no session 999999") {
		t.Errorf("terminate a missing pid: %+v", r)
	}
}

func TestUnreachableTargetsExitCritical(t *testing.T) {
	path := configFile(t, func(c *config.Config) {
		c.Postgres.DSN = "postgres://u:hunter2pw@127.0.0.1:1/db?sslmode=disable"
		c.Redis.URL = "redis://:hunter3pw@127.0.0.1:1/0"
	})
	r := runCmd(t, path, "", false, "full")
	if r.code != 2 || !strings.Contains(r.stdout, "connection refused") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "hunter2pw") || strings.Contains(r.stdout+r.stderr, "hunter3pw") {
		t.Error("a password is printed")
	}
}
