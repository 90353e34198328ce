package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
)

// Sampler reads the current values of a fixed set of series from one
// source. Sample is called from one goroutine at a time.
type Sampler interface {
	// Name identifies the sampler in statuses: "postgres", "postgres size".
	Name() string
	// Interval is how often the Engine calls Sample.
	Interval() time.Duration
	// Series lists what Sample reads, in display order.
	Series() []SeriesInfo
	// Sample reads the series at now. An error means the whole source
	// failed (unreachable, refused); its series keep their history.
	Sample(ctx context.Context, now time.Time) ([]Reading, error)
}

// Options tune an Engine.
type Options struct {
	// Window is the history kept per series (default 15m).
	Window time.Duration
	// Timeout bounds one Sample call (default 5s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Engine runs samplers, each in its own goroutine on its own interval, and
// keeps every series' history in a ring. It is safe for concurrent use: one
// Engine can feed any number of readers (cockpit sessions, the CLI).
type Engine struct {
	opts     Options
	samplers []*samplerState
	changes  chan struct{}

	mu     sync.RWMutex
	series []*seriesState
	byID   map[string]*seriesState

	runMu   sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

type samplerState struct {
	s        Sampler
	interval time.Duration
	// guarded by Engine.mu
	err     error
	lastOK  time.Time
	lastTry time.Time
	took    time.Duration
	runs    int
}

type seriesState struct {
	info    SeriesInfo
	sampler *samplerState
	ring    *Ring
	// the latest reading, guarded by Engine.mu
	last    float64
	lastAt  time.Time
	detail  string
	err     error
	state   health.Status
	since   time.Time
	touched bool
}

// NewEngine prepares an engine for samplers. Nothing runs until Start (or
// SampleOnce).
func NewEngine(opts Options, samplers ...Sampler) *Engine {
	if opts.Window <= 0 {
		opts.Window = 15 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{opts: opts, changes: make(chan struct{}, 1), byID: map[string]*seriesState{}}
	for _, s := range samplers {
		st := &samplerState{s: s, interval: max(s.Interval(), 100*time.Millisecond)}
		e.samplers = append(e.samplers, st)
		capacity := int(opts.Window/st.interval) + 2
		for _, info := range s.Series() {
			if _, dup := e.byID[info.ID]; dup {
				continue
			}
			ss := &seriesState{info: info, sampler: st, ring: NewRing(capacity), last: math.NaN(), state: health.Unknown}
			e.series = append(e.series, ss)
			e.byID[info.ID] = ss
		}
	}
	return e
}

// Window is the history the engine keeps.
func (e *Engine) Window() time.Duration { return e.opts.Window }

// Changes fires (coalesced) after every sample.
func (e *Engine) Changes() <-chan struct{} { return e.changes }

// Start runs every sampler until ctx ends or Stop is called; each samples
// at once, then on its interval. Calling Start again is a no-op.
func (e *Engine) Start(ctx context.Context) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if e.started {
		return
	}
	e.started = true
	ctx, e.cancel = context.WithCancel(ctx)
	for _, st := range e.samplers {
		e.wg.Go(func() { e.loop(ctx, st) })
	}
}

// Stop ends the samplers and waits for them. Idempotent.
func (e *Engine) Stop() {
	e.runMu.Lock()
	cancel := e.cancel
	e.runMu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.wg.Wait()
}

func (e *Engine) loop(ctx context.Context, st *samplerState) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		e.sampleOne(ctx, st)
		// The next sample is due one interval after this one started; a
		// sample slower than the interval is followed at once by the next.
		t.Reset(max(st.interval-time.Since(start), 0))
	}
}

// SampleOnce runs every sampler once, concurrently, and returns when all
// are done or ctx ends. The CLI calls it twice, an interval apart, so that
// rates have two readings.
func (e *Engine) SampleOnce(ctx context.Context) {
	var wg sync.WaitGroup
	for _, st := range e.samplers {
		wg.Go(func() { e.sampleOne(ctx, st) })
	}
	wg.Wait()
}

// Interval is the shortest sampler interval (default 2s when none).
func (e *Engine) Interval() time.Duration {
	d := time.Duration(0)
	for _, st := range e.samplers {
		if d == 0 || st.interval < d {
			d = st.interval
		}
	}
	if d == 0 {
		return 2 * time.Second
	}
	return d
}

func (e *Engine) sampleOne(ctx context.Context, st *samplerState) {
	now := e.opts.Now()
	sctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	start := time.Now()
	readings, err := sampleSafely(sctx, st.s, now)
	took := time.Since(start)
	timedOut := sctx.Err() != nil
	cancel()
	if ctx.Err() != nil {
		return // shutting down: keep the last state
	}
	if err == nil && timedOut {
		err = fmt.Errorf("no answer within %v — the server is slow or unreachable", e.opts.Timeout)
	}
	e.record(st, now, took, readings, err)
	select {
	case e.changes <- struct{}{}:
	default:
	}
}

// sampleSafely turns a sampler's panic into an error: one broken source
// must not take the cockpit down.
func sampleSafely(ctx context.Context, s Sampler, now time.Time) (rs []Reading, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s sampler failed: %v", s.Name(), r)
		}
	}()
	return s.Sample(ctx, now)
}

