package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// relMapQuery lists the database's relations with storage: their file
// (pg_relation_filenode resolves mapped catalogs), the table an index or
// TOAST table belongs to, and the row estimate.
const relMapQuery = `
SELECT c.oid, pg_relation_filenode(c.oid), n.nspname || '.' || c.relname, c.relkind::text,
       COALESCE(i.indrelid, t.oid, 0), GREATEST(c.reltuples, 0)::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
WHERE pg_relation_filenode(c.oid) IS NOT NULL AND c.relpersistence <> 't'
ORDER BY 2`

// ReadRelMap reads the connected database's relfilenode map, in one
// snapshot with the WAL position it is true at.
func ReadRelMap(ctx context.Context, conn *pgx.Conn) (*pgwal.RelMap, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("read the relation files: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	m := &pgwal.RelMap{Taken: time.Now().UTC()}
	var lsn string
	if err := tx.QueryRow(ctx, `SELECT current_database(), d.oid, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text
		FROM pg_database d WHERE d.datname = current_database()`).Scan(&m.Database, &m.DB, &lsn); err != nil {
		return nil, fmt.Errorf("read the relation files: %w", err)
	}
	if m.LSN, err = pgwal.ParseLSN(lsn); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, relMapQuery)
	if err != nil {
		return nil, fmt.Errorf("read the relation files: %w", err)
	}
	for rows.Next() {
		var e pgwal.RelEntry
		if err := rows.Scan(&e.OID, &e.File, &e.Name, &e.Kind, &e.Owner, &e.Rows); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the relation files: %w", err)
		}
		m.Relations = append(m.Relations, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the relation files: %w", err)
	}
	return m, nil
}
