package maintenance

import (
	"context"
	"time"

	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Engine is what the tab needs of the maintenance engine; *maintain.Engine
// is one, tests give a fake.
type Engine interface {
	Run(ctx context.Context, o opmaintain.Options) (*opmaintain.Report, error)
	Apply(ctx context.Context, f opmaintain.Finding, p progress.Func) opmaintain.ActionResult
	LastRuns() map[opmaintain.Mode]opmaintain.LastRun
}

// Sources are the tab's data sources, built outside the TUI so that the
// sessions of a server share one engine.
type Sources struct {
	// Engine returns the maintenance engine (built once by the caller).
	Engine func() (Engine, error)
	// RunTimeout bounds one run (default 30m: a keyspace analysis of a big
	// Redis under its rate cap takes a while).
	RunTimeout time.Duration
	// ActionTimeout bounds one action (default 6h: a VACUUM of a big table).
	ActionTimeout time.Duration
}

// Messages of the Maintenance tab, and what its jobs end with.
type (
	engineMsg struct {
		eng Engine
		err error
	}
	lastRunsMsg struct {
		runs map[opmaintain.Mode]opmaintain.LastRun
	}
	// runResult is what a run ends with (job.DoneMsg's result).
	runResult struct {
		mode opmaintain.Mode
		rep  *opmaintain.Report
		err  error
	}
	// actionResult is what an action ends with (job.DoneMsg's result).
	actionResult struct {
		res opmaintain.ActionResult
	}
)
