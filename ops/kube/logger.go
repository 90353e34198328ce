package kube

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

var (
	// libraryLog is where client-go's lines go; swapped atomically, since
	// informers may be logging while a command (or a test) routes again.
	libraryLog  atomic.Pointer[slog.Logger]
	installOnce sync.Once
)

// RouteLibraryLogs sends client-go's klog output, which by default goes to
// stderr and would tear the cockpit's screen, to logger; a nil logger
// discards it. klog is pointed once at a handler that forwards to the
// latest logger, so calling this again while client-go runs is safe.
func RouteLibraryLogs(logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	libraryLog.Store(logger.With("component", "client-go"))
	installOnce.Do(func() { klog.SetSlogLogger(slog.New(forward{})) })
}

// forward is a slog.Handler that hands each record to libraryLog.
type forward struct {
	attrs []slog.Attr
	group string
}

func (f forward) handler() slog.Handler {
	h := libraryLog.Load().Handler()
	if f.group != "" {
		h = h.WithGroup(f.group)
	}
	if len(f.attrs) > 0 {
		h = h.WithAttrs(f.attrs)
	}
	return h
}

func (f forward) Enabled(ctx context.Context, l slog.Level) bool {
	return f.handler().Enabled(ctx, l)
}

func (f forward) Handle(ctx context.Context, r slog.Record) error {
	return f.handler().Handle(ctx, r)
}

func (f forward) WithAttrs(as []slog.Attr) slog.Handler {
	f.attrs = append(append([]slog.Attr(nil), f.attrs...), as...)
	return f
}

func (f forward) WithGroup(name string) slog.Handler {
	if f.group != "" {
		name = f.group + "." + name
	}
	f.group = name
	return f
}
