package wal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
)

// ErrStreaming is returned when another streamer holds the slot.
var ErrStreaming = errors.New("another WAL streamer runs for this slot")

// streamerLock is the per-slot lock that keeps two streamers apart
// (serve, a systemd unit, the CLI). The kernel frees it when the process
// dies, however it dies.
type streamerLock struct{ f *os.File }

// LockPath is the streamer lock of slot under stateDir.
func LockPath(stateDir, slot string) string {
	return filepath.Join(stateDir, "locks", "wal-stream-"+slot+".lock")
}

type holder struct {
	PID   int       `json:"pid"`
	User  string    `json:"user"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

func acquireStreamerLock(stateDir, slot string, ctx context.Context) (*streamerLock, error) {
	path := LockPath(stateDir, slot)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("streamer lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("streamer lock %s: %w — check permissions of the state dir", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var h holder
			if b, rerr := io.ReadAll(io.LimitReader(f, 4096)); rerr == nil {
				_ = json.Unmarshal(b, &h)
			}
			return nil, fmt.Errorf("%w %q: %s on %s (pid %d) since %s — stop it first (opsdeck serve with postgres.wal.stream, a systemd unit, or another `opsdeck wal stream`): %w",
				ErrStreaming, slot, h.User, h.Host, h.PID, h.Since.Local().Format("2006-01-02 15:04:05"), err)
		}
		return nil, fmt.Errorf("streamer lock %s: %w", path, err)
	}
	who := audit.CurrentUser()
	if id, ok := access.FromContext(ctx); ok {
		who = id.String()
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(holder{PID: os.Getpid(), User: who, Host: host, Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return &streamerLock{f: f}, nil
}

// Release frees the lock; safe twice.
func (l *streamerLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	l.f.Close()
	l.f = nil
}
