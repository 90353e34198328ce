package postgres

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// DumpSession is pg_dump's session as far as the COPY text of a table's
// rows depends on it. pg_dump sets DateStyle ISO, IntervalStyle postgres
// and extra_float_digits 3 itself; the rest comes from the server's,
// database's and role's defaults, read in the dump's snapshot: the
// TimeZone (timestamptz), bytea_output, lc_monetary (money) and the
// client encoding (the database's). Setting it on another session makes
// COPY TO STDOUT write the very same lines (ops/fingerprint).
type DumpSession struct {
	TimeZone    string `json:"timezone"`
	Encoding    string `json:"encoding"`
	ByteaOutput string `json:"bytea_output,omitempty"`
	LCMonetary  string `json:"lc_monetary,omitempty"`
}

// ReadDumpSession reads the settings pg_dump's session will have from q
// (a session of the same role on the same database).
func ReadDumpSession(ctx context.Context, q Querier) (DumpSession, error) {
	var s DumpSession
	err := q.QueryRow(ctx, `SELECT current_setting('TimeZone'), pg_encoding_to_char(d.encoding),
		current_setting('bytea_output'), current_setting('lc_monetary')
		FROM pg_database d WHERE d.datname = current_database()`).Scan(&s.TimeZone, &s.Encoding, &s.ByteaOutput, &s.LCMonetary)
	return s, err
}

// SetDumpSession gives conn's session pg_dump's settings and s's.
func SetDumpSession(ctx context.Context, conn *pgx.Conn, s DumpSession) error {
	stmts := []string{
		"SET DateStyle = ISO", "SET IntervalStyle = postgres", "SET extra_float_digits = 3",
		"SET TimeZone = " + quoteLiteral(s.TimeZone),
	}
	if s.ByteaOutput != "" {
		stmts = append(stmts, "SET bytea_output = "+quoteLiteral(s.ByteaOutput))
	}
	if s.LCMonetary != "" {
		stmts = append(stmts, "SET lc_monetary = "+quoteLiteral(s.LCMonetary))
	}
	if s.Encoding != "" && s.Encoding != "UTF8" {
		stmts = append(stmts, "SET client_encoding = "+quoteLiteral(s.Encoding))
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// CopyOutTable writes a table's rows to w as `COPY … TO STDOUT` text with
// the columns pg_dump lists (stored ones in order: no dropped or
// generated columns), as its dump has them.
func CopyOutTable(ctx context.Context, conn *pgx.Conn, schema, name string, w io.Writer) (int64, error) {
	table := QualifiedName(schema, name)
	var cols *string
	err := conn.QueryRow(ctx, `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`, table).Scan(&cols)
	if err != nil {
		return 0, fmt.Errorf("columns of %s: %w", table, err)
	}
	list := ""
	if cols != nil {
		list = " (" + *cols + ")"
	}
	tag, err := conn.PgConn().CopyTo(ctx, w, "COPY "+table+list+" TO STDOUT")
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}

// AvailableExtensions lists the extensions the server can create (its
// packages are installed): pg_available_extensions.
func AvailableExtensions(ctx context.Context, q Querier) (map[string]bool, error) {
	rows, err := q.Query(ctx, "SELECT name FROM pg_available_extensions")
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}
