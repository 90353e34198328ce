package maintain

import (
	"context"
	"errors"
	"sync"
)

// runState remembers, for one run, the targets that could not be reached,
// so that the areas after the first one do not each wait for the same
// dead server and report it again.
type runState struct {
	mu   sync.Mutex
	down map[string]error
	up   map[string]bool
}

type runStateKey struct{}

func withRunState(ctx context.Context) context.Context {
	return context.WithValue(ctx, runStateKey{}, &runState{down: map[string]error{}, up: map[string]bool{}})
}

func stateOf(ctx context.Context) *runState {
	st, _ := ctx.Value(runStateKey{}).(*runState)
	return st
}

// errReported wraps the failure of a target already reported in this run.
type errReported struct{ err error }

func (e *errReported) Error() string { return "not reachable (reported above): " + e.err.Error() }
func (e *errReported) Unwrap() error { return e.err }

// knownDown returns the reported failure of target in this run, if any.
func knownDown(ctx context.Context, target string) error {
	st := stateOf(ctx)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.down[target]; err != nil {
		return &errReported{err}
	}
	return nil
}

// markDown records that target failed in this run (a missing
// configuration is not a failure to remember).
func markDown(ctx context.Context, target string, err error) {
	st := stateOf(ctx)
	if st == nil || err == nil || errors.Is(err, errNotConfigured) {
		return
	}
	st.mu.Lock()
	st.down[target] = err
	st.mu.Unlock()
}

// markUp records that target answered in this run; it reports whether it
// had already.
func markUp(ctx context.Context, target string) (already bool) {
	st := stateOf(ctx)
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	already = st.up[target]
	st.up[target] = true
	return already
}
