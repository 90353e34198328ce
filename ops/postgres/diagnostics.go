package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The facts of an incident's diagnostic bundle, each read by its own
// function below.
const (
	FactLocks      Fact = "locks"
	FactStatements Fact = "pg_stat_statements"
	FactReplicas   Fact = "stat_replication"
	FactArchiver   Fact = "stat_archiver"
)

// Table is a diagnostic query's answer as the server's own text: column
// names and, per row, each value's text ("" for NULL), as psql would show
// them.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// MaxDiagnosticRows bounds every Table: an incident's server may hold
// thousands of locks.
const MaxDiagnosticRows = 5000

// locksSQL is every lock, granted or awaited, with the relation named
// and the holder's session: the waiting first.
var locksSQL = fmt.Sprintf(`
SELECT l.pid, l.locktype, coalesce(l.relation::regclass::text, '') AS relation, l.mode, l.granted,
       coalesce(l.transactionid::text, l.virtualxid, '') AS xid,
       coalesce(a.datname, '') AS database, coalesce(a.usename, '') AS user, coalesce(a.state, '') AS state,
       coalesce(a.wait_event_type || ':' || a.wait_event, '') AS wait,
       coalesce(to_char(clock_timestamp() - a.xact_start, 'HH24:MI:SS.MS'), '') AS xact_age,
       left(coalesce(a.query, ''), 4000) AS query
  FROM pg_locks l
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.pid IS DISTINCT FROM pg_backend_pid()
 ORDER BY l.granted, l.pid, l.locktype
 LIMIT %d`, MaxDiagnosticRows)

// ReadLocks reads pg_locks with each holder's session, the waiting locks
// first, in a read-only transaction under timeout. Query texts go
// through MaskQuery.
func ReadLocks(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) (Table, error) {
	t, err := readTable(ctx, pool, timeout, FactLocks, locksSQL)
	for _, r := range t.Rows {
		r[len(r)-1] = foldQuery(MaskQuery(r[len(r)-1]), MaxSessionQueryLen)
	}
	return t, err
}

// ErrNoStatements says pg_stat_statements is not installed in the
// database opsdeck connects to.
var ErrNoStatements = errors.New("pg_stat_statements is not installed in this database")

// ReadTopStatements reads the n statements of pg_stat_statements with the
// most total execution time. It fails with ErrNoStatements when the
// extension is not installed in the connected database; the server's own
// error when it is installed but not loaded (shared_preload_libraries).
// Query texts go through MaskQuery.
func ReadTopStatements(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, n int) (Table, error) {
	var version string
	err := pool.QueryRow(ctx, `SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'), '')`).Scan(&version)
	if err != nil {
		return Table{}, wrapErr(err, targetOf(pool.Config().ConnConfig.Config), timeout)
	}
	if version == "" {
		return Table{}, ErrNoStatements
	}
	// total_exec_time since 1.8 (PostgreSQL 13), total_time before.
	total := "total_exec_time"
	if major, minor, _ := strings.Cut(version, "."); major == "1" && len(minor) == 1 && minor < "8" {
		total = "total_time"
	}
	q := fmt.Sprintf(`
SELECT round(%[1]s::numeric, 1) AS total_ms, calls,
       round((%[1]s / greatest(calls, 1))::numeric, 2) AS mean_ms, rows,
       shared_blks_hit, shared_blks_read, coalesce(r.rolname, '') AS role,
       coalesce(d.datname, '') AS database, left(s.query, 2000) AS query
  FROM pg_stat_statements s
  LEFT JOIN pg_roles r ON r.oid = s.userid
  LEFT JOIN pg_database d ON d.oid = s.dbid
 ORDER BY %[1]s DESC
 LIMIT %[2]d`, total, max(n, 1))
	t, err := readTable(ctx, pool, timeout, FactStatements, q)
	for _, r := range t.Rows {
		r[len(r)-1] = foldQuery(MaskQuery(r[len(r)-1]), 2000)
	}
	return t, err
}

// ReadReplicas reads pg_stat_replication: every WAL sender, its positions
// and lags.
func ReadReplicas(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) (Table, error) {
	return readTable(ctx, pool, timeout, FactReplicas, `
SELECT pid, coalesce(usename, '') AS user, coalesce(application_name, '') AS application,
       coalesce(host(client_addr), '') AS client, state, sent_lsn, write_lsn, flush_lsn, replay_lsn,
       write_lag, flush_lag, replay_lag, sync_state, reply_time
  FROM pg_stat_replication
 ORDER BY pid`)
}

// ReadArchiver reads pg_stat_archiver: the server's own archive_command's
// counts and last successes and failures, with archive_mode.
func ReadArchiver(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) (Table, error) {
	return readTable(ctx, pool, timeout, FactArchiver, `
SELECT current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal, last_archived_time,
       failed_count, last_failed_wal, last_failed_time, stats_reset
  FROM pg_stat_archiver`)
}

// readTable runs query in a read-only transaction under timeout and
// keeps its answer as text (the simple protocol: the server formats
// every value), at most MaxDiagnosticRows rows.
func readTable(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, fact Fact, query string) (Table, error) {
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	var t Table
	missing, err := readEachFact(ctx, pool, timeout, []namedRead{{fact, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return err
		}
		defer rows.Close()
		for _, f := range rows.FieldDescriptions() {
			t.Columns = append(t.Columns, f.Name)
		}
		for rows.Next() {
			if len(t.Rows) == MaxDiagnosticRows {
				break
			}
			raw := rows.RawValues()
			row := make([]string, len(raw))
			for i, v := range raw {
				row[i] = string(v)
			}
			t.Rows = append(t.Rows, row)
		}
		return rows.Err()
	}}})
	if err != nil {
		return Table{}, err
	}
	if len(missing) > 0 {
		return Table{}, fmt.Errorf("read %s: %s", fact, missing[0].Reason)
	}
	return t, nil
}
