package cockpit

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/logging"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// walStreamer is the WAL streamer a cockpit process runs for its
// lifetime when postgres.wal.stream is on (opsdeck serve, the demo).
type walStreamer struct {
	s      *opwal.Streamer
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error // why it ended: another streamer holds the slot, a refusal
}

// startWAL starts the streamer as the system job "wal-stream" (an
// operator: it may stream, nothing more). Another streamer holding the
// slot (a systemd unit, `opsdeck wal stream`) is not an error: this one
// then says where the archive is streamed from.
func (s *Sources) startWAL(ctx context.Context, eng *backup.Engine) {
	ctx, cancel := context.WithCancel(access.WithIdentity(ctx, access.System("wal-stream", access.Operator)))
	w := &walStreamer{s: opwal.New(eng), cancel: cancel, done: make(chan struct{})}
	s.wal = w
	go func() {
		defer close(w.done)
		err := w.s.Run(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			if !errors.Is(err, opwal.ErrStreaming) {
				slog.Warn("wal stream ended", logging.Err(err))
			}
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
	}()
}

// WALState returns the state of the streamer this process runs, and false
// when it runs none; err says why a streamer that was started ended.
func (s *Sources) WALState() (st opwal.State, running bool, err error) {
	w := s.wal
	if w == nil {
		return st, false, nil
	}
	w.mu.Lock()
	err = w.err
	w.mu.Unlock()
	return w.s.State(), err == nil, err
}

// stopWAL stops the streamer and waits for it: what it received is made
// durable before it returns.
func (s *Sources) stopWAL() {
	if s.wal != nil {
		s.wal.cancel()
		<-s.wal.done
	}
}
