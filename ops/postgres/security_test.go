package postgres_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestReadSecurityPlantedAndFixed(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.DSN())
	ctx := t.Context()
	clean, err := postgres.ReadSecurity(ctx, pool, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(clean.Missing) > 0 {
		t.Fatalf("missing as superuser: %+v", clean.Missing)
	}
	if clean.Owner != sandbox.PostgresSuperuser || clean.Bootstrap != sandbox.PostgresSuperuser || clean.Database != sandbox.PostgresDatabase {
		t.Errorf("owner %q bootstrap %q database %q", clean.Owner, clean.Bootstrap, clean.Database)
	}
	if !slices.Equal(clean.Superusers, []string{sandbox.PostgresSuperuser}) || len(clean.MD5Roles) > 0 ||
		clean.PublicCreate || len(clean.PublicCreateRoles) > 0 || clean.PasswordEncryption != "scram-sha-256" {
		t.Errorf("a fresh sandbox has findings: %+v", clean)
	}

	cleanup(t,
		"DROP ROLE IF EXISTS sec_extra_su", "DROP ROLE IF EXISTS sec_legacy", "DROP ROLE IF EXISTS sec_nopw",
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC", "REVOKE CREATE ON SCHEMA public FROM "+sandbox.PostgresAppUser)
	exec(t,
		"CREATE ROLE sec_extra_su SUPERUSER LOGIN PASSWORD 'pw-one-1234'",
		"SET password_encryption = 'md5'",
		"CREATE ROLE sec_legacy LOGIN PASSWORD 'pw-two-1234'",
		"CREATE ROLE sec_nopw LOGIN",
		"GRANT CREATE ON SCHEMA public TO PUBLIC",
		"GRANT CREATE ON SCHEMA public TO "+sandbox.PostgresAppUser,
	)
	bad, err := postgres.ReadSecurity(ctx, pool, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(bad.Superusers, "sec_extra_su") || !slices.Contains(bad.MD5Roles, "sec_legacy") ||
		!slices.Contains(bad.NoPasswordRoles, "sec_nopw") || !bad.PublicCreate ||
		!slices.Contains(bad.PublicCreateRoles, sandbox.PostgresAppUser) {
		t.Errorf("planted problems not all seen: %+v", bad)
	}
	if slices.Contains(bad.MD5Roles, "sec_extra_su") {
		t.Errorf("a scram password read as md5: %v", bad.MD5Roles)
	}

	exec(t,
		"DROP ROLE sec_extra_su", "ALTER ROLE sec_legacy PASSWORD 'pw-three-1234'", "ALTER ROLE sec_nopw NOLOGIN",
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC", "REVOKE CREATE ON SCHEMA public FROM "+sandbox.PostgresAppUser,
	)
	fixed, err := postgres.ReadSecurity(ctx, pool, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(fixed.Superusers, "sec_extra_su") || len(fixed.MD5Roles) > 0 || slices.Contains(fixed.NoPasswordRoles, "sec_nopw") ||
		fixed.PublicCreate || len(fixed.PublicCreateRoles) > 0 {
		t.Errorf("fixed problems still seen: %+v", fixed)
	}
}

func TestReadSecurityAsOrdinaryRole(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.AppDSN())
	s, err := postgres.ReadSecurity(t.Context(), pool, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Has(postgres.FactPasswords) || s.Has(postgres.FactHBA) {
		t.Errorf("an ordinary role read pg_authid or pg_hba_file_rules: %+v", s)
	}
	if !s.Has(postgres.FactRoles) || !s.Has(postgres.FactServerConfig) || !s.Has(postgres.FactPublicSchema) {
		t.Errorf("facts every role may read are missing: %+v", s.Missing)
	}
	for _, m := range s.Missing {
		if !strings.Contains(m.Reason, "permission denied") {
			t.Errorf("missing %s: %s", m.Fact, m.Reason)
		}
	}
}

func TestListAndDropDatabases(t *testing.T) {
	requireServer(t)
	names := []string{"stockdb_pre_20250101_000000", "stockdb_pre_20250102_000000", "stockdbx"}
	for _, n := range names {
		cleanup(t, "DROP DATABASE IF EXISTS "+n)
		exec(t, "CREATE DATABASE "+n)
	}
	pool := connect(t, server.DSN())
	got, err := postgres.ListDatabases(t.Context(), pool, "stockdb_pre_")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Bytes <= 0 || got[0].Owner != sandbox.PostgresSuperuser {
		t.Fatalf("ListDatabases = %+v", got)
	}
	// A literal prefix: "_" is not a wildcard.
	if got, _ := postgres.ListDatabases(t.Context(), pool, "stockdb_"); len(got) != 2 {
		t.Errorf("prefix stockdb_ matched %+v", got)
	}
	// A connected session keeps a database from being dropped.
	conn, err := pgx.Connect(t.Context(), server.DSNFor(names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.DropDatabase(t.Context(), pool, names[0]); err == nil || !strings.Contains(err.Error(), "other sessions") {
		t.Errorf("drop with a session: %v", err)
	}
	conn.Close(context.Background())
	for _, n := range names[:2] {
		if err := postgres.DropDatabase(t.Context(), pool, n); err != nil {
			t.Errorf("drop %s: %v", n, err)
		}
	}
	if err := postgres.DropDatabase(t.Context(), pool, names[0]); err == nil || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("drop twice: %v", err)
	}
	if err := postgres.DropDatabase(t.Context(), pool, sandbox.PostgresDatabase); err == nil {
		t.Error("dropped the connected database")
	}
}
