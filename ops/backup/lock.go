package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrLocked is returned (wrapped in a *LockedError) when another backup or
// restore holds the store.
var ErrLocked = errors.New("the backup store is locked")

// Holder says who holds the store lock.
type Holder struct {
	PID    int       `json:"pid"`
	User   string    `json:"user"`
	Host   string    `json:"host"`
	Action string    `json:"action"`
	Since  time.Time `json:"since"`
}

// LockedError says who holds the lock and since when.
type LockedError struct {
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("the backup store is locked (%s) by a process that did not say who it is — wait for it to finish", e.Path)
	}
	return fmt.Sprintf("the backup store is locked: %s is running, held by %s on %s (pid %d) since %s (%s ago) — wait for it to finish, or check that pid %d is alive",
		h.Action, h.User, h.Host, h.PID, h.Since.Local().Format("2006-01-02 15:04:05"), time.Since(h.Since).Round(time.Second), h.PID)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is a held store lock; Release frees it. The kernel frees it too
// when the process dies, however it dies.
type Lock struct {
	f *os.File
}

// AcquireLock takes the store's lock for action without waiting: when
// another process holds it, it returns a *LockedError naming the holder.
func AcquireLock(s Store, action, user string) (*Lock, error) {
	path := s.LockPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w — check permissions", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var h Holder
			if b, rerr := io.ReadAll(io.LimitReader(f, 4096)); rerr == nil {
				_ = json.Unmarshal(b, &h)
			}
			return nil, &LockedError{Path: path, Holder: h}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	host, _ := os.Hostname()
	h := Holder{PID: os.Getpid(), User: user, Host: host, Action: action, Since: time.Now().UTC()}
	b, _ := json.Marshal(h)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
		_ = f.Sync()
	}
	return &Lock{f: f}, nil
}

// Release frees the lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing frees the flock
	l.f = nil
	return err
}
