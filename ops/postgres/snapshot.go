package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultStatementTimeout bounds each snapshot query when the context has
// no earlier deadline.
const DefaultStatementTimeout = 5 * time.Second

// Snapshot is what one look at a PostgreSQL server shows. A fact that could
// not be read (missing privilege, timeout) keeps its zero value and is listed
// in Missing; Has tells them apart from real zeros.
type Snapshot struct {
	CollectedAt time.Time     `json:"collected_at"`
	Took        time.Duration `json:"took_ns"`

	Server      ServerInfo  `json:"server"`
	Connections Connections `json:"connections"`
	Cache       CacheStats  `json:"cache"`
	Activity    Activity    `json:"activity"`
	// DatabaseSizeBytes is pg_database_size of the connected database.
	DatabaseSizeBytes int64 `json:"database_size_bytes"`
	// LongestTransaction is the oldest open transaction of any client
	// session but ours, nil when none is open.
	LongestTransaction *Transaction `json:"longest_transaction,omitempty"`
	// Replicas are the standbys streaming from this server.
	Replicas []Replica `json:"replicas"`
	// Standby is set when the server is itself in recovery.
	Standby *StandbyStatus `json:"standby,omitempty"`

	// Missing lists the facts that could not be read, with the reason.
	Missing []MissingFact `json:"missing,omitempty"`
	// Notes are caveats about facts that were read, e.g. partial visibility.
	Notes []string `json:"notes,omitempty"`
}

// Fact names one group of values in a Snapshot.
type Fact string

// The facts a Snapshot reads, each with its own query.
const (
	FactServer             Fact = "server"
	FactConnections        Fact = "connections"
	FactDatabaseStats      Fact = "database_stats" // Cache and Activity
	FactDatabaseSize       Fact = "database_size"
	FactLongestTransaction Fact = "longest_transaction"
	FactReplication        Fact = "replication"
	FactRecovery           Fact = "recovery" // Standby
)

// MissingFact is a fact left unset, and why.
type MissingFact struct {
	Fact   Fact   `json:"fact"`
	Reason string `json:"reason"`
}

// Has reports whether fact f was read.
func (s Snapshot) Has(f Fact) bool {
	for _, m := range s.Missing {
		if m.Fact == f {
			return false
		}
	}
	return true
}

// ServerInfo identifies the server and the session that looked at it.
type ServerInfo struct {
	// Version is server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)".
	Version string `json:"version"`
	// VersionNum is server_version_num, e.g. 150018.
	VersionNum int `json:"version_num"`
	// Full is version(): build and platform.
	Full       string    `json:"full"`
	Database   string    `json:"database"`
	User       string    `json:"user"`
	Superuser  bool      `json:"superuser"`
	StartedAt  time.Time `json:"started_at"`
	InRecovery bool      `json:"in_recovery"`
	// CanSeeAllSessions is true for superusers and members of
	// pg_read_all_stats (pg_monitor); otherwise other users' sessions show no
	// state, query or transaction start.
	CanSeeAllSessions bool `json:"can_see_all_sessions"`
}

// Major returns the major version, e.g. 15.
func (s ServerInfo) Major() int { return s.VersionNum / 10000 }

// Connections counts client sessions on the whole server (all databases),
// the quantity max_connections limits, the snapshot's own included.
type Connections struct {
	Total                    int `json:"total"`
	Active                   int `json:"active"`
	Idle                     int `json:"idle"`
	IdleInTransaction        int `json:"idle_in_transaction"`
	IdleInTransactionAborted int `json:"idle_in_transaction_aborted"`
	// Other counts states such as "fastpath function call" and "disabled".
	Other int `json:"other"`
	// Hidden counts other users' sessions whose state this user may not
	// see (without pg_read_all_stats); they are in Total.
	Hidden int `json:"hidden"`
	// ThisDatabase counts the sessions connected to the snapshot's database.
	ThisDatabase int `json:"this_database"`

	Max               int `json:"max_connections"`
	SuperuserReserved int `json:"superuser_reserved_connections"`
}

