package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// RouteLibraryLogs sends go-redis's own log lines (failed dials, pool
// events), which by default go to stderr and would tear the cockpit's
// screen, to logger at debug level; a nil logger discards them. It changes
// process-wide state: call it once, early, from main (or TestMain).
func RouteLibraryLogs(logger *slog.Logger) {
	libraryLog.Store(logger)
	installOnce.Do(func() { goredis.SetLogger(libraryLogger{}) })
}

var (
	// libraryLog is swapped atomically: go-redis may log from its pool's
	// goroutines while a command (or a test) routes the logs again.
	libraryLog  atomic.Pointer[slog.Logger]
	installOnce sync.Once
)

type libraryLogger struct{}

func (libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := libraryLog.Load(); l != nil {
		l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
	}
}
