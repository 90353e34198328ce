package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sample is the light, frequent look at a server that live metrics need:
// the cumulative counters of the connected database (rates come from the
// difference of two samples), connections by state, the longest open
// transaction and the replication lag, all read by one statement so that
// sampling every few seconds costs the server almost nothing.
type Sample struct {
	CollectedAt time.Time     `json:"collected_at"`
	Took        time.Duration `json:"took_ns"`

	Connections Connections `json:"connections"`
	// Cache holds the cumulative block counters; HitPercent is since the
	// last statistics reset.
	Cache    CacheStats `json:"cache"`
	Activity Activity   `json:"activity"`
	Tuples   Tuples     `json:"tuples"`

	// LongestTransaction is the age of the oldest open transaction of any
	// client session but ours, zero when none is open.
	LongestTransaction time.Duration `json:"longest_transaction_ns"`
	// InRecovery is true on a standby.
	InRecovery bool `json:"in_recovery"`
	// Replicas counts the standbys streaming from this server.
	Replicas int `json:"replicas"`
	// ReplicationLag is the largest replay lag of the standbys on a primary,
	// or on a standby the time since the last replayed transaction while
	// WAL is waiting to be replayed (zero when caught up).
	ReplicationLag time.Duration `json:"replication_lag_ns"`
}

// Tuples are the connected database's cumulative row counters
// (pg_stat_database tup_*).
type Tuples struct {
	Returned int64 `json:"returned"`
	Fetched  int64 `json:"fetched"`
	Inserted int64 `json:"inserted"`
	Updated  int64 `json:"updated"`
	Deleted  int64 `json:"deleted"`
}

// Total is every row read or written.
func (t Tuples) Total() int64 {
	return t.Returned + t.Fetched + t.Inserted + t.Updated + t.Deleted
}

// Transactions is commits plus rollbacks.
func (a Activity) Transactions() int64 { return a.Commits + a.Rollbacks }

// sampleSQL reads everything a Sample holds in one statement. The filters
// follow connectionsSQL and longestTransactionSQL.
const sampleSQL = `
SELECT coalesce(d.xact_commit, 0), coalesce(d.xact_rollback, 0), coalesce(d.blks_hit, 0), coalesce(d.blks_read, 0),
       coalesce(d.tup_returned, 0), coalesce(d.tup_fetched, 0), coalesce(d.tup_inserted, 0),
       coalesce(d.tup_updated, 0), coalesce(d.tup_deleted, 0),
       coalesce(d.deadlocks, 0), coalesce(d.temp_bytes, 0), coalesce(d.conflicts, 0), d.stats_reset,
       a.total, a.active, a.idle, a.idle_tx, a.idle_tx_aborted, a.hidden, a.this_db,
       current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
       coalesce(t.age, 0)::float8,
       pg_is_in_recovery(),
       r.replicas, coalesce(r.max_lag, 0)::float8,
       CASE WHEN pg_is_in_recovery() AND pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
            THEN coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
            ELSE 0 END::float8
  FROM (SELECT count(*)::int AS total,
               count(*) FILTER (WHERE state = 'active')::int AS active,
               count(*) FILTER (WHERE state = 'idle')::int AS idle,
               count(*) FILTER (WHERE state = 'idle in transaction')::int AS idle_tx,
               count(*) FILTER (WHERE state = 'idle in transaction (aborted)')::int AS idle_tx_aborted,
               count(*) FILTER (WHERE state IS NULL)::int AS hidden,
               count(*) FILTER (WHERE datname = current_database())::int AS this_db
          FROM pg_stat_activity
         WHERE backend_type = 'client backend'
            OR (backend_type IS NULL AND usename IS NOT NULL)) a
  LEFT JOIN pg_stat_database d ON d.datname = current_database()
  CROSS JOIN (SELECT max(extract(epoch FROM clock_timestamp() - xact_start)) AS age
                FROM pg_stat_activity
               WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()
                 AND backend_type = 'client backend') t
  CROSS JOIN (SELECT count(*)::int AS replicas, max(extract(epoch FROM replay_lag)) AS max_lag
                FROM pg_stat_replication) r`

