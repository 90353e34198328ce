package main_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/config"
)

// TestLibpqEnvironment: with no postgres.dsn, libpq's environment as pgx
// reads it — PGSERVICE in PGSERVICEFILE, the password in PGPASSFILE — is
// what check connects with and what pg_dump gets; the DSN's own
// parameters win over it.
func TestLibpqEnvironment(t *testing.T) {
	requireSandbox(t)
	u, err := url.Parse(sb.Config.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	dir := t.TempDir()
	service := filepath.Join(dir, "pg_service.conf")
	pass := filepath.Join(dir, "pgpass")
	os.WriteFile(service, []byte(fmt.Sprintf("[stock]\nhost=%s\nport=%s\ndbname=%s\nuser=%s\nsslmode=disable\n",
		u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), u.User.Username())), 0o600)
	os.WriteFile(pass, []byte(fmt.Sprintf("%s:%s:*:%s:%s\n", u.Hostname(), u.Port(), u.User.Username(), password)), 0o600)
	env := []string{"PGSERVICEFILE=" + service, "PGSERVICE=stock", "PGPASSFILE=" + pass}

	cfgPath, _ := backupConfig(t, func(c *config.Config) { c.Postgres.DSN = "" })
	r := opsdeck(t, env, "--config", cfgPath, "check", "--target", "postgres")
	if r.code != 0 || !strings.Contains(r.stdout, "postgres") {
		t.Fatalf("check with the service: %+v", r)
	}
	// pg_dump is handed the same connection: a database backup works.
	r = opsdeck(t, env, "--config", cfgPath, "backup", "database", "-q")
	if r.code != 0 || !strings.Contains(r.stdout, "committed and verified") {
		t.Fatalf("backup database with the service: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Error("the password file's password is printed")
	}
	// The DSN's own parameters win: a database the server lacks fails,
	// though the service names one that exists.
	bad, _ := backupConfig(t, func(c *config.Config) { c.Postgres.DSN = "dbname=no_such_db" })
	r = opsdeck(t, env, "--config", bad, "check", "--target", "postgres")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "no_such_db") {
		t.Fatalf("the DSN's dbname did not win: %+v", r)
	}
}
