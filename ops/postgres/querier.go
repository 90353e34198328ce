package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier runs statements: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx. The
// small statement helpers of this package (ServerVersion, CountRows,
// DatabaseExists, ...) take one, so that a caller runs them where it
// already is: on its pool, its single connection or inside its
// transaction. Each statement is bounded by the caller's context.
//
// Unlike Connect and the Read* functions, these helpers return the
// driver's error as it is; the caller adds what it was doing.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (*pgx.Conn)(nil)
	_ Querier = pgx.Tx(nil)
)

// DatabaseOf returns the database dsn names as pgx reads it, with libpq's
// environment (PGDATABASE, a PGSERVICE's dbname) under the DSN's own; ""
// when it does not parse or names none (the server then takes the user's
// name).
func DatabaseOf(dsn string) string {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	return pc.Database
}

// quoteIdent quotes s as an SQL identifier.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
