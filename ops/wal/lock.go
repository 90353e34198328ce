package wal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/lockfile"
)

// ErrStreaming is returned when another streamer holds the slot.
// errors.Is(err, lockfile.ErrLocked) is true as well.
var ErrStreaming = errors.New("another WAL streamer runs for this slot")

// LockPath is the streamer lock of slot under stateDir: the per-slot lock
// that keeps two streamers apart (serve, a systemd unit, the CLI). It is
// not the store lock, which the streamer never takes: backups, verifies
// and prunes run beside it.
func LockPath(stateDir, slot string) string {
	return filepath.Join(stateDir, "locks", "wal-stream-"+slot+".lock")
}

// acquireStreamerLock takes slot's streamer lock, exclusive, without
// waiting, in the name of ctx's session. The kernel frees it when the
// process dies, however it dies; a refusal names the streamer holding it.
func acquireStreamerLock(stateDir, slot string, ctx context.Context) (*lockfile.Lock, error) {
	who := audit.CurrentUser()
	if id, ok := access.FromContext(ctx); ok {
		who = id.String()
	}
	path := LockPath(stateDir, slot)
	l, err := lockfile.Acquire(path, lockfile.Exclusive, lockfile.Self("wal stream "+slot, who))
	var le *lockfile.LockedError
	switch {
	case errors.As(err, &le) && len(le.Holders) > 0:
		return nil, &streamingError{cause: err, msg: fmt.Sprintf("%v %q: %s — stop it first (opsdeck serve with postgres.wal.stream, a systemd unit, or another `opsdeck wal stream`), or check that pid %d is alive",
			ErrStreaming, slot, le.Held(), le.Holders[0].PID)}
	case errors.As(err, &le):
		return nil, &streamingError{cause: err, msg: fmt.Sprintf("%v %q: a process that did not say who it is holds %s — stop it first", ErrStreaming, slot, path)}
	case err != nil:
		return nil, fmt.Errorf("streamer lock: %w — check permissions of the state dir", err)
	}
	return l, nil
}

// streamingError is a refused streamer lock: ErrStreaming and the lock's
// refusal.
type streamingError struct {
	msg   string
	cause error
}

func (e *streamingError) Error() string   { return e.msg }
func (e *streamingError) Unwrap() []error { return []error{ErrStreaming, e.cause} }
