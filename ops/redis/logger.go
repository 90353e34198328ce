package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// RouteLibraryLogs sends go-redis's own log lines (failed dials, pool
// events), which by default go to stderr and would tear the cockpit's
// screen, to logger at debug level; a nil logger discards them. It changes
// process-wide state: call it once, early, from main (or TestMain).
func RouteLibraryLogs(logger *slog.Logger) {
	goredis.SetLogger(libraryLogger{logger})
}

type libraryLogger struct{ l *slog.Logger }

func (g libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	if g.l != nil {
		g.l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
	}
}
