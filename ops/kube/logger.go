package kube

import (
	"log/slog"

	"k8s.io/klog/v2"
)

// RouteLibraryLogs sends client-go's klog output, which by default goes to
// stderr and would tear the cockpit's screen, to logger; a nil logger
// discards it. It changes process-wide state: call it once, early.
func RouteLibraryLogs(logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	klog.SetSlogLogger(logger.With("component", "client-go"))
}
