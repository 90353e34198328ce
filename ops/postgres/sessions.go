package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/redact"
)

// Session is one client session of the server, as pg_stat_activity shows it.
type Session struct {
	PID         int    `json:"pid"`
	Database    string `json:"database"`
	User        string `json:"user"`
	Application string `json:"application"`
	ClientAddr  string `json:"client_addr,omitempty"`
	// State is "active", "idle", "idle in transaction", ... or "" when
	// this user may not see it.
	State string `json:"state"`
	// Query is the current or last statement, whitespace folded and cut to
	// MaxSessionQueryLen characters.
	Query         string     `json:"query"`
	BackendStart  time.Time  `json:"backend_start"`
	XactStart     *time.Time `json:"xact_start,omitempty"`
	QueryStart    *time.Time `json:"query_start,omitempty"`
	StateChange   *time.Time `json:"state_change,omitempty"`
	WaitEventType string     `json:"wait_event_type,omitempty"`
	WaitEvent     string     `json:"wait_event,omitempty"`
	// BlockedBy are the sessions holding the locks this one waits for.
	BlockedBy []int `json:"blocked_by,omitempty"`
	// LockWaitStart is when the session began waiting for a lock (servers
	// before 14 do not say; then it is the statement's start).
	LockWaitStart *time.Time `json:"lock_wait_start,omitempty"`
	// QueryAge, StateAge and XactAge are how long the statement, the state
	// and the transaction have lasted when the sessions were read.
	QueryAge time.Duration `json:"query_age_ns"`
	StateAge time.Duration `json:"state_age_ns"`
	XactAge  time.Duration `json:"xact_age_ns"`
}

// MaxSessionQueryLen is the length Session.Query is cut to.
const MaxSessionQueryLen = 500

// LockWait is how long the session has waited for a lock, 0 when it is
// not waiting for one.
func (s Session) LockWait(at time.Time) time.Duration {
	if len(s.BlockedBy) == 0 {
		return 0
	}
	start := s.LockWaitStart
	if start == nil {
		start = s.QueryStart
	}
	if start == nil {
		return 0
	}
	return max(at.Sub(*start), 0)
}

// Sessions are the server's client sessions at one moment.
type Sessions struct {
	CollectedAt time.Time `json:"collected_at"`
	// OwnPID is the session that read them (left out of List).
	OwnPID int       `json:"own_pid"`
	List   []Session `json:"sessions"`
}

// ByPID returns the session with pid.
func (s Sessions) ByPID(pid int) (Session, bool) {
	for _, x := range s.List {
		if x.PID == pid {
			return x, true
		}
	}
	return Session{}, false
}

const sessionsSQL = `
SELECT a.pid, coalesce(a.datname, ''), coalesce(a.usename, ''), coalesce(a.application_name, ''),
       coalesce(host(a.client_addr), ''), coalesce(a.state, ''), left(coalesce(a.query, ''), 4000),
       a.backend_start, a.xact_start, a.query_start, a.state_change,
       coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''),
       pg_blocking_pids(a.pid),
       %s,
       coalesce(extract(epoch FROM clock_timestamp() - a.query_start), 0)::float8,
       coalesce(extract(epoch FROM clock_timestamp() - a.state_change), 0)::float8,
       coalesce(extract(epoch FROM clock_timestamp() - a.xact_start), 0)::float8,
       pg_backend_pid(), clock_timestamp()
  FROM pg_stat_activity a
 WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
 ORDER BY a.pid`

// waitStartSQL reads when a session began waiting (pg_locks.waitstart, 14+).
const waitStartSQL = `(SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted)`

// ReadSessions reads every client session but its own, with the sessions
// each one is blocked by, under statement_timeout (timeout, or
// DefaultStatementTimeout when zero). Without pg_read_all_stats (pg_monitor)
// other users' sessions show no state or query.
func ReadSessions(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) (Sessions, error) {
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	var out Sessions
	missing, err := readEachFact(ctx, pool, timeout, []namedRead{{FactSessions, func(ctx context.Context, tx pgx.Tx) error {
		server, err := ServerVersion(ctx, tx)
		if err != nil {
			return err
		}
		wait := "NULL::timestamptz"
		if server.VersionNum >= 140000 {
			wait = waitStartSQL
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(sessionsSQL, wait))
		if err != nil {
			return err
		}
		defer rows.Close()
		out.List = []Session{}
		for rows.Next() {
			var s Session
			var blocked []int32
			var qAge, sAge, xAge float64
			var at time.Time
			if err := rows.Scan(&s.PID, &s.Database, &s.User, &s.Application, &s.ClientAddr, &s.State, &s.Query,
				&s.BackendStart, &s.XactStart, &s.QueryStart, &s.StateChange, &s.WaitEventType, &s.WaitEvent,
				&blocked, &s.LockWaitStart, &qAge, &sAge, &xAge, &out.OwnPID, &at); err != nil {
				return err
			}
			s.Query = foldQuery(MaskQuery(s.Query), MaxSessionQueryLen)
			s.BackendStart = s.BackendStart.UTC()
			s.XactStart, s.QueryStart = timeOrNil(s.XactStart), timeOrNil(s.QueryStart)
			s.StateChange, s.LockWaitStart = timeOrNil(s.StateChange), timeOrNil(s.LockWaitStart)
			for _, b := range blocked {
				s.BlockedBy = append(s.BlockedBy, int(b))
			}
			if s.QueryStart != nil {
				s.QueryAge = secondsToDuration(qAge)
			}
			if s.StateChange != nil {
				s.StateAge = secondsToDuration(sAge)
			}
			if s.XactStart != nil {
				s.XactAge = secondsToDuration(xAge)
			}
			out.CollectedAt = at.UTC()
			out.List = append(out.List, s)
		}
		return rows.Err()
	}}})
	if err != nil {
		return Sessions{}, err
	}
	if len(missing) > 0 {
		return Sessions{}, fmt.Errorf("read sessions: %s", missing[0].Reason)
	}
	if out.CollectedAt.IsZero() {
		out.CollectedAt = time.Now().UTC()
	}
	return out, nil
}

