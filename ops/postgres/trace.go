package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// Trace makes every connection built from cfg log its connects, statements
// and batches to the debug trace (class postgres): the server as
// user@host:port/database, the statement's first line with its string
// literals elided (never its arguments), the rows it touched, how long it
// took and how it ended. Connect does it for its pools; a caller building
// its own pgx.ConnConfig calls it before connecting.
func Trace(cfg *pgx.ConnConfig) {
	t := targetOf(cfg.Config)
	cfg.Tracer = &tracer{target: fmt.Sprintf("%s@%s/%s", t.user, t.addr, t.database)}
}

// tracer is the pgx.QueryTracer, BatchTracer and ConnectTracer of Trace.
type tracer struct {
	target string
}

var (
	_ pgx.QueryTracer   = (*tracer)(nil)
	_ pgx.BatchTracer   = (*tracer)(nil)
	_ pgx.ConnectTracer = (*tracer)(nil)
)

// traceKey holds a call's start in its context.
type traceKey struct{}

type traceStart struct {
	at  time.Time
	sql string
}

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !logging.Enabled(ctx) {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, traceStart{at: time.Now(), sql: firstLine(data.SQL)})
}

func (t *tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	logging.Call(ctx, logging.ClassPostgres, "postgres query", st.at, data.Err,
		logging.KeyTarget, t.target, logging.KeySQL, st.sql, logging.KeyCount, data.CommandTag.RowsAffected())
}

func (t *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !logging.Enabled(ctx) {
		return ctx
	}
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	return context.WithValue(ctx, traceKey{}, traceStart{at: time.Now(), sql: fmt.Sprintf("batch of %d", n)})
}

func (t *tracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	if !data.ReadStartTime.IsZero() {
		st.at = data.ReadStartTime
	}
	logging.Call(ctx, logging.ClassPostgres, "postgres batch query", st.at, data.Err,
		logging.KeyTarget, t.target, logging.KeySQL, firstLine(data.SQL), logging.KeyCount, data.CommandTag.RowsAffected())
}

func (t *tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	logging.Call(ctx, logging.ClassPostgres, "postgres batch", st.at, data.Err, logging.KeyTarget, t.target, logging.KeySQL, st.sql)
}

func (t *tracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	if !logging.Enabled(ctx) {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, traceStart{at: time.Now()})
}

func (t *tracer) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	logging.Call(ctx, logging.ClassPostgres, "postgres connect", st.at, data.Err, logging.KeyTarget, t.target)
}

// maxTraced is how much of a statement's first line the trace keeps.
const maxTraced = 80

// firstLine returns a statement's first non-blank line for the trace,
// with the content of its string literals elided ('…') and cut to
// maxTraced characters: enough to tell the statements apart, never a
// value.
func firstLine(sql string) string {
	sql = strings.TrimSpace(sql)
	if i := strings.IndexByte(sql, '\n'); i >= 0 {
		sql = strings.TrimSpace(sql[:i])
	}
	var b strings.Builder
	in := false
	n := 0
	for _, r := range sql {
		if n >= maxTraced {
			b.WriteString("…")
			break
		}
		if r == '\'' {
			if !in {
				b.WriteString("'…'")
			}
			in = !in
			n++
			continue
		}
		if in {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