// Available returns how many sessions ordinary users may open in all:
// max_connections minus the superuser reserve.
func (c Connections) Available() int { return c.Max - c.SuperuserReserved }

// CacheStats is the shared-buffer hit ratio of the connected database since
// its statistics were last reset.
type CacheStats struct {
	BlocksHit  int64 `json:"blocks_hit"`
	BlocksRead int64 `json:"blocks_read"`
	// HitPercent is BlocksHit / (BlocksHit + BlocksRead) × 100, in 0..100.
	// It is 0 and NoReadsYet is true when no block was requested yet.
	HitPercent float64 `json:"hit_percent"`
	NoReadsYet bool    `json:"no_reads_yet"`
}

// Activity holds the connected database's cumulative counters.
type Activity struct {
	Deadlocks    int64      `json:"deadlocks"`
	Commits      int64      `json:"commits"`
	Rollbacks    int64      `json:"rollbacks"`
	TempBytes    int64      `json:"temp_bytes"`
	Conflicts    int64      `json:"conflicts"`
	StatsResetAt *time.Time `json:"stats_reset_at,omitempty"`
}

// Transaction is one open transaction.
type Transaction struct {
	PID         int    `json:"pid"`
	Database    string `json:"database"`
	User        string `json:"user"`
	Application string `json:"application"`
	// State is the session state, e.g. "active" or "idle in transaction".
	State string `json:"state"`
	// Query is the session's current or last statement, whitespace folded
	// and cut to MaxQueryLen characters.
	Query     string        `json:"query"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
}

// MaxQueryLen is the length Transaction.Query is cut to.
const MaxQueryLen = 200

// Replica is one standby streaming from this server.
type Replica struct {
	Application string `json:"application"`
	ClientAddr  string `json:"client_addr"`
	State       string `json:"state"`
	SyncState   string `json:"sync_state"`
	// ReplayLag is the server's replay_lag; zero when it reports none
	// (a caught-up, idle standby).
	ReplayLag time.Duration `json:"replay_lag_ns"`
	// LagBytes is how much WAL the standby has yet to replay.
	LagBytes int64 `json:"lag_bytes"`
}

// StandbyStatus describes a server in recovery.
type StandbyStatus struct {
	// ReplayDelay is the time since the last replayed transaction was
	// committed on the primary; it also grows while the primary is idle, so
	// read it together with CaughtUp.
	ReplayDelay time.Duration `json:"replay_delay_ns"`
	// ReplayDelayKnown is false before the first transaction was replayed.
	ReplayDelayKnown bool `json:"replay_delay_known"`
	// CaughtUp is true when all received WAL has been replayed.
	CaughtUp bool `json:"caught_up"`
}

// TakeSnapshot reads every fact in one read-only transaction, each statement
// under a statement_timeout (DefaultStatementTimeout, or less when ctx ends
// sooner). The facts travel in one batch; if one fails on the server (a
// missing privilege, say) they are read again one by one so that only that
// fact is lost and noted in Missing. Failures to reach the server are *Error
// values.
func TakeSnapshot(ctx context.Context, pool *pgxpool.Pool) (Snapshot, error) {
	start := time.Now()
	t := targetOf(pool.Config().ConnConfig.Config)
	timeout := statementTimeout(ctx)

	s, err := snapshotOnce(ctx, pool, timeout, t)
	if err != nil && connectionLost(err) && ctx.Err() == nil {
		// The server restarted since the pool last used its connections:
		// drop them all and try once more on fresh ones.
		pool.Reset()
		s, err = snapshotOnce(ctx, pool, timeout, t)
	}
	if err != nil {
		return Snapshot{}, err
	}
	s.finish(start)
	return s, nil
}

func snapshotOnce(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, t target) (Snapshot, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return Snapshot{}, wrapErr(err, t, pool.Config().ConnConfig.ConnectTimeout)
	}
	defer conn.Release()

	var s Snapshot
	err = readBatch(ctx, conn.Conn(), timeout, &s)
	var pgErr *pgconn.PgError
	if err != nil && errors.As(err, &pgErr) && ctx.Err() == nil {
		s = Snapshot{}
		err = readEach(ctx, conn.Conn(), timeout, &s, t)
	}
	if err != nil {
		return Snapshot{}, wrapErr(err, t, timeout)
	}
	return s, nil
}

// connectionLost reports whether err means an established connection was
// closed under us (as opposed to a new one failing).
func connectionLost(err error) bool {
	k, detail := classify(err)
	return k == KindUnreachable && detail == "connection lost"
}

// statementTimeout is DefaultStatementTimeout, shortened to fit ctx.
func statementTimeout(ctx context.Context) time.Duration {
	d := DefaultStatementTimeout
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline) - 50*time.Millisecond; left < d {
			d = max(left, 10*time.Millisecond)
		}
	}
	return d
}

// endTx rolls back the snapshot's transaction even when ctx has ended.
func endTx(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = tx.Rollback(rctx) // read-only: nothing to lose; a failure closes the connection
}

// setTimeoutSQL sets statement_timeout for the rest of the transaction.
const setTimeoutSQL = "SELECT set_config('statement_timeout', $1, true)"

func timeoutArg(d time.Duration) string { return fmt.Sprintf("%dms", max(d.Milliseconds(), 1)) }

// readBatch sends every fact's query in one batch.
func readBatch(ctx context.Context, conn *pgx.Conn, timeout time.Duration, s *Snapshot) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer endTx(ctx, tx)

	b := &pgx.Batch{}
	b.Queue(setTimeoutSQL, timeoutArg(timeout))
	for _, f := range facts {
		b.Queue(f.sql)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	for _, f := range facts {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if err := f.read(rows, s); err != nil {
			return err
		}
	}
	return br.Close()
}

// readEach reads the facts one at a time, each behind a savepoint, and notes
// the ones the server refuses.
func readEach(ctx context.Context, conn *pgx.Conn, timeout time.Duration, s *Snapshot, t target) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer endTx(ctx, tx)
	if _, err := tx.Exec(ctx, setTimeoutSQL, timeoutArg(timeout)); err != nil {
		return err
	}
	for _, f := range facts {
		if _, err := tx.Exec(ctx, "SAVEPOINT fact"); err != nil {
			return err
		}
		err := readOne(ctx, tx, f, s)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			continue
		case errors.As(err, &pgErr) && ctx.Err() == nil:
			s.Missing = append(s.Missing, MissingFact{Fact: f.name, Reason: missingReason(pgErr, t)})
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT fact"); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

func readOne(ctx context.Context, tx pgx.Tx, f fact, s *Snapshot) error {
	rows, err := tx.Query(ctx, f.sql)
	if err != nil {
		return err
	}
	defer rows.Close()
	return f.read(rows, s)
}

// missingReason says why a fact could not be read and what would fix it.
func missingReason(e *pgconn.PgError, t target) string {
	switch e.Code {
	case "42501":
		return fmt.Sprintf("permission denied (%s) — grant pg_monitor to user %q", e.Message, t.user)
	case "57014":
		return "timed out — the server is slow or a catalog is locked"
	}
	return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code)
}

// finish derives ratios and notes once all facts are in.
func (s *Snapshot) finish(start time.Time) {
	s.CollectedAt = start
	s.Took = time.Since(start)
	if s.Replicas == nil {
		s.Replicas = []Replica{}
	}
	if total := s.Cache.BlocksHit + s.Cache.BlocksRead; total > 0 {
		s.Cache.HitPercent = float64(s.Cache.BlocksHit) / float64(total) * 100
	} else {
		s.Cache.NoReadsYet = true
	}
	if s.Has(FactServer) && !s.Server.CanSeeAllSessions {
		s.Notes = append(s.Notes, fmt.Sprintf(
			"user %q sees the state, query and transaction start of its own sessions only: connection states, "+
				"the longest transaction and replica details may be incomplete — grant pg_monitor to see all", s.Server.User))
	}
}
