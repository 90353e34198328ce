package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
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
// and store, and returns the config and its path.
func configFile(t *testing.T) (*config.Config, string) {
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
	path := filepath.Join(dir, "opsdeck.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, configPath, stdin string, terminal bool, args ...string) result {
	t.Helper()
	g := &cli.Globals{}
	root := &cobra.Command{Use: "opsdeck", SilenceUsage: true, SilenceErrors: true}
	g.Register(root)
	root.AddCommand(newCommand(g, func() bool { return terminal }))
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	if configPath != "" {
		args = append(args, "--config", configPath)
	}
	root.SetArgs(append([]string{"restore"}, args...))
	err := root.ExecuteContext(accesstest.Admin(t.Context()))
	code, silent := cli.Code(err)
	if err != nil && !silent {
		errb.WriteString(err.Error())
	}
	return result{code, out.String(), errb.String()}
}

func TestUsageErrors(t *testing.T) {
	_, path := configFile(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 3, "say what to restore"},
		{[]string{"everything"}, 3, `unknown restore kind "everything"`},
		{[]string{"database", "latest", "extra"}, 3, "say what to restore"},
		{[]string{"database", "yesterday"}, 3, `"yesterday" is not a backup set ID`},
		{[]string{"database", "20990101_000000"}, 3, "20990101_000000"},
		{[]string{"database"}, 2, "no backup set"},
		{[]string{"database", "-o", "xml"}, 3, `unknown output format "xml"`},
		{[]string{"database", "--to", "yesterday"}, 3, `"yesterday" is not a time`},
		{[]string{"database", "--to-lsn", "somewhere"}, 3, "is not a WAL position"},
		{[]string{"database", "--to", "2026-12-07 09:13:00", "--to-xid", "5"}, 3, "give one target"},
		{[]string{"redis", "--to-xid", "5"}, 3, "restore the database or tables, not redis"},
		{[]string{"table"}, 3, "name the tables to restore"},
		{[]string{"table", "prices"}, 3, "a table restore needs a moment of the WAL archive"},
		{[]string{"merge", "prices"}, 3, "--from COPY"},
		{[]string{"merge"}, 3, "name the tables to merge into"},
		{[]string{"merge", "a", "b", "--from", "c"}, 3, "2 tables and 1 copies: give one --from per table"},
		{[]string{"merge", "a", "--from", "b", "--from", "c"}, 3, "1 tables and 2 copies"},
		{[]string{"merge", "a", "--from", "b", "--confirm-overwrite", "overwrite 2 rows"}, 3, "--confirm-overwrite confirms --overwrite"},
		{[]string{"merge", "a", "--from", "b", "--into", "c"}, 3, "--into is for restore table, not merge"},
		{[]string{"merge", "a", "--from", "b", "--with-dependents"}, 3, "--with-dependents is for restore table, not merge"},
		{[]string{"table", "a", "--to", "latest", "--from", "b"}, 3, "--from is for restore merge, not table"},
		{[]string{"table", "a", "--to", "latest", "--overwrite"}, 3, "--overwrite is for restore merge, not table"},
		{[]string{"table", "a", "--to", "latest", "--with-dependents", "--into", "b"}, 3, "with --with-dependents the copies take their default names"},
		{[]string{"database", "--overwrite"}, 3, "--overwrite is for restore merge, not database"},
		{[]string{"merge", "a", "--from", "a"}, 3, `"public"."a" is named twice`},
		{[]string{"merge", "no_such_table", "--from", "no_such_copy"}, 2, `relation "public.no_such_copy" does not exist`},
		{[]string{"database", "--inclusive=false"}, 3, "--inclusive=false needs a target"},
		{[]string{"database", "--to", "2026-12-07 09:13:00+00:00"}, 2, "the store holds no base backup with a WAL archive"},
	} {
		r := runCmd(t, path, "", true, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: code %d stderr %q, want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}

// TestConfirmationAndDryRun: nothing changes without the typed name, with
// --dry-run, in read-only mode, or without a terminal and --yes; with the
// name typed the restore runs into a new database.
func TestConfirmationAndDryRun(t *testing.T) {
	cfg, path := configFile(t)
	be, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	defer be.Audit.Close()
	if _, err := be.Backup(accesstest.Admin(t.Context()), backup.Options{Kind: backup.Database}); err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("cli_copy_%d", os.Getpid())
	t.Cleanup(func() { dropDatabase(target) })

	r := runCmd(t, path, "", true, "database", "--target-db", target, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "dry run: nothing was changed") || !strings.Contains(r.stdout, "database.swap") {
		t.Fatalf("dry run: %+v", r)
	}
	r = runCmd(t, path, "", true, "database", "--target-db", target, "--dry-run", "-o", "json")
	var plan struct {
		Set    string `json:"set"`
		Checks []struct{ Name string }
		Steps  []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || plan.Set == "" || len(plan.Steps) == 0 {
		t.Fatalf("json plan: %v %+v", err, r)
	}
	r = runCmd(t, path, "", false, "database", "--target-db", target)
	if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("no terminal: %+v", r)
	}
	r = runCmd(t, path, "stockdb\n", true, "database", "--target-db", target)
	if r.code != 2 || !strings.Contains(r.stderr, "not confirmed") {
		t.Fatalf("wrong name: %+v", r)
	}
	r = runCmd(t, path, "", true, "database", "--target-db", target, "--yes", "--read-only")
	if r.code != 2 || !strings.Contains(r.stderr, "read-only") {
		t.Fatalf("read-only: %+v", r)
	}
	if exists(t, target) {
		t.Fatal("a refused restore created the database")
	}
	r = runCmd(t, path, target+"\n", true, "database", "--target-db", target, "--no-safety-backup")
	if r.code != 0 || !strings.Contains(r.stdout, "ok: restored database") || !strings.Contains(r.stdout, "report: ") {
		t.Fatalf("restore: %+v", r)
	}
	if !exists(t, target) {
		t.Fatal("the restored database is missing")
	}
	if strings.Contains(r.stdout+r.stderr, sb.Postgres.Password) {
		t.Fatal("the password was printed")
	}
}

func exists(t *testing.T, db string) bool {
	ctx := accesstest.Admin(context.Background())
	c, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", db).Scan(&n)
	return n == 1
}

func dropDatabase(db string) {
	ctx := accesstest.Admin(context.Background())
	c, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		return
	}
	defer c.Close(ctx)
	c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
}

func TestRecoverWithNothingInterrupted(t *testing.T) {
	_, path := configFile(t)
	r := runCmd(t, path, "", false, "recover")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to recover") {
		t.Fatalf("%+v", r)
	}
	r = runCmd(t, path, "", false, "recover", "latest")
	if r.code != 3 {
		t.Fatalf("recover with a set: %+v", r)
	}
}

