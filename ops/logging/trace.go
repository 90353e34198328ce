package logging

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"time"
)

// The debug trace: with --debug the engines say what they decide and how
// long each part takes, and every call to a server is one record. It goes
// to the default logger (slog.Default, which the CLI points at the log
// file) at level Debug, so it costs one Enabled check when debug is off.

// Server call classes, the values of [KeyClass].
const (
	ClassPostgres = "postgres" // a statement or a connection (pgx tracer)
	ClassRedis    = "redis"    // a command or a dial (go-redis hook)
	ClassKube     = "kube"     // an API request (the client's transport)
	ClassExec     = "exec"     // an external program (ops/runner)
	ClassStore    = "store"    // a backup store operation (ops/backup)
)

// Enabled reports whether debug records reach the default logger: tracing
// code that would build attributes checks it first.
func Enabled(ctx context.Context) bool {
	return slog.Default().Enabled(ctx, slog.LevelDebug)
}

// Outcome names how an operation ended, for [KeyOutcome]: "ok" for nil,
// "canceled" or "timeout" when its context ended, else "error".
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

// noEnd is the end function of a span that is not traced.
func noEnd(error, ...any) {}

// Span traces an operation op ("backup.component", "restore.step"): it
// logs "<op> start" at debug with attrs (slog's key-value pairs or Attrs)
// and returns the function that logs "<op> end" with the same attrs, more,
// the time taken and the outcome (and the error's text). When debug is off
// it logs nothing and returns a function that does nothing.
//
//	end := logging.Span(ctx, "backup.component", logging.KeyComponent, name)
//	err := run()
//	end(err, logging.KeyBytes, n)
func Span(ctx context.Context, op string, attrs ...any) func(err error, more ...any) {
	if !Enabled(ctx) {
		return noEnd
	}
	pc := callerPC()
	start := time.Now()
	write(ctx, pc, op+" start", attrs)
	return func(err error, more ...any) {
		all := make([]any, 0, len(attrs)+len(more)+3)
		all = append(append(all, attrs...), more...)
		all = append(all, slog.Duration(KeyDuration, time.Since(start)), slog.String(KeyOutcome, Outcome(err)), Err(err))
		write(ctx, pc, op+" end", all)
	}
}

// Call logs one call to a server of class (ClassPostgres, ...) that began
// at start and ended with err, at debug: msg, the class, attrs (the
// target, never a secret — the handler masks them anyway), the time taken
// and the outcome. Callers check [Enabled] before building attrs.
func Call(ctx context.Context, class, msg string, start time.Time, err error, attrs ...any) {
	if !Enabled(ctx) {
		return
	}
	all := make([]any, 0, len(attrs)+4)
	all = append(all, slog.String(KeyClass, class))
	all = append(all, attrs...)
	all = append(all, slog.Duration(KeyDuration, time.Since(start)), slog.String(KeyOutcome, Outcome(err)), Err(err))
	write(ctx, callerPC(), msg, all)
}

// callerPC is the program counter of the caller of the function calling it.
func callerPC() uintptr {
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // runtime.Callers, callerPC, its caller
	return pcs[0]
}

// write logs a debug record at pc to the default logger.
func write(ctx context.Context, pc uintptr, msg string, attrs []any) {
	r := slog.NewRecord(time.Now(), slog.LevelDebug, msg, pc)
	r.Add(attrs...)
	_ = slog.Default().Handler().Handle(ctx, r)
}
