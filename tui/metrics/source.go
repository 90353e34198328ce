package metrics

import (
	"context"
	"time"

	"github.com/opsdeck/opsdeck/ops/alerts"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
)

// Engine is the live metrics the tab reads: an *ops/metrics.Engine shared by
// every session in practice, anything with the same methods in tests.
type Engine interface {
	Snapshot(window time.Duration) opmetrics.Snapshot
	// Window is the longest history kept.
	Window() time.Duration
	// Interval is how often the fastest source is sampled.
	Interval() time.Duration
}

// Alertmanager is the part of *alerts.Client the tab uses.
type Alertmanager interface {
	Alerts(ctx context.Context) ([]alerts.Alert, error)
	Silences(ctx context.Context) ([]alerts.Silence, error)
}

// Silencer creates and expires silences, refusing in read-only mode and
// auditing (an alerts.Silencer in practice).
type Silencer interface {
	Silence(ctx context.Context, a alerts.Alert, d time.Duration, comment string) (string, error)
	Expire(ctx context.Context, id string) error
}

// Sources are the tab's data sources, built outside the TUI so that several
// sessions can share one set of samplers.
type Sources struct {
	// Engine samples every configured source; nil shows how to configure one.
	Engine Engine
	// Absent names the sources the config leaves out, with the setting
	// that adds them.
	Absent []string
	// Alertmanager, when set, is where alerts and silences come from;
	// without it the tab evaluates the threshold rules itself.
	Alertmanager Alertmanager
	// AlertmanagerHost names it in messages.
	AlertmanagerHost string
	// Silencer changes silences; nil (or read-only mode) hides the actions.
	Silencer Silencer
	// AlertsEvery is how often alerts are read (default 10s).
	AlertsEvery time.Duration
	// Timeout bounds each Alertmanager request (default 5s).
	Timeout time.Duration
}

// Messages of the Metrics tab; the tab ignores messages that are not its own.
type (
	tickMsg     struct{ gen int }
	snapshotMsg struct {
		snap opmetrics.Snapshot
		gen  int
	}
	alertsTickMsg struct{}
	alertsMsg     struct {
		alerts   []alerts.Alert
		silences []alerts.Silence
		err      error
		at       time.Time
	}
	silenceDoneMsg struct {
		what string
		err  error
	}
)
