package backup

import (
	"bytes"
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/runner"
)

// TestCoalesceArchive: a pg_dump -Fc -Z0 of the sandbox database, its
// chunks merged, lists the same entries, counts the same rows, restores
// into a database with the same rows, and is much smaller in chunks.
func TestCoalesceArchive(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	dsn, pw := SplitPassword(sb.Postgres.DSN())
	var dump bytes.Buffer
	if err := (runner.Exec{}).Run(ctx, runner.Cmd{Path: "pg_dump", Args: PgDumpArgs(dsn, ""), Env: PgEnv(pw), Stdout: &dump}); err != nil {
		t.Fatal(err)
	}
	var merged bytes.Buffer
	n, err := CoalesceArchive(&merged, bytes.NewReader(dump.Bytes()), 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(merged.Len()) || merged.Len() >= dump.Len() {
		t.Fatalf("wrote %d (%d) of %d", n, merged.Len(), dump.Len())
	}
	before, err := CountArchive(bytes.NewReader(dump.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	after, err := CountArchive(bytes.NewReader(merged.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("counts differ:\n%v\n%v", before, after)
	}

	dir := t.TempDir()
	orig, coal := filepath.Join(dir, "orig.dump"), filepath.Join(dir, "merged.dump")
	os.WriteFile(orig, dump.Bytes(), 0o600)
	os.WriteFile(coal, merged.Bytes(), 0o600)
	list := func(p string) string {
		out, err := runner.Output(ctx, runner.Exec{}, runner.Cmd{Path: "pg_restore", Args: []string{"--list", p}})
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if !strings.HasPrefix(l, ";") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if list(orig) != list(coal) {
		t.Fatal("pg_restore --list differs")
	}
	admin, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := fmt.Sprintf("coalesce_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	target, _ := SplitPassword(sb.Postgres.DSNFor(db))
	if err := (runner.Exec{}).Run(ctx, runner.Cmd{Path: "pg_restore", Args: []string{"--dbname=" + target, "--jobs=2", "--exit-on-error", coal}, Env: PgEnv(pw)}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, sb.Postgres.DSNFor(db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, tc := range before.Tables {
		var got int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{tc.Schema, tc.Name}.Sanitize()).Scan(&got); err != nil || got != tc.Rows {
			t.Errorf("%s.%s: %d rows, want %d (%v)", tc.Schema, tc.Name, got, tc.Rows, err)
		}
	}
}

func TestCoalesceArchiveCopiesWhatItDoesNotRead(t *testing.T) {
	// A compressed archive's header: copied as it is.
	in := "PGDMP\x01\x0e\x00\x04\x08\x01\x01\x00\x00\x00\x06rest of the archive"
	var out bytes.Buffer
	if _, err := CoalesceArchive(&out, strings.NewReader(in), 1024); err != nil || out.String() != in {
		t.Fatalf("%q %v", out.String(), err)
	}
	if _, err := CoalesceArchive(&out, strings.NewReader("not a dump"), 1024); err == nil {
		t.Fatal("garbage accepted")
	}
}
