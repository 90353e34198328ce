package lockfile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mode is how a lock is held.
type Mode int

const (
	// Shared may be held by any number of holders at once, never beside
	// an Exclusive one.
	Shared Mode = iota + 1
	// Exclusive is held by one holder, with nothing else beside it.
	Exclusive
)

// String names the mode: "shared", "exclusive".
func (m Mode) String() string {
	switch m {
	case Shared:
		return "shared"
	case Exclusive:
		return "exclusive"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode's name; an unknown one is 0.
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "shared":
		*m = Shared
	case "exclusive":
		*m = Exclusive
	default:
		*m = 0
	}
	return nil
}

func (m Mode) flock() int {
	if m == Exclusive {
		return syscall.LOCK_EX
	}
	return syscall.LOCK_SH
}

// Holder says who holds a lock.
type Holder struct {
	PID    int       `json:"pid"`
	User   string    `json:"user"`
	Host   string    `json:"host"`
	Action string    `json:"action"`
	Since  time.Time `json:"since"`
	Mode   Mode      `json:"mode,omitempty"`
}

// Self is this process as a holder about to run action for user.
func Self(action, user string) Holder {
	host, _ := os.Hostname()
	return Holder{PID: os.Getpid(), User: user, Host: host, Action: action, Since: time.Now().UTC()}
}

// Describe is "<action> is running, held by <user> on <host> (pid N)
// since <time> (<age> ago)".
func (h Holder) Describe() string {
	return fmt.Sprintf("%s is running, held by %s on %s (pid %d) since %s (%s ago)",
		h.Action, h.User, h.Host, h.PID, h.Since.Local().Format("2006-01-02 15:04:05"), time.Since(h.Since).Round(time.Second))
}

// ErrLocked is what a *LockedError is (errors.Is).
var ErrLocked = errors.New("locked")

// LockedError is a refused Acquire: the lock is held in a mode that
// excludes the one wanted.
type LockedError struct {
	Path   string
	Wanted Mode
	// Holders are the live holders, oldest first; empty when the holder
	// did not say who it is (an older opsdeck, or caught between taking
	// the lock and writing its record).
	Holders []Holder
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

func (e *LockedError) Error() string {
	if len(e.Holders) == 0 {
		return fmt.Sprintf("%s is locked by a process that did not say who it is — wait for it to finish", e.Path)
	}
	return fmt.Sprintf("%s is locked: %s — %s", e.Path, e.Held(), e.Advice())
}

// Held describes every holder ("a is running, held by …; b is running, …").
func (e *LockedError) Held() string {
	parts := make([]string, len(e.Holders))
	for i, h := range e.Holders {
		parts[i] = h.Describe()
	}
	return strings.Join(parts, "; ")
}

// Advice is what to do: "wait for it to finish, or check that pid N is
// alive" (for several holders, "them" and "pids N, M").
func (e *LockedError) Advice() string {
	var pids []string
	seen := map[int]bool{}
	for _, h := range e.Holders {
		if !seen[h.PID] {
			seen[h.PID] = true
			pids = append(pids, strconv.Itoa(h.PID))
		}
	}
	switch {
	case len(e.Holders) == 0:
		return "wait for it to finish"
	case len(e.Holders) == 1:
		return "wait for it to finish, or check that pid " + pids[0] + " is alive"
	case len(pids) == 1:
		return "wait for them to finish, or check that pid " + pids[0] + " is alive"
	}
	return "wait for them to finish, or check that pids " + strings.Join(pids, ", ") + " are alive"
}

// Lock is a held lock. Release frees it; the kernel frees it too when the
// process ends.
type Lock struct {
	mu      sync.Mutex
	path    string
	mode    Mode
	holder  Holder
	f       *os.File // the lock file, flock'ed in mode
	rec     *os.File // the holder record, flock'ed exclusive
	recPath string
}

// RecordDir is the directory of the holder records of the lock at path.
func RecordDir(path string) string { return path + ".d" }

// Acquire takes the lock at path in mode without waiting, creating the
// file (0600) and its directory (0700) when missing. h says who holds it
// (Self); a zero PID, Host or Since is filled in. When the lock is held in
// a mode that excludes mode, it returns a *LockedError naming the holders.
func Acquire(path string, mode Mode, h Holder) (*Lock, error) {
	if mode != Shared && mode != Exclusive {
		return nil, fmt.Errorf("lock %s: unknown mode %d", path, int(mode))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w — check permissions", path, err)
	}
	if err := flock(f, mode.flock()|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, Wanted: mode, Holders: holdersSettled(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	self := Self(h.Action, h.User)
	if h.PID == 0 {
		h.PID = self.PID
	}
	if h.Host == "" {
		h.Host = self.Host
	}
	if h.Since.IsZero() {
		h.Since = self.Since
	}
	h.Mode = mode
	l := &Lock{path: path, mode: mode, holder: h, f: f}
	if err := l.writeRecord(); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: record the holder: %w", path, err)
	}
	return l, nil
}

// writeRecord writes the holder record under a temporary name, locks it
// and renames it into place, so a reader never sees it unlocked.
func (l *Lock) writeRecord() error {
	dir := RecordDir(l.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	base := strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	tmp := filepath.Join(dir, "."+base+tmpSuffix)
	rec, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		rec.Close()
		os.Remove(tmp)
		return err
	}
	if err := flock(rec, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fail(err)
	}
	b, err := json.Marshal(l.holder)
	if err != nil {
		return fail(err)
	}
	if _, err := rec.Write(append(b, '\n')); err != nil {
		return fail(err)
	}
	final := filepath.Join(dir, base+recordSuffix)
	if err := os.Rename(tmp, final); err != nil {
		return fail(err)
	}
	l.rec, l.recPath = rec, final
	return nil
}

// Release frees the lock and removes its holder record. It is safe to
// call more than once and on a nil Lock.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	var errs []error
	if l.rec != nil {
		if err := os.Remove(l.recPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		l.rec.Close()
		l.rec = nil
	}
	if err := l.f.Close(); err != nil { // closing frees the flock
		errs = append(errs, err)
	}
	l.f = nil
	return errors.Join(errs...)
}

// Held reports whether the lock is still held (not released).
func (l *Lock) Held() bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f != nil
}

// Mode is the mode the lock is held in.
func (l *Lock) Mode() Mode { return l.mode }

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// Holder is who this lock says holds it.
func (l *Lock) Holder() Holder { return l.holder }

// flock retries on EINTR.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
