package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// namedRead is one read of a maintenance report: a fact name and the code
// that runs its query inside a read-only transaction.
type namedRead struct {
	fact Fact
	read func(ctx context.Context, tx pgx.Tx) error
}

// readEachFact runs each read in its own read-only transaction under
// statement_timeout. A read the server refuses (a missing privilege, a
// timeout, a missing view) is noted in the returned Missing list and the
// others go on; failing to reach the server is an *Error.
func readEachFact(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, reads []namedRead) ([]MissingFact, error) {
	t := targetOf(pool.Config().ConnConfig.Config)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, wrapErr(err, t, pool.Config().ConnConfig.ConnectTimeout)
	}
	defer conn.Release()
	var missing []MissingFact
	for _, r := range reads {
		err := readInTx(ctx, conn.Conn(), timeout, r.read)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
		case errors.As(err, &pgErr) && ctx.Err() == nil:
			missing = append(missing, MissingFact{Fact: r.fact, Reason: missingReason(pgErr, t)})
		default:
			return missing, wrapErr(err, t, timeout)
		}
	}
	return missing, nil
}

// readInTx runs fn in a read-only transaction with statement_timeout set,
// and always ends the transaction.
func readInTx(ctx context.Context, conn *pgx.Conn, timeout time.Duration, fn func(ctx context.Context, tx pgx.Tx) error) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer endTx(ctx, tx)
	if _, err := tx.Exec(ctx, setTimeoutSQL, timeoutArg(timeout)); err != nil {
		return err
	}
	return fn(ctx, tx)
}

// timeOrNil turns a nullable timestamp into a pointer in UTC.
func timeOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