// Signal is what SignalBackend does to a session.
type Signal int

// The signals: cancel the running statement, or end the whole session.
const (
	SignalCancel Signal = iota
	SignalTerminate
)

// String returns "cancel" or "terminate".
func (s Signal) String() string {
	if s == SignalTerminate {
		return "terminate"
	}
	return "cancel"
}

// ErrSessionGone is returned by SignalBackend when the session has ended
// or its process id now belongs to another session.
var ErrSessionGone = errors.New("the session is gone")

// SignalBackend cancels the running statement of session pid
// (pg_cancel_backend) or terminates the session (pg_terminate_backend).
// When backendStart is set, the session must still be the one that started
// then: a pid reused by a new session is never signalled. After a
// terminate it waits (up to 3 s) for the session to end. It refuses the
// caller's own session.
func SignalBackend(ctx context.Context, pool *pgxpool.Pool, pid int, backendStart time.Time, sig Signal) error {
	t := targetOf(pool.Config().ConnConfig.Config)
	var startp *time.Time // NULL for other users' sessions without pg_read_all_stats
	var own int
	err := pool.QueryRow(ctx, `SELECT backend_start, pg_backend_pid() FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&startp, &own)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s session %d: %w (nothing to do)", sig, pid, ErrSessionGone)
	}
	if err != nil {
		return wrapErr(err, t, DefaultStatementTimeout)
	}
	if pid == own {
		return fmt.Errorf("%s session %d: that is opsdeck's own session", sig, pid)
	}
	var start time.Time
	if startp != nil {
		start = *startp
	}
	if !backendStart.IsZero() && startp != nil && !start.Truncate(time.Millisecond).Equal(backendStart.Truncate(time.Millisecond)) {
		return fmt.Errorf("%s session %d: %w — pid %d now belongs to a session started at %s; read the sessions again",
			sig, pid, ErrSessionGone, pid, start.UTC().Format(time.RFC3339))
	}
	fn := "pg_cancel_backend"
	if sig == SignalTerminate {
		fn = "pg_terminate_backend"
	}
	var ok bool
	if err := pool.QueryRow(ctx, "SELECT "+fn+"($1)", pid).Scan(&ok); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return fmt.Errorf("%s session %d: permission denied (%s) — it takes a superuser, the session's own user, or a member of pg_signal_backend: GRANT pg_signal_backend TO %q",
				sig, pid, pgErr.Message, t.user)
		}
		return wrapErr(err, t, DefaultStatementTimeout)
	}
	if !ok {
		return fmt.Errorf("%s session %d: %w (the server found no such process)", sig, pid, ErrSessionGone)
	}
	if sig != SignalTerminate {
		return nil
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND backend_start IS NOT DISTINCT FROM $2`, pid, startp).Scan(&n); err != nil {
			return wrapErr(err, t, DefaultStatementTimeout)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("terminate session %d: it was signalled but has not ended within 3s — check it again in a moment", pid)
}

// CountSessions counts the sessions connected to database db, the
// caller's own left out.
func CountSessions(ctx context.Context, q Querier, db string) (int, error) {
	var n int
	err := q.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db).Scan(&n)
	return n, err
}

// TerminateSessions ends every session on database db but the caller's
// (pg_terminate_backend) and waits, up to 5 s, for them to go; it returns
// how many it signalled. Sessions still there after the wait, or back
// since, are not an error: the statement that needs them gone fails
// instead (close the database to new sessions first: SetAllowConnections).
// Another role's session, without superuser or pg_signal_backend
// (CanSignalBackends), is refused by the server and fails the whole call.
// Unlike SignalBackend it ends whoever is connected: it is for a database
// about to be renamed or dropped.
func TerminateSessions(ctx context.Context, q Querier, db string) (int, error) {
	var n int
	if err := q.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db).Scan(&n); err != nil {
		return 0, fmt.Errorf("end the sessions on %s: %w", db, err)
	}
	for range 50 {
		left, err := CountSessions(ctx, q, db)
		if err != nil || left == 0 {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return n, nil
}

// CanSignalBackends tells whether the session's role is a member of
// pg_signal_backend: whether it may cancel or end other roles' sessions
// (superusers' aside). Without it a role ends only its own.
func CanSignalBackends(ctx context.Context, q Querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, "SELECT pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')").Scan(&ok)
	return ok, err
}

// sqlPasswordRE matches the literal of PASSWORD '...' (CREATE/ALTER ROLE).
var sqlPasswordRE = regexp.MustCompile(`(?i)(\bpassword\s+)'(?:[^']|'')*'`)

// MaskQuery hides the secrets a statement's text may hold: role passwords
// (PASSWORD '...'), passwords in URLs and password=... settings.
func MaskQuery(q string) string {
	q = sqlPasswordRE.ReplaceAllString(q, "${1}'"+redact.Mask+"'")
	return redact.String(q)
}
