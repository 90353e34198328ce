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
// sessions of a server: a session asking again within fresh gets it
// without reading every pod's log again.
type errorKinds struct {
	mu  sync.Mutex // held during a run: sessions asking at once wait for it
	res *kube.ErrorKinds
	at  time.Time
}

// errorKindsFresh is how long a run answers the sessions that ask.
const errorKindsFresh = 2 * time.Minute

// findErrorKinds returns the new kinds of errors of the last day, the run
// not recorded (the CLI's and maintain health's runs are the ones that
// move "new since"). The caller's context must carry an identity, as
// reading logs needs, even when a shared run answers.
func (s *Sources) findErrorKinds(ctx context.Context, cfg *config.Config) (*kube.ErrorKinds, error) {
	if _, ok := access.FromContext(ctx); !ok {
		return nil, fmt.Errorf("error templates refused: the request carries no identity: %w", access.ErrNoIdentity)
	}
	e := &s.errorKinds
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.res != nil && time.Since(e.at) < errorKindsFresh {
		return e.res, nil
	}
	_, client, err := s.kubeCache(s.ctx, cfg)
	if err != nil {
		return nil, err
	}
	res, err := client.FindErrorKinds(ctx, kube.ErrorKindsOptions{Since: errorKindsSince, Env: cfg.Env().Name,
		StateDir: cfg.StateDir, Secrets: cfg.Secrets()})
	if err != nil {
		return nil, err
	}
	e.res, e.at = res, time.Now()
	return res, nil
}