// TakeSample reads a Sample with one statement, bounded by ctx (the driver
// cancels the statement on the server when ctx ends) and by
// DefaultStatementTimeout. Like TakeSnapshot it retries once on fresh
// connections when the server restarted under the pool. Failures are
// *Error values.
func TakeSample(ctx context.Context, pool *pgxpool.Pool) (Sample, error) {
	start := time.Now()
	t := targetOf(pool.Config().ConnConfig.Config)
	timeout := statementTimeout(ctx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s, err := sampleOnce(ctx, pool)
	if err != nil && connectionLost(err) && ctx.Err() == nil {
		pool.Reset()
		s, err = sampleOnce(ctx, pool)
	}
	if err != nil {
		return Sample{}, wrapErr(err, t, timeout)
	}
	s.CollectedAt = start
	s.Took = time.Since(start)
	if total := s.Cache.BlocksHit + s.Cache.BlocksRead; total > 0 {
		s.Cache.HitPercent = float64(s.Cache.BlocksHit) / float64(total) * 100
	} else {
		s.Cache.NoReadsYet = true
	}
	return s, nil
}

func sampleOnce(ctx context.Context, pool *pgxpool.Pool) (Sample, error) {
	var (
		s                       Sample
		txAge, maxLag, standbyD float64
	)
	c, a, tu := &s.Connections, &s.Activity, &s.Tuples
	err := pool.QueryRow(ctx, sampleSQL).Scan(
		&a.Commits, &a.Rollbacks, &s.Cache.BlocksHit, &s.Cache.BlocksRead,
		&tu.Returned, &tu.Fetched, &tu.Inserted, &tu.Updated, &tu.Deleted,
		&a.Deadlocks, &a.TempBytes, &a.Conflicts, &a.StatsResetAt,
		&c.Total, &c.Active, &c.Idle, &c.IdleInTransaction, &c.IdleInTransactionAborted, &c.Hidden, &c.ThisDatabase,
		&c.Max, &c.SuperuserReserved,
		&txAge, &s.InRecovery, &s.Replicas, &maxLag, &standbyD)
	if err != nil {
		return Sample{}, err
	}
	c.Other = c.Total - c.Active - c.Idle - c.IdleInTransaction - c.IdleInTransactionAborted - c.Hidden
	s.LongestTransaction = secondsToDuration(txAge)
	s.ReplicationLag = secondsToDuration(math.Max(maxLag, standbyD))
	return s, nil
}

// DatabaseSize returns pg_database_size of the connected database, the
// slower read the metrics make less often. Failures are *Error values.
func DatabaseSize(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	t := targetOf(pool.Config().ConnConfig.Config)
	timeout := statementTimeout(ctx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var n int64
	if err := pool.QueryRow(ctx, databaseSizeSQL).Scan(&n); err != nil {
		return 0, wrapErr(err, t, timeout)
	}
	return n, nil
}

// ErrNotANumber is returned (wrapped) by QueryValue when the query's first
// column is not numeric or its result is empty.
var ErrNotANumber = errors.New("the query must return one row with one number")

// QueryValue runs sql, a SELECT returning one number, in a read-only
// transaction under a statement timeout (DefaultStatementTimeout, or less
// when ctx ends sooner), for business metrics defined in the config. NULL
// reads as NaN. A query that writes fails (read-only transaction); one that
// returns no row or a non-number fails with ErrNotANumber. Server errors
// keep the server's message; connection failures are *Error values.
func QueryValue(ctx context.Context, pool *pgxpool.Pool, sql string) (float64, error) {
	t := targetOf(pool.Config().ConnConfig.Config)
	timeout := statementTimeout(ctx)
	var v *float64
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setTimeoutSQL, timeoutArg(timeout)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql)
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return fmt.Errorf("no row: %w", ErrNotANumber)
		}
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return fmt.Errorf("no column: %w", ErrNotANumber)
		}
		f, ok, err := toFloat(vals[0])
		if err != nil {
			return err
		}
		if ok {
			v = &f
		}
		rows.Close()
		return rows.Err()
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
	case errors.Is(err, ErrNotANumber):
		return 0, err
	case errors.As(err, &pgErr) && ctx.Err() == nil:
		if pgErr.Code == "57014" {
			return 0, fmt.Errorf("the query ran longer than %v and was canceled — make it cheaper (an index, a narrower time range)", timeout.Round(time.Millisecond))
		}
		return 0, fmt.Errorf("%s (SQLSTATE %s) — fix the query in the config", strings.TrimSpace(pgErr.Message), pgErr.Code)
	default:
		return 0, wrapErr(err, t, timeout)
	}
	if v == nil {
		return math.NaN(), nil
	}
	return *v, nil
}

// toFloat converts a numeric column value; ok is false for NULL.
func toFloat(v any) (f float64, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case int64:
		return float64(x), true, nil
	case int32:
		return float64(x), true, nil
	case int16:
		return float64(x), true, nil
	case float64:
		return x, true, nil
	case float32:
		return float64(x), true, nil
	case pgtype.Numeric:
		if !x.Valid {
			return 0, false, nil
		}
		fv, err := x.Float64Value()
		if err != nil {
			return 0, false, err
		}
		return fv.Float64, fv.Valid, nil
	}
	return 0, false, fmt.Errorf("the first column is %T: %w", v, ErrNotANumber)
}
