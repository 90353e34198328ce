// Package job runs a tab's long operation off the UI goroutine, the one way
// every tab does it: on the session's context (so ops knows who asked and
// the operation ends with the session), bounded by a timeout, registered as
// a task every session of a server sees, with its progress events delivered
// in the order they were sent and all of them before its result.
//
// A tab starts a job with Start, handles EventMsg[R] by applying the event
// and returning msg.Next(), and handles DoneMsg[R] as the end. R is the
// tab's own result type, so the messages reach only the tab that knows it.
package job

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/common"
)

// Options say how a job runs.
type Options struct {
	// Task is the name every session's status bar shows while the job runs
	// ("backup full"); "" keeps it off the task list (a preflight, a plan).
	Task string
	// Timeout bounds the job (0: only the session's end stops it).
	Timeout time.Duration
	// Buffer is how many progress events wait for the UI (default 64).
	// Advance events beyond it are dropped; the others wait, until the
	// session ends (nobody reads them then: they are dropped).
	Buffer int
}

// Handle is a running job.
type Handle struct {
	// ID tells this job's messages from an earlier job's.
	ID int64
	// Cancel stops the job (its context ends); the result still arrives.
	Cancel context.CancelFunc
}

// EventMsg is one progress event of job ID.
type EventMsg[R any] struct {
	ID    int64
	Event progress.Event
	run   *run[R]
}

// Next returns the Cmd that waits for the job's next message; the tab
// returns it from Update after applying the event.
func (m EventMsg[R]) Next() tea.Cmd { return m.run.listen() }

// DoneMsg is the end of job ID: what it returned.
type DoneMsg[R any] struct {
	ID     int64
	Result R
}

var lastID atomic.Int64

// Start runs do in the background on c's session context and returns its
// handle and the Cmd that delivers its messages. Update never waits for it.
func Start[R any](c *common.Common, o Options, do func(ctx context.Context, p progress.Func) R) (Handle, tea.Cmd) {
	parent := c.Context
	var ctx context.Context
	var cancel context.CancelFunc
	if o.Timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, o.Timeout)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	r := &run[R]{id: lastID.Add(1), events: make(chan progress.Event, o.Buffer), results: make(chan R, 1)}
	done := func() {}
	if o.Task != "" {
		done = c.Tasks.Start(ctx, o.Task)
	}
	go func() {
		defer cancel()
		// Once the session has ended nobody reads the events: they are
		// dropped rather than waited on, so the job still ends.
		res := do(ctx, progress.ChanUntil(r.events, parent.Done()))
		// The job's context and its task end before its result arrives:
		// a tab holding the result no longer finds it on the task list,
		// and nothing the job started still runs under its context.
		cancel()
		done()
		r.results <- res
	}()
	return Handle{ID: r.id, Cancel: cancel}, r.listen()
}

// run is the receiving end of one job.
type run[R any] struct {
	id      int64
	events  chan progress.Event
	results chan R

	mu     sync.Mutex
	ended  bool
	result R
}

// listen waits for the job's next event or its end. The events sent before
// the end come first: when the result arrives while events still wait, it
// is held until they are delivered.
func (r *run[R]) listen() tea.Cmd {
	return func() tea.Msg {
		r.mu.Lock()
		ended := r.ended
		r.mu.Unlock()
		if !ended {
			select {
			case ev := <-r.events:
				return EventMsg[R]{ID: r.id, Event: ev, run: r}
			case res := <-r.results:
				r.mu.Lock()
				r.ended, r.result = true, res
				r.mu.Unlock()
			}
		}
		select {
		case ev := <-r.events:
			return EventMsg[R]{ID: r.id, Event: ev, run: r}
		default:
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return DoneMsg[R]{ID: r.id, Result: r.result}
	}
}
