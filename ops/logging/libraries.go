package logging

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
	"k8s.io/klog/v2"
)

// RouteLibraries sends the logs of the libraries that write to stderr on
// their own (client-go's klog, go-redis) to log instead, so that nothing
// scribbles over the cockpit.
func RouteLibraries(log *slog.Logger) {
	klog.SetSlogLogger(log.With(KeyComponent, "client-go"))
	goredis.SetLogger(redisLogger{log.With(KeyComponent, "go-redis")})
}

// redisLogger adapts slog to go-redis' logger interface.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
