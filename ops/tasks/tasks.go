// Package tasks is the registry of long operations running in this process
// (a backup, a restore, a maintenance run). Every session of a shared
// `opsdeck serve` sees the same registry, so a backup started in one session
// shows as running, with who started it, in all the others.
package tasks

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
)

// Task is one running operation.
type Task struct {
	ID      int64
	Name    string // e.g. "backup full"
	Who     string // the identity that started it
	Started time.Time
}

// Registry holds the running tasks. The zero value is not usable; use New.
type Registry struct {
	mu      sync.Mutex
	next    int64
	running map[int64]Task
	subs    map[chan struct{}]struct{}
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{running: map[int64]Task{}, subs: map[chan struct{}]struct{}{}}
}

// Start records that the session of ctx started name; call the returned
// function when it ends. A nil registry records nothing.
func (r *Registry) Start(ctx context.Context, name string) (done func()) {
	if r == nil {
		return func() {}
	}
	who := "nobody"
	if id, ok := access.FromContext(ctx); ok {
		who = id.User
	}
	r.mu.Lock()
	r.next++
	t := Task{ID: r.next, Name: name, Who: who, Started: time.Now()}
	r.running[t.ID] = t
	r.mu.Unlock()
	r.notify()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.running, t.ID)
			r.mu.Unlock()
			r.notify()
		})
	}
}

// Running returns the running tasks, oldest first.
func (r *Registry) Running() []Task {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	out := make([]Task, 0, len(r.running))
	for _, t := range r.running {
		out = append(out, t)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Task) int { return int(a.ID - b.ID) })
	return out
}

// Subscribe returns a channel that receives a (coalesced) signal when a task
// starts or ends, until ctx ends.
func (r *Registry) Subscribe(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	if r == nil {
		return ch
	}
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
	})
	return ch
}

func (r *Registry) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