// TestMergeOverwriteConfirmation: a merge that overwrites changed rows
// shows them and asks a second typed confirmation, on the terminal or as
// --confirm-overwrite with --yes; without it nothing changes.
func TestMergeOverwriteConfirmation(t *testing.T) {
	_, path := configFile(t)
	live, cp := fmt.Sprintf("cm_live_%d", os.Getpid()), fmt.Sprintf("cm_copy_%d", os.Getpid())
	sandboxExec(t, fmt.Sprintf(`CREATE TABLE %[1]s (id int PRIMARY KEY, v text);
CREATE TABLE %[2]s (id int PRIMARY KEY, v text);
INSERT INTO %[2]s VALUES (1, 'a'), (2, 'b'), (3, NULL);
INSERT INTO %[1]s VALUES (2, 'x'), (3, 'y');`, live, cp))
	t.Cleanup(func() {
		sandboxExec(t, fmt.Sprintf("DROP TABLE IF EXISTS %[1]s, %[2]s, %[2]s_merged, %[2]s_overwritten", live, cp))
	})
	args := []string{"merge", live, "--from", cp, "--overwrite"}

	r := runCmd(t, path, "", true, append(args, "--dry-run")...)
	for _, want := range []string{`1 missing row(s) inserted, 2 changed row(s) overwritten`, `(2)  v "x" -> "b"`, `(3)  v "y" -> NULL`, `second confirmation: "overwrite 2 rows"`} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("dry run lacks %q: %+v", want, r)
		}
	}
	r = runCmd(t, path, "", false, append(args, "--yes")...)
	if r.code != 2 || !strings.Contains(r.stderr, `--confirm-overwrite "overwrite 2 rows"`) {
		t.Fatalf("--yes alone: %+v", r)
	}
	r = runCmd(t, path, "", false, append(args, "--yes", "--confirm-overwrite", "overwrite 5 rows")...)
	if r.code != 2 || !strings.Contains(r.stderr, `the overwrite was not confirmed: type "overwrite 2 rows"`) {
		t.Fatalf("a wrong --confirm-overwrite: %+v", r)
	}
	r = runCmd(t, path, live+"\nyes\n", true, args...)
	if r.code != 2 || !strings.Contains(r.stderr, "the overwrite was not confirmed") {
		t.Fatalf("a wrong second answer: %+v", r)
	}
	if got := sandboxValues(t, live); got != "2=x,3=y" {
		t.Fatalf("a refused merge changed the table: %s", got)
	}
	r = runCmd(t, path, live+"\noverwrite 2 rows\n", true, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "ok: restored merge") {
		t.Fatalf("merge: %+v", r)
	}
	if got := sandboxValues(t, live); got != "1=a,2=b,3=" {
		t.Fatalf("after the merge: %s", got)
	}
}

func sandboxExec(t *testing.T, sql string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func sandboxValues(t *testing.T, table string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var s string
	if err := c.QueryRow(ctx, "SELECT string_agg(id || '=' || coalesce(v, ''), ',' ORDER BY id) FROM "+table).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
