package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// TableName names a table: its schema and its name, unquoted.
type TableName struct {
	Schema string
	Name   string
}

// tableListSQL lists the ordinary tables pg_dump dumps the data of.
const tableListSQL = `
SELECT n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
 ORDER BY 1, 2`

// ListTables lists the ordinary tables of the connected database outside
// the system schemas, the ones pg_dump dumps the data of, by schema and
// name.
func ListTables(ctx context.Context, q Querier) ([]TableName, error) {
	rows, err := q.Query(ctx, tableListSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableName, error) {
		var t TableName
		err := r.Scan(&t.Schema, &t.Name)
		return t, err
	})
}

// TablesSize sums the size of the ordinary tables outside the system
// schemas (pg_table_size: heap and TOAST, no indexes), about what a dump
// of their data takes.
func TablesSize(ctx context.Context, q Querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT coalesce(sum(pg_table_size(c.oid)), 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`).Scan(&n)
	return n, err
}

// CountRows counts the rows of table schema.name exactly (SELECT count(*):
// it reads the whole table), as q sees them: a transaction's snapshot
// when q is one.
func CountRows(ctx context.Context, q Querier, schema, name string) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, "SELECT count(*) FROM "+QualifiedName(schema, name)).Scan(&n)
	return n, err
}

// EstimateRows returns the number of user tables of the connected
// database and their live rows as the statistics estimate them
// (pg_stat_user_tables.n_live_tup): no table is read.
func EstimateRows(ctx context.Context, q Querier) (tables int, rows int64, err error) {
	err = q.QueryRow(ctx, "SELECT count(*), coalesce(sum(n_live_tup), 0)::bigint FROM pg_stat_user_tables").Scan(&tables, &rows)
	return tables, rows, err
}

// ExportSnapshot exports the snapshot of transaction tx
// (pg_export_snapshot) for another session, e.g. pg_dump --snapshot, to
// see the same data. tx must stay open while the snapshot is used, and
// must be REPEATABLE READ or SERIALIZABLE for it to mean anything past
// the current statement.
func ExportSnapshot(ctx context.Context, tx pgx.Tx) (string, error) {
	var id string
	err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id)
	return id, err
}
