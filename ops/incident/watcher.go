package incident

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// WatchEvery is how often a Watcher looks at the store: an incident opened
// by another process shows within it.
const WatchEvery = time.Second

// Watcher keeps the open incident of a store at hand for a long-running
// process: every session of `opsdeck serve` reads it (Current) instead of
// the files. It re-reads when the store's directory changed, and at least
// every ten rounds.
type Watcher struct {
	store *Store
	mu    sync.RWMutex
	cur   Incident
	open  bool
	err   error
}

// NewWatcher returns a watcher of store; Run starts it.
func NewWatcher(store *Store) *Watcher { return &Watcher{store: store} }

// Store is the store watched.
func (w *Watcher) Store() *Store { return w.store }

// Run watches until ctx ends. ctx carries the identity the reads are made
// as (the process's system identity).
func (w *Watcher) Run(ctx context.Context) {
	var seen time.Time
	t := time.NewTicker(WatchEvery)
	defer t.Stop()
	for round := 0; ; round++ {
		fi, err := os.Stat(w.store.dir)
		var mod time.Time
		if err == nil {
			mod = fi.ModTime()
		}
		if round%10 == 0 || !mod.Equal(seen) {
			seen = mod
			w.Refresh(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads the open incident now: a session that just changed it
// sees its change at once.
func (w *Watcher) Refresh(ctx context.Context) {
	inc, open, err := w.store.Current(ctx)
	if err != nil {
		slog.Warn("incident watcher", logging.Err(err))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
	if err == nil {
		w.cur, w.open = inc, open
	}
}

// Current returns the open incident as last read, false when none is, and
// the last read's error.
func (w *Watcher) Current() (Incident, bool, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.cur, w.open, w.err
}
