package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxMigrationVersions bounds the versions ReadMigrations reads.
const MaxMigrationVersions = 100000

// Migrations is what an application's migrations table says.
type Migrations struct {
	// Exists is false when the table is not there.
	Exists bool `json:"exists"`
	// Versions are the distinct values of the version column, as text.
	Versions []string `json:"-"`
	// Dirty is golang-migrate's flag of a migration that failed half way
	// (false when the table has no boolean "dirty" column).
	Dirty bool `json:"dirty"`
}

// ReadMigrations reads the versions recorded in table (optionally
// "schema.table") and its column, in a read-only transaction under
// statement_timeout (timeout, or DefaultStatementTimeout). A missing table
// is Exists false, not an error; a missing column or a refusal is an error
// naming the table. More than MaxMigrationVersions versions is an error.
func ReadMigrations(ctx context.Context, pool *pgxpool.Pool, table, column string, timeout time.Duration) (Migrations, error) {
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	t := targetOf(pool.Config().ConnConfig.Config)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return Migrations{}, wrapErr(err, t, pool.Config().ConnConfig.ConnectTimeout)
	}
	defer conn.Release()
	ident := pgx.Identifier{table}
	if schema, name, ok := strings.Cut(table, "."); ok {
		ident = pgx.Identifier{schema, name}
	}
	var m Migrations
	err = readInTx(ctx, conn.Conn(), timeout, func(ctx context.Context, tx pgx.Tx) error {
		var oid *uint32
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1)::oid", ident.Sanitize()).Scan(&oid); err != nil {
			return err
		}
		if oid == nil {
			return nil
		}
		m.Exists = true
		var hasDirty bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute
			WHERE attrelid = $1 AND attname = 'dirty' AND atttypid = 'boolean'::regtype AND NOT attisdropped)`, *oid).Scan(&hasDirty); err != nil {
			return err
		}
		if hasDirty {
			if err := tx.QueryRow(ctx, "SELECT coalesce(bool_or(dirty), false) FROM "+ident.Sanitize()).Scan(&m.Dirty); err != nil {
				return err
			}
		}
		col := quoteIdent(column)
		rows, err := tx.Query(ctx, fmt.Sprintf("SELECT DISTINCT %s::text FROM %s WHERE %s IS NOT NULL LIMIT %d", col, ident.Sanitize(), col, MaxMigrationVersions+1))
		if err != nil {
			return err
		}
		m.Versions, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(m.Versions) > MaxMigrationVersions {
			return fmt.Errorf("more than %d versions in %s", MaxMigrationVersions, table)
		}
		return nil
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return m, nil
	case errors.As(err, &pgErr) && pgErr.Code == "42703":
		return Migrations{}, fmt.Errorf("table %s has no column %s: %w", table, column, err)
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		return Migrations{}, fmt.Errorf("%s may not read %s: %w — grant SELECT on it", t.user, table, err)
	}
	return Migrations{}, wrapErr(err, t, timeout)
}
