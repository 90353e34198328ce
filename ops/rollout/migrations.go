package rollout

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// MigrationsTarget and MigrationsName name the migrations check's result.
const (
	MigrationsTarget = "postgres"
	MigrationsName   = "migrations"
)

// CheckMigrations reads the migrations table m names on the server of
// pg (its database, or m.Database) within timeout and judges it. secrets
// are removed from an error's text.
func CheckMigrations(ctx context.Context, pg config.PostgresConfig, m config.MigrationsCheck, connect, timeout time.Duration, secrets []string) health.Result {
	r := health.Result{Target: MigrationsTarget, Name: MigrationsName, Runbook: "database-migrations", Threshold: m.Expected}
	if !pg.Configured() {
		r.Status, r.Value = health.Unknown, "no PostgreSQL server configured"
		r.Hint = "set postgres.dsn (or DATABASE_URL), or remove checks.migrations.expected"
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := postgres.ConnectDatabase(ctx, pg.DSN, m.Database, connect)
	if err != nil {
		r.Status, r.Value, r.Hint = health.Unknown, "cannot connect", redact.String(err.Error(), secrets...)
		return r
	}
	defer pool.Close()
	got, err := postgres.ReadMigrations(ctx, pool, m.Table, m.Column, timeout)
	if err != nil {
		r.Status, r.Value, r.Hint = health.Unknown, "cannot read "+m.Table, redact.String(err.Error(), secrets...)
		return r
	}
	db := m.Database
	if db == "" {
		db = postgres.DatabaseOf(pg.DSN)
	}
	return JudgeMigrations(r, got, m, db)
}

// JudgeMigrations judges what the migrations table holds against the
// expected version: its newest version (the greatest; versions of digits
// compare as numbers) equal to it is OK; the expected version missing is
// critical (the migrations did not run); applied but with newer ones
// after it a warning (the database is ahead of the release, as after a
// rollback); a missing table, an empty one or a dirty flag critical.
func JudgeMigrations(r health.Result, got postgres.Migrations, m config.MigrationsCheck, database string) health.Result {
	where := m.Table
	if database != "" {
		where = database + "." + m.Table
	}
	r.Threshold = m.Expected
	run := "run the release's migrations (its migrate Job) and check again"
	switch {
	case !got.Exists:
		r.Status, r.Value = health.Crit, fmt.Sprintf("table %s does not exist", where)
		r.Hint = run + "; or fix checks.migrations.database/table"
		return r
	case len(got.Versions) == 0:
		r.Status, r.Value, r.Hint = health.Crit, fmt.Sprintf("%s is empty", where), run
		return r
	}
	latest := slices.MaxFunc(got.Versions, CompareVersions)
	applied := slices.Contains(got.Versions, m.Expected)
	r.Value = fmt.Sprintf("%s at %s", where, latest)
	switch {
	case got.Dirty:
		r.Status = health.Crit
		r.Value += " (dirty: a migration failed half way)"
		r.Hint = "read the migrate Job's log, repair the schema by hand, then clear the dirty flag (migrate force VERSION)"
	case latest == m.Expected:
		r.Status = health.OK
	case !applied:
		r.Status = health.Crit
		r.Value = fmt.Sprintf("%s at %s, %s not applied", where, latest, m.Expected)
		r.Hint = run
	default:
		r.Status = health.Warn
		r.Value += ", newer than " + m.Expected
		r.Hint = "the database is ahead of the deployed release (a rollback?): the release must tolerate the newer schema"
	}
	return r
}

// CompareVersions orders two migration versions: as numbers when both
// are digits only (so "9" < "10"), else as text.
func CompareVersions(a, b string) int {
	if digits(a) && digits(b) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			return len(a) - len(b)
		}
	}
	return strings.Compare(a, b)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
