package cockpit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
)

// errorKindsSince is how far back the Health tab's panel of new kinds of
// errors reads the logs, as `opsdeck logs errors` does by default.
const errorKindsSince = 24 * time.Hour

// streamLogs opens a pod's log stream for the Health tab's log view on the
// shared client, with the configuration's secrets masked. ctx is the
// session's: its identity reaches StreamLogs, which refuses a context
// without one, and its end ends the stream.
func (s *Sources) streamLogs(ctx context.Context, cfg *config.Config, req kube.LogRequest) (healthtab.LogStream, []kube.LogSource, error) {
	_, client, err := s.kubeCache(s.ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	req.Secrets = cfg.Secrets()
	st, err := client.StreamLogs(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Sources, nil
}

// errorKinds is the last run of kube.FindErrorKinds, shared by the
// sessions of a server: one run at a time, in the background on the
// sources' context, whose answer every session asking within
// errorKindsFresh gets.
type errorKinds struct {
	mu      sync.Mutex
	res     *kube.ErrorKinds
	err     error
	at      time.Time     // when the last run ended; zero before the first
	running chan struct{} // closed when the run in progress ends; nil when none
}

// How long a run's answer is given to the sessions that ask, and how long
// a run may take.
const (
	errorKindsFresh   = 2 * time.Minute
	errorKindsTimeout = time.Minute
)

// findErrorKinds returns the new kinds of errors of the last day, the run
// not recorded (the CLI's and maintain health's runs are the ones that
// move "new since"). The caller's context must carry an identity, as
// reading logs needs; the run itself reads as the sources' own identity
// (the local user, or a server's system viewer), so that a session that
// closes does not cut the run the others wait for.
func (s *Sources) findErrorKinds(ctx context.Context, cfg *config.Config) (*kube.ErrorKinds, error) {
	if _, ok := access.FromContext(ctx); !ok {
		return nil, fmt.Errorf("error templates refused: the request carries no identity: %w", access.ErrNoIdentity)
	}
	e := &s.errorKinds
	e.mu.Lock()
	if !e.at.IsZero() && time.Since(e.at) < errorKindsFresh {
		defer e.mu.Unlock()
		return e.res, e.err
	}
	if e.running == nil {
		e.running = make(chan struct{})
		go s.runErrorKinds(cfg, e.running)
	}
	wait := e.running
	e.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.res, e.err
}

// runErrorKinds runs FindErrorKinds once, bounded by errorKindsTimeout,
// keeps its answer and closes done.
func (s *Sources) runErrorKinds(cfg *config.Config, done chan struct{}) {
	ctx, cancel := context.WithTimeout(s.ctx, errorKindsTimeout)
	defer cancel()
	var res *kube.ErrorKinds
	_, client, err := s.kubeCache(s.ctx, cfg)
	if err == nil {
		res, err = client.FindErrorKinds(ctx, kube.ErrorKindsOptions{Since: errorKindsSince, Env: cfg.Env().Name,
			StateDir: cfg.StateDir, Secrets: cfg.Secrets()})
	}
	e := &s.errorKinds
	e.mu.Lock()
	e.res, e.err, e.at, e.running = res, err, time.Now(), nil
	e.mu.Unlock()
	close(done)
}
