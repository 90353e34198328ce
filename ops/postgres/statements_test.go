package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestDatabaseOf(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"", ""},
		{"postgres://u:p@db:5432/stockdb?sslmode=disable", "stockdb"},
		{"host=db user=u dbname='my db' password=secret", "my db"},
		{"postgres://u:p@db:port/x", ""}, // does not parse
	} {
		if got := postgres.DatabaseOf(tc.dsn); got != tc.want {
			t.Errorf("DatabaseOf(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}

// TestServerAndTableReads runs the read helpers on each kind of Querier:
// a pool, a connection and a transaction.
func TestServerAndTableReads(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	pool := connect(t, server.DSN())
	conn, err := pgx.Connect(ctx, server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())

	for name, q := range map[string]postgres.Querier{"pool": pool, "tx": tx} {
		s, err := postgres.ServerVersion(ctx, q)
		if err != nil || s.VersionNum < 100000 || !strings.HasPrefix(s.Version, "1") || s.Database != sandbox.PostgresDatabase {
			t.Errorf("%s: ServerVersion = %+v, %v", name, s, err)
		}
	}

	id, err := postgres.ExportSnapshot(ctx, tx)
	if err != nil || id == "" {
		t.Fatalf("ExportSnapshot = %q, %v", id, err)
	}
	tables, err := postgres.ListTables(ctx, tx)
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	for _, want := range sandbox.PostgresSeedTables {
		if !slices.Contains(tables, postgres.TableName{Schema: "public", Name: want}) {
			t.Errorf("ListTables = %v, missing public.%s", tables, want)
		}
	}
	n, err := postgres.CountRows(ctx, tx, "public", "stocks")
	var want int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM stocks").Scan(&want); err != nil {
		t.Fatal(err)
	}
	if err != nil || n != want || n == 0 {
		t.Errorf("CountRows(stocks) = %d, %v; want %d", n, err, want)
	}
	if _, err := postgres.CountRows(ctx, pool, "public", `no "such" table`); err == nil {
		t.Error("CountRows of a missing table: no error")
	}
	if size, err := postgres.TablesSize(ctx, tx); err != nil || size <= 0 {
		t.Errorf("TablesSize = %d, %v", size, err)
	}
	if nt, _, err := postgres.EstimateRows(ctx, pool); err != nil || nt < len(sandbox.PostgresSeedTables) {
		t.Errorf("EstimateRows: %d tables, %v", nt, err)
	}
	if dir, err := postgres.DataDirectory(ctx, pool); err != nil || dir != server.DataDir {
		t.Errorf("DataDirectory = %q, %v; want %q", dir, err, server.DataDir)
	}

	// The superuser may do anything; the application role is a plain one.
	if p, err := postgres.CurrentRolePrivileges(ctx, pool); err != nil || !p.Superuser || !p.CreateDB {
		t.Errorf("superuser: CurrentRolePrivileges = %+v, %v", p, err)
	}
	if ok, err := postgres.CanSignalBackends(ctx, pool); err != nil || !ok {
		t.Errorf("superuser: CanSignalBackends = %v, %v", ok, err)
	}
	app := connect(t, server.AppDSN())
	if p, err := postgres.CurrentRolePrivileges(ctx, app); err != nil || p.Superuser || p.CreateDB {
		t.Errorf("%s: CurrentRolePrivileges = %+v, %v", sandbox.PostgresAppUser, p, err)
	}
	if ok, err := postgres.CanSignalBackends(ctx, app); err != nil || ok {
		t.Errorf("%s: CanSignalBackends = %v, %v", sandbox.PostgresAppUser, ok, err)
	}
	if usage, member, err := postgres.RoleMembership(ctx, app, sandbox.PostgresSuperuser); err != nil || usage || member {
		t.Errorf("%s in %s: usage %v member %v, %v", sandbox.PostgresAppUser, sandbox.PostgresSuperuser, usage, member, err)
	}
	if usage, member, err := postgres.RoleMembership(ctx, app, sandbox.PostgresAppUser); err != nil || !usage || !member {
		t.Errorf("%s in itself: usage %v member %v, %v", sandbox.PostgresAppUser, usage, member, err)
	}
}

// TestDatabaseLifecycle creates, closes, empties, renames and drops
// databases the way a restore's swap does.
func TestDatabaseLifecycle(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	admin := connect(t, server.DSNFor("postgres"))
	a, b := `opsdeck_stmt_a`, `opsdeck_stmt "b"`
	t.Cleanup(func() {
		for _, n := range []string{a, b, a + "_x", b + "_x"} {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
		}
	})

	like, err := postgres.ReadDatabaseDetails(ctx, admin, sandbox.PostgresDatabase)
	if err != nil || like.OID == 0 || like.Owner != sandbox.PostgresSuperuser || like.Encoding == "" || like.Bytes <= 0 {
		t.Fatalf("ReadDatabaseDetails(%s) = %+v, %v", sandbox.PostgresDatabase, like, err)
	}
	if _, err := postgres.ReadDatabaseDetails(ctx, admin, "no such database"); !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("ReadDatabaseDetails of a missing database: %v, want pgx.ErrNoRows", err)
	}
	opts := postgres.CreateOptions{Template: "template0", Encoding: like.Encoding, Collate: like.Collate, CType: like.CType, Owner: sandbox.PostgresAppUser}
	for _, n := range []string{a, b} {
		if err := postgres.CreateDatabase(ctx, admin, n, opts); err != nil {
			t.Fatalf("CreateDatabase(%q): %v", n, err)
		}
	}
	if err := postgres.CreateDatabase(ctx, admin, a, opts); err == nil {
		t.Error("CreateDatabase of an existing database: no error")
	}
	got, err := postgres.ReadDatabaseDetails(ctx, admin, b)
	if err != nil || got.Owner != sandbox.PostgresAppUser || got.Encoding != like.Encoding || got.Collate != like.Collate || got.CType != like.CType {
		t.Errorf("ReadDatabaseDetails(%q) = %+v, %v; made like %+v", b, got, err, like)
	}
	oidA, err := postgres.DatabaseOID(ctx, admin, a)
	if err != nil || oidA == 0 {
		t.Fatalf("DatabaseOID(%q) = %d, %v", a, oidA, err)
	}
	if ok, err := postgres.DatabaseExists(ctx, admin, b); err != nil || !ok {
		t.Errorf("DatabaseExists(%q) = %v, %v", b, ok, err)
	}
	if ok, err := postgres.DatabaseExists(ctx, admin, a+"_x"); err != nil || ok {
		t.Errorf("DatabaseExists(%q) = %v, %v", a+"_x", ok, err)
	}

	// Two sessions on a (an autovacuum worker may make three); closed to
	// new ones, then ended.
	for range 2 {
		c, err := pgx.Connect(ctx, server.DSNFor(a))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	if n, err := postgres.CountSessions(ctx, admin, a); err != nil || n < 2 {
		t.Errorf("CountSessions(%q) = %d, %v; want 2", a, n, err)
	}
	if err := postgres.SetAllowConnections(ctx, admin, a, false); err != nil {
		t.Fatalf("SetAllowConnections(false): %v", err)
	}
	if c, err := pgx.Connect(ctx, server.DSNFor(a)); err == nil {
		c.Close(ctx)
		t.Error("a database closed to sessions took one")
	}
	if n, err := postgres.TerminateSessions(ctx, admin, a); err != nil || n < 2 {
		t.Errorf("TerminateSessions(%q) = %d, %v; want 2", a, n, err)
	}
	if n, err := postgres.CountSessions(ctx, admin, a); err != nil || n != 0 {
		t.Errorf("after TerminateSessions: CountSessions = %d, %v", n, err)
	}
	if err := postgres.SetAllowConnections(ctx, admin, a, true); err != nil {
		t.Fatalf("SetAllowConnections(true): %v", err)
	}

	// A failure between the renames undoes the first one.
	renames := []postgres.Rename{{From: a, To: a + "_x"}, {From: b, To: b + "_x"}}
	injected := errors.New("injected")
	calls := 0
	err = postgres.RenameDatabases(ctx, admin, renames, func() error { calls++; return injected })
	if !errors.Is(err, injected) || calls != 1 {
		t.Errorf("RenameDatabases with a failing hook = %v after %d call(s)", err, calls)
	}
	if name, err := postgres.DatabaseName(ctx, admin, oidA); err != nil || name != a {
		t.Errorf("after the rollback, oid %d is %q, %v; want %q", oidA, name, err, a)
	}
	// A database in use is refused, with the server's reason: the reason
	// the restore's swap retries on (the server waits 5 s before it refuses).
	c, err := pgx.Connect(ctx, server.DSNFor(b))
	if err != nil {
		t.Fatal(err)
	}
	err = postgres.RenameDatabases(ctx, admin, renames, nil)
	c.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "rename "+b+" to "+b+"_x: ") || !strings.Contains(err.Error(), "being accessed by other users") {
		t.Errorf("RenameDatabases with a session on %q = %v", b, err)
	}
	if _, err := postgres.TerminateSessions(ctx, admin, b); err != nil {
		t.Fatal(err)
	}
	if err := postgres.RenameDatabases(ctx, admin, renames, nil); err != nil {
		t.Fatalf("RenameDatabases: %v", err)
	}
	if name, err := postgres.DatabaseName(ctx, admin, oidA); err != nil || name != a+"_x" {
		t.Errorf("oid %d is %q, %v; want %q", oidA, name, err, a+"_x")
	}
	if _, err := postgres.DatabaseOID(ctx, admin, a); !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("DatabaseOID of the old name: %v, want pgx.ErrNoRows", err)
	}
	for _, r := range renames {
		if err := postgres.DropDatabase(ctx, admin, r.To); err != nil {
			t.Errorf("DropDatabase(%q): %v", r.To, err)
		}
	}
}
