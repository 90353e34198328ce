package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// server is what PostgresServer and RedisServer share: one child process,
// which a test may crash (Kill), bring back (restart) or stop for good with
// its files (stop).
type server struct {
	name    string // "PostgreSQL", "Redis": for messages
	mu      sync.Mutex
	proc    *Process
	removed bool
}

// PID is the server's process id, 0 when not running.
func (s *server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.Exited() {
		return 0
	}
	return s.proc.PID
}

// Kill stops the server with SIGKILL, like a crash, and keeps its files so
// that Restart can bring it back.
func (s *server) Kill() error {
	s.mu.Lock()
	proc := s.proc
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	return proc.Kill()
}

// restart stops the server if it runs and starts it again with start, unless
// its files are gone.
func (s *server) restart(ctx context.Context, start func(context.Context) error) error {
	s.mu.Lock()
	proc, removed := s.proc, s.removed
	s.mu.Unlock()
	if removed {
		return fmt.Errorf("restart %s: the server was stopped and its files removed — start a new one", s.name)
	}
	if proc != nil {
		if err := proc.Stop(); err != nil {
			return err
		}
	}
	return start(ctx)
}

// stop stops the process (its configured signal, SIGKILL after 5s) and
// removes dir. It is safe to call more than once.
func (s *server) stop(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.proc != nil {
		errs = append(errs, s.proc.Stop())
	}
	if !s.removed {
		if err := removeDir(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
		} else {
			s.removed = true
		}
	}
	return errors.Join(errs...)
}
