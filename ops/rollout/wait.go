package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// The intervals between two looks at the rollouts: the first, and the
// most it grows to while nothing changes.
const (
	pollFirst = 250 * time.Millisecond
	pollMax   = 5 * time.Second
)

// WaitOp is the progress events' Op.
const WaitOp = "rollout"

// Waited is how a wait ended.
type Waited struct {
	// Done: every rollout finished. Failed names the ones that failed
	// (a Deployment past its progress deadline). TimedOut: the timeout
	// passed first.
	Done     bool
	Failed   []string
	TimedOut bool
	Took     time.Duration
}

// Wait follows the rollouts of the workloads req names (all of the
// namespaces' when none) until every one is done, one failed, or timeout
// passed, looking at their controllers' status with a growing interval
// (250ms, up to 5s while nothing changes). Each change is an event to
// emit: Info while a rollout moves, Finish when it is done, Fail when it
// failed. A list that fails is a Warn event and the wait goes on. The
// context must carry an identity; its end (Ctrl-C) ends the wait with its
// error. An unknown NAME is an error wrapping ErrUnknownWorkload.
func Wait(ctx context.Context, client *kube.Client, req Request, timeout, requestTimeout time.Duration, emit progress.Func) (Waited, error) {
	if _, ok := access.FromContext(ctx); !ok {
		return Waited{}, fmt.Errorf("deploy wait refused: the request carries no identity: %w", access.ErrNoIdentity)
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := map[Ref]string{}
	interval := pollFirst
	for {
		changed, w, err := look(wctx, client, req, requestTimeout, last, emit)
		switch {
		case err != nil && errors.Is(err, ErrUnknownWorkload):
			return Waited{}, err
		case err != nil && ctx.Err() == nil && wctx.Err() == nil:
			emit.Emit(progress.Event{Kind: progress.Warn, Op: WaitOp, Message: err.Error()})
		case err == nil && (w.Done || len(w.Failed) > 0):
			w.Took = time.Since(start)
			return w, nil
		}
		if changed {
			interval = pollFirst
		} else {
			interval = min(interval*3/2, pollMax)
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return Waited{Took: time.Since(start)}, fmt.Errorf("waiting for the rollouts: %w", ctx.Err())
			}
			return Waited{TimedOut: true, Took: time.Since(start)}, nil
		}
	}
}

// look reads the controllers once, emits what changed since last and
// says whether every selected rollout is done or which failed.
func look(ctx context.Context, client *kube.Client, req Request, requestTimeout time.Duration, last map[Ref]string, emit progress.Func) (changed bool, w Waited, err error) {
	lctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	objs, err := kube.FetchWorkloads(lctx, client, req.Namespaces, true)
	if err != nil {
		return false, Waited{}, err
	}
	picked, err := Select(Workloads(objs), req.Names)
	if err != nil {
		return false, Waited{}, err
	}
	w.Done = true
	for _, wl := range picked {
		p := wl.Progress
		if last[wl.Ref] != p.Message {
			changed = true
			last[wl.Ref] = p.Message
			ev := progress.Event{Kind: progress.Info, Op: WaitOp, Step: wl.String(), Message: p.Message, Done: int64(p.Available), Total: int64(p.Desired)}
			switch {
			case p.Failed:
				ev.Kind, ev.Message, ev.Err = progress.Fail, "", p.Message
			case p.Done:
				ev.Kind = progress.Finish
			}
			emit.Emit(ev)
		}
		if p.Failed {
			w.Failed = append(w.Failed, wl.String())
		}
		w.Done = w.Done && p.Done
	}
	return changed, w, nil
}