func (e *Engine) record(st *samplerState, now time.Time, took time.Duration, readings []Reading, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st.lastTry, st.took, st.err = now, took, err
	st.runs++
	if err != nil {
		for _, ss := range e.series {
			if ss.sampler == st {
				ss.setState(health.Unknown, now)
			}
		}
		return
	}
	st.lastOK = now
	for _, r := range readings {
		ss := e.byID[r.ID]
		if ss == nil || ss.sampler != st {
			continue
		}
		ss.touched = true
		ss.detail, ss.err = r.Detail, r.Err
		if r.Err != nil {
			ss.setState(health.Unknown, now)
			continue
		}
		ss.last, ss.lastAt = r.Value, now
		if !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0) {
			ss.ring.Push(Point{At: now, V: r.Value})
		}
		ss.setState(ss.info.Threshold.Judge(r.Value), now)
	}
}

func (ss *seriesState) setState(s health.Status, now time.Time) {
	if s != ss.state || ss.since.IsZero() {
		ss.state, ss.since = s, now
	}
}

// Snapshot is a copy of every series at one moment, safe to keep.
type Snapshot struct {
	At      time.Time      `json:"at"`
	Window  time.Duration  `json:"window_ns"`
	Series  []SeriesView   `json:"series"`
	Sources []SourceStatus `json:"sources"`
}

// SeriesView is one series as a reader sees it.
type SeriesView struct {
	SeriesInfo
	// Points are the values within the window, oldest first.
	Points []Point `json:"points,omitempty"`
	// Value is the latest reading (NaN when there is none); At is when it
	// was read.
	Value float64   `json:"value"`
	At    time.Time `json:"at"`
	// Min and Max are over Points (NaN when there are none).
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// State is the latest value's verdict; Unknown when there is no value
	// or the source failed. Since is when it began.
	State health.Status `json:"state"`
	Since time.Time     `json:"since"`
	// Detail qualifies the value ("12/97 · 3 active"); Err says why there
	// is none (the series' own error, or its source's).
	Detail string `json:"detail,omitempty"`
	Err    string `json:"error,omitempty"`
	// Waiting is true before the first reading (a rate needs two).
	Waiting bool `json:"waiting,omitempty"`
}

// SourceStatus is one sampler's health.
type SourceStatus struct {
	Name     string        `json:"name"`
	Interval time.Duration `json:"interval_ns"`
	// OK is false when the last sample failed; Err says why.
	OK  bool   `json:"ok"`
	Err string `json:"error,omitempty"`
	// LastOK is the last successful sample; Took the last sample's cost.
	LastOK time.Time     `json:"last_ok"`
	Took   time.Duration `json:"took_ns"`
	// Runs counts the samples taken so far.
	Runs int `json:"runs"`
}

// Snapshot copies every series with the points of the last window (the
// engine's window when window is zero or longer).
func (e *Engine) Snapshot(window time.Duration) Snapshot {
	if window <= 0 || window > e.opts.Window {
		window = e.opts.Window
	}
	now := e.opts.Now()
	from := now.Add(-window)
	e.mu.RLock()
	defer e.mu.RUnlock()
	snap := Snapshot{At: now, Window: window, Series: make([]SeriesView, 0, len(e.series))}
	for _, ss := range e.series {
		v := SeriesView{
			SeriesInfo: ss.info,
			Points:     ss.ring.Since(nil, from),
			Value:      ss.last,
			At:         ss.lastAt,
			State:      ss.state,
			Since:      ss.since,
			Detail:     ss.detail,
			Waiting:    !ss.touched && ss.sampler.err == nil,
			Min:        math.NaN(),
			Max:        math.NaN(),
		}
		if lo, hi, ok := MinMax(v.Points); ok {
			v.Min, v.Max = lo, hi
		}
		switch {
		case ss.sampler.err != nil:
			v.Err = ss.sampler.err.Error()
		case ss.err != nil:
			v.Err = ss.err.Error()
		}
		snap.Series = append(snap.Series, v)
	}
	for _, st := range e.samplers {
		s := SourceStatus{Name: st.s.Name(), Interval: st.interval, OK: st.err == nil && st.runs > 0,
			LastOK: st.lastOK, Took: st.took, Runs: st.runs}
		if st.err != nil {
			s.Err = st.err.Error()
		}
		snap.Sources = append(snap.Sources, s)
	}
	return snap
}

// Find returns the series with id.
func (s Snapshot) Find(id string) (SeriesView, bool) {
	for _, v := range s.Series {
		if v.ID == id {
			return v, true
		}
	}
	return SeriesView{}, false
}

// Worst is the most severe state among the series that have a value.
func (s Snapshot) Worst() health.Status {
	w := health.OK
	for _, v := range s.Series {
		if v.State.Worse(w) {
			w = v.State
		}
	}
	return w
}

// ErrNotConfigured is returned (wrapped) by samplers whose source has no
// address in the config.
var ErrNotConfigured = errors.New("not configured")
