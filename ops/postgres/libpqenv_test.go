package postgres_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// libpqEnv points libpq's environment at the shared server: PGSERVICE in
// the file PGSERVICEFILE names (host, port, database, user, sslmode) and
// the password in the file PGPASSFILE names, nothing else.
func libpqEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	service := filepath.Join(dir, "pg_service.conf")
	body := fmt.Sprintf("[sandbox]\nhost=127.0.0.1\nport=%d\ndbname=%s\nuser=%s\nsslmode=disable\n",
		server.Port, sandbox.PostgresDatabase, sandbox.PostgresSuperuser)
	pass := filepath.Join(dir, "pgpass")
	line := fmt.Sprintf("127.0.0.1:%d:*:%s:%s\n", server.Port, sandbox.PostgresSuperuser, server.Password)
	if os.WriteFile(service, []byte(body), 0o600) != nil || os.WriteFile(pass, []byte(line), 0o600) != nil {
		t.Fatal("write the service and password files")
	}
	for _, v := range []string{"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGAPPNAME", "PGCONNECT_TIMEOUT"} {
		t.Setenv(v, "")
	}
	t.Setenv("PGSERVICEFILE", service)
	t.Setenv("PGSERVICE", "sandbox")
	t.Setenv("PGPASSFILE", pass)
}

// TestConnectWithLibpqEnvironment: an empty DSN connects through the
// service and password files as pgx reads them; the DSN's own parameters
// win over the service; PGAPPNAME names the sessions.
func TestConnectWithLibpqEnvironment(t *testing.T) {
	requireServer(t)
	libpqEnv(t)
	for _, c := range []struct {
		dsn, wantDB string
	}{
		{"", sandbox.PostgresDatabase},
		{"dbname=postgres", "postgres"},
		{"postgres:///template1", "template1"},
	} {
		pool, err := postgres.Connect(t.Context(), c.dsn, 0)
		if err != nil {
			t.Fatalf("Connect(%q): %v", c.dsn, err)
		}
		var db, user string
		err = pool.QueryRow(t.Context(), "SELECT current_database(), current_user").Scan(&db, &user)
		pool.Close()
		if err != nil || db != c.wantDB || user != sandbox.PostgresSuperuser {
			t.Errorf("Connect(%q): database %q user %q, %v", c.dsn, db, user, err)
		}
		if got := postgres.DatabaseOf(c.dsn); got != c.wantDB {
			t.Errorf("DatabaseOf(%q) = %q", c.dsn, got)
		}
	}

	t.Setenv("PGAPPNAME", "cron-check")
	pool, err := postgres.Connect(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var name string
	if err := pool.QueryRow(t.Context(), "SELECT current_setting('application_name')").Scan(&name); err != nil || name != "cron-check" {
		t.Errorf("application_name %q, %v", name, err)
	}
}
