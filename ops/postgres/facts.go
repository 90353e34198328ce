package postgres

import (
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// fact is one query of a snapshot and how its rows fill the Snapshot.
type fact struct {
	name Fact
	sql  string
	read func(rows pgx.Rows, s *Snapshot) error
}

// facts are read in this order, in one batch when possible.
var facts = []fact{
	{FactServer, serverSQL, readServer},
	{FactConnections, connectionsSQL, readConnections},
	{FactDatabaseStats, databaseStatsSQL, readDatabaseStats},
	{FactDatabaseSize, databaseSizeSQL, readDatabaseSize},
	{FactLongestTransaction, longestTransactionSQL, readLongestTransaction},
	{FactReplication, replicationSQL, readReplication},
	{FactRecovery, recoverySQL, readRecovery},
}

const serverSQL = `
SELECT current_setting('server_version'),
       current_setting('server_version_num')::int,
       version(),
       current_database(),
       current_user::text,
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
       pg_has_role('pg_read_all_stats', 'USAGE'),
       pg_postmaster_start_time(),
       pg_is_in_recovery(),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int`

func readServer(rows pgx.Rows, s *Snapshot) error {
	v := &s.Server
	return scanOne(rows, &v.Version, &v.VersionNum, &v.Full, &v.Database, &v.User, &v.Superuser,
		&v.CanSeeAllSessions, &v.StartedAt, &v.InRecovery, &s.Connections.Max, &s.Connections.SuperuserReserved)
}

const connectionsSQL = `
SELECT count(*)::int,
       count(*) FILTER (WHERE state = 'active')::int,
       count(*) FILTER (WHERE state = 'idle')::int,
       count(*) FILTER (WHERE state = 'idle in transaction')::int,
       count(*) FILTER (WHERE state = 'idle in transaction (aborted)')::int,
       count(*) FILTER (WHERE state IS NULL)::int,
       count(*) FILTER (WHERE datname = current_database())::int
  FROM pg_stat_activity
 WHERE backend_type = 'client backend'
    OR (backend_type IS NULL AND usename IS NOT NULL) -- another user's session, hidden from us`

func readConnections(rows pgx.Rows, s *Snapshot) error {
	c := &s.Connections
	if err := scanOne(rows, &c.Total, &c.Active, &c.Idle, &c.IdleInTransaction,
		&c.IdleInTransactionAborted, &c.Hidden, &c.ThisDatabase); err != nil {
		return err
	}
	c.Other = c.Total - c.Active - c.Idle - c.IdleInTransaction - c.IdleInTransactionAborted - c.Hidden
	return nil
}

const databaseStatsSQL = `
SELECT coalesce(blks_hit, 0), coalesce(blks_read, 0), coalesce(deadlocks, 0),
       coalesce(xact_commit, 0), coalesce(xact_rollback, 0), coalesce(temp_bytes, 0),
       coalesce(conflicts, 0), stats_reset
  FROM pg_stat_database
 WHERE datname = current_database()`

func readDatabaseStats(rows pgx.Rows, s *Snapshot) error {
	a := &s.Activity
	return scanOne(rows, &s.Cache.BlocksHit, &s.Cache.BlocksRead, &a.Deadlocks, &a.Commits,
		&a.Rollbacks, &a.TempBytes, &a.Conflicts, &a.StatsResetAt)
}

const databaseSizeSQL = `SELECT pg_database_size(current_database())`

func readDatabaseSize(rows pgx.Rows, s *Snapshot) error {
	return scanOne(rows, &s.DatabaseSizeBytes)
}

const longestTransactionSQL = `
SELECT pid, coalesce(datname, ''), coalesce(usename, ''), coalesce(application_name, ''),
       coalesce(state, ''), left(coalesce(query, ''), 800), xact_start,
       extract(epoch FROM clock_timestamp() - xact_start)::float8
  FROM pg_stat_activity
 WHERE xact_start IS NOT NULL
   AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
 ORDER BY xact_start
 LIMIT 1`

func readLongestTransaction(rows pgx.Rows, s *Snapshot) error {
	defer rows.Close()
	if !rows.Next() {
		s.LongestTransaction = nil
		return rows.Err()
	}
	var tx Transaction
	var seconds float64
	if err := rows.Scan(&tx.PID, &tx.Database, &tx.User, &tx.Application, &tx.State,
		&tx.Query, &tx.StartedAt, &seconds); err != nil {
		return err
	}
	tx.Query = foldQuery(tx.Query, MaxQueryLen)
	tx.Duration = secondsToDuration(seconds)
	s.LongestTransaction = &tx
	rows.Close()
	return rows.Err()
}

const replicationSQL = `
SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''),
       coalesce(sync_state, ''), coalesce(extract(epoch FROM replay_lag), 0)::float8,
       coalesce(pg_wal_lsn_diff(
           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
           replay_lsn), 0)::bigint
  FROM pg_stat_replication
 ORDER BY application_name, client_addr`

func readReplication(rows pgx.Rows, s *Snapshot) error {
	defer rows.Close()
	s.Replicas = []Replica{}
	for rows.Next() {
		var r Replica
		var lag float64
		if err := rows.Scan(&r.Application, &r.ClientAddr, &r.State, &r.SyncState, &lag, &r.LagBytes); err != nil {
			return err
		}
		r.ReplayLag = secondsToDuration(lag)
		s.Replicas = append(s.Replicas, r)
	}
	return rows.Err()
}

const recoverySQL = `
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery()
            THEN extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END,
       CASE WHEN pg_is_in_recovery()
            THEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() END`

func readRecovery(rows pgx.Rows, s *Snapshot) error {
	var inRecovery bool
	var delay *float64
	var caughtUp *bool
	if err := scanOne(rows, &inRecovery, &delay, &caughtUp); err != nil {
		return err
	}
	if !inRecovery {
		s.Standby = nil
		return nil
	}
	st := &StandbyStatus{CaughtUp: caughtUp != nil && *caughtUp}
	if delay != nil {
		st.ReplayDelay = secondsToDuration(*delay)
		st.ReplayDelayKnown = true
	}
	s.Standby = st
	return nil
}

// scanOne scans the single row of rows and closes them.
func scanOne(rows pgx.Rows, dest ...any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

func secondsToDuration(s float64) time.Duration {
	if s < 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// foldQuery folds runs of whitespace into one space and cuts q to n
// characters, ending a cut query with "…".
func foldQuery(q string, n int) string {
	q = strings.Join(strings.FieldsFunc(q, unicode.IsSpace), " ")
	r := []rune(q)
	if len(r) <= n {
		return q
	}
	return string(r[:n-1]) + "…"
}
