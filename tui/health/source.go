package health

import (
	"context"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/tui/common"
)

// KubeSource is the live view of the cluster the tab reads: an informer cache
// in practice, anything with the same methods in tests.
type KubeSource interface {
	Pods() []kube.PodRow
	Nodes() []kube.NodeRow
	// Errors reports, per source ("pods", "nodes", "events"), why it is not
	// syncing; empty when all is well.
	Errors() map[string]error
	// Changes fires (coalesced) when anything in the cache changed.
	Changes() <-chan struct{}
	PodDetail(namespace, name string) (kube.PodDetail, bool)
	NodeDetail(name string) (kube.NodeDetail, bool)
}

// LogStream is a log the log view follows: a *kube.LogStream in practice.
type LogStream interface {
	// Ring holds the lines read so far, by sequence number.
	Ring() *kube.LogRing
	// Updates receives a value when lines were added.
	Updates() <-chan struct{}
	// Done is closed when the stream ended; Err says why, after it.
	Done() <-chan struct{}
	Err() error
}

// Sources are the tab's data sources. They are built outside the TUI so that
// several sessions can share one set of informers.
type Sources struct {
	// Kube connects to the cluster and returns its live view; called once, in
	// a Cmd. Nil when Kubernetes is not configured.
	Kube func(ctx context.Context) (KubeSource, common.KubeInfoMsg, error)
	// Checks runs the Postgres and Redis checks of the morning check.
	Checks func(ctx context.Context) []health.Result
	// CheckEvery is how often Checks runs (default 15s).
	CheckEvery time.Duration
	// Timeout bounds connecting and each check run (default 5s).
	Timeout time.Duration

	// Logs opens a pod's log stream (kube.Client.StreamLogs with the
	// configuration's secrets) and says which containers it reads; ctx
	// carries the session's identity and ends the stream. Nil when
	// Kubernetes is not configured.
	Logs func(ctx context.Context, req kube.LogRequest) (LogStream, []kube.LogSource, error)
	// LogLines is how many lines the log view keeps (kubernetes.log_lines).
	LogLines int

	// Errors reads the new kinds of errors (kube.Client.FindErrorKinds,
	// without recording the run). Nil hides the panel.
	Errors func(ctx context.Context) (*kube.ErrorKinds, error)
	// ErrorsEvery is how often Errors runs (default 5m); ErrorsTimeout
	// bounds a run (default 1m).
	ErrorsEvery, ErrorsTimeout time.Duration
}

// Messages of the Health tab. Each carries the tab's data; the tab ignores
// messages that are not its own.
type (
	kubeConnectedMsg struct {
		src  KubeSource
		info common.KubeInfoMsg
	}
	kubeErrMsg struct{ err error }
	// kubeSnapshotMsg is a fresh copy of the cache's rows, taken in a Cmd so
	// that Update never walks 10,000 pods.
	kubeSnapshotMsg struct {
		pods  []kube.PodRow
		nodes []kube.NodeRow
		errs  map[string]error
		at    time.Time
		// The rows prepared off the UI goroutine, in the sort order that was
		// current when the snapshot was taken.
		podItems                  []item[kube.PodRow]
		nodeItems                 []item[kube.NodeRow]
		podProblems, nodeProblems int
		podSort, nodeSort         sortState
	}
	checksMsg struct {
		results []health.Result
		at      time.Time
	}
	checksTickMsg struct{}
)
