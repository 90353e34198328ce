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

// VacuumProgress is one reading of a running VACUUM (ANALYZE), from
// pg_stat_progress_vacuum, then pg_stat_progress_analyze.
type VacuumProgress struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	// Phase is the server's phase name, e.g. "scanning heap",
	// "vacuuming indexes" or, for the analyze part, "acquiring sample rows".
	Phase string `json:"phase"`
	// Done and Total are heap blocks scanned (or sampled) and in all.
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// IndexPasses counts completed index vacuum cycles.
	IndexPasses int64 `json:"index_passes"`
}

// Fraction is Done / Total in 0..1, 0 when Total is unknown.
func (p VacuumProgress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return min(float64(p.Done)/float64(p.Total), 1)
}

// VacuumResult is what one VACUUM did to a table.
type VacuumResult struct {
	Schema     string        `json:"schema"`
	Table      string        `json:"table"`
	DeadBefore int64         `json:"dead_before"`
	DeadAfter  int64         `json:"dead_after"`
	Took       time.Duration `json:"took_ns"`
	// Skipped says why the table was not vacuumed (its lock was not
	// available within the lock timeout).
	Skipped string `json:"skipped,omitempty"`
}

// VacuumOptions tune Vacuum.
type VacuumOptions struct {
	// Analyze adds ANALYZE (default in `maintain db`).
	Analyze bool
	// LockTimeout is how long to wait for the table's lock before skipping
	// it (default 10s).
	LockTimeout time.Duration
	// PollEvery is how often progress is read (default 250ms).
	PollEvery time.Duration
	// Progress, when set, receives each reading; it must not block long.
	Progress func(VacuumProgress)
}

// Vacuum runs VACUUM [(ANALYZE)] on schema.table on a connection of its
// own, and reads its progress from another while it runs. Cancelling ctx
// cancels the VACUUM on the server, which is safe: the work done so far is
// kept. A table whose lock is not free within LockTimeout is skipped, not an
// error. DeadBefore and DeadAfter come from pg_stat_user_tables.
func Vacuum(ctx context.Context, pool *pgxpool.Pool, schema, table string, o VacuumOptions) (VacuumResult, error) {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 10 * time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 250 * time.Millisecond
	}
	t := targetOf(pool.Config().ConnConfig.Config)
	res := VacuumResult{Schema: schema, Table: table}
	name := QualifiedName(schema, table)

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, wrapErr(err, t, pool.Config().ConnConfig.ConnectTimeout)
	}
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid(), coalesce((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = to_regclass($1)), 0)`,
		name).Scan(&pid, &res.DeadBefore); err != nil {
		conn.Release()
		return res, wrapErr(err, t, DefaultStatementTimeout)
	}
	if _, err := conn.Exec(ctx, "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false)", timeoutArg(o.LockTimeout)); err != nil {
		conn.Release()
		return res, wrapErr(err, t, DefaultStatementTimeout)
	}
	stmt := "VACUUM " + name
	if o.Analyze {
		stmt = "VACUUM (ANALYZE) " + name
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		// The statement runs without ctx: cancelling a pgx context breaks
		// the connection, and the server would go on vacuuming. Instead,
		// cancelOnDone asks the server to cancel it.
		_, err := conn.Exec(context.WithoutCancel(ctx), stmt)
		done <- err
	}()
	stopCancel := cancelOnDone(ctx, pool, pid)
	if o.Progress != nil {
		pollVacuum(ctx, pool, pid, schema, table, o, done)
	}
	err = <-done
	stopCancel()
	res.Took = time.Since(start)
	// Leave the session as the pool expects it, or drop it.
	if err == nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if _, rerr := conn.Exec(rctx, "RESET lock_timeout; RESET statement_timeout"); rerr != nil {
			_ = conn.Conn().Close(rctx) // the pool drops a closed connection
		}
		cancel()
	} else {
		// A failed VACUUM leaves its session settings behind: drop the connection.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	conn.Release()
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &pgErr) && pgErr.Code == "55P03":
		res.Skipped = fmt.Sprintf("its lock was not free within %s (another VACUUM, DDL or a long transaction holds it)", o.LockTimeout)
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("vacuum %s was cancelled; what it finished is kept: %w", name, ctx.Err())
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		return res, fmt.Errorf("vacuum %s: permission denied — only the table's owner or a superuser may vacuum it: %w", name, err)
	default:
		return res, fmt.Errorf("vacuum %s: %w", name, wrapErr(err, t, 0))
	}
	// The statistics collector reports the new count at the end of VACUUM.
	if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = to_regclass($1)), 0)`, name).Scan(&res.DeadAfter); err != nil {
		return res, wrapErr(err, t, DefaultStatementTimeout)
	}
	return res, nil
}

// pollVacuum reports progress until the VACUUM ends (done fires; the value
// is put back for the caller).
func pollVacuum(ctx context.Context, pool *pgxpool.Pool, pid int, schema, table string, o VacuumOptions, done chan error) {
	tick := time.NewTicker(o.PollEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			done <- err
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p := VacuumProgress{Schema: schema, Table: table}
		qctx, cancel := context.WithTimeout(ctx, o.PollEvery*4)
		err := pool.QueryRow(qctx, `
SELECT phase, heap_blks_total, heap_blks_scanned, index_vacuum_count FROM pg_stat_progress_vacuum WHERE pid = $1
UNION ALL
SELECT phase, sample_blks_total, sample_blks_scanned, 0 FROM pg_stat_progress_analyze WHERE pid = $1
LIMIT 1`, pid).Scan(&p.Phase, &p.Total, &p.Done, &p.IndexPasses)
		cancel()
		if err == nil {
			o.Progress(p)
		} else if !errors.Is(err, pgx.ErrNoRows) && ctx.Err() == nil {
			// Progress is a nicety: a failed reading is skipped, the VACUUM goes on.
			continue
		}
	}
}

// cancelOnDone asks the server to cancel backend pid's statement when ctx
// ends. The returned stop must be called once the statement has returned.
func cancelOnDone(ctx context.Context, pool *pgxpool.Pool, pid int) (stop func()) {
	finished := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-finished:
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
			defer cancel()
			_, _ = pool.Exec(cctx, "SELECT pg_cancel_backend($1)", pid)
		}
	}()
	return func() {
		close(finished)
		<-exited
	}
}
