package backup

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opsdeck/opsdeck/ops/lockfile"
)

// The store lock model. A store has one lock file, Store.LockPath, taken
// in one of three uses (LockUse):
//
//   - LockReader: the store lock Shared. Verify takes it (and later the
//     restore drills and the WAL fetch of a recovery): any number of
//     readers run at once and beside a backup, none beside a prune or a
//     restore, so a set never disappears under a reader.
//   - LockBackup: the store lock Shared plus an Exclusive second lock,
//     BackupLockPath (<LockPath>.backup). Two backups never run at once
//     (their sets' IDs, the leftovers each cleans, the metrics file), but
//     readers run beside a backup. A backup cleans the leftovers of killed
//     backups under it: only a backup stages sets, the backup lock says no
//     other one is staging, and readers only read committed sets, so what
//     it removes is nobody's.
//   - LockExclusive: the store lock Exclusive, nothing else beside it.
//     Prune (which deletes committed sets and leftovers), a restore for its
//     whole run (its safety backup runs under it, Options.HeldLock) and its
//     recovery take it.
//
// Every lock is taken without waiting: a refusal is a *LockedError naming
// every holder. The WAL streamer takes none of these: it has its own
// per-slot lock (ops/lockfile) and writes objects outside the sets.

// LockUse is one of the three uses of the store lock.
type LockUse int

const (
	// LockReader is the store lock Shared: verify, drills.
	LockReader LockUse = iota + 1
	// LockBackup is the store lock Shared plus the backup lock Exclusive.
	LockBackup
	// LockExclusive is the store lock Exclusive: prune, restore.
	LockExclusive
)

// String names the use.
func (u LockUse) String() string {
	switch u {
	case LockReader:
		return "reader"
	case LockBackup:
		return "backup"
	case LockExclusive:
		return "exclusive"
	}
	return fmt.Sprintf("LockUse(%d)", int(u))
}

// ErrLocked is returned (wrapped in a *LockedError) when the store is held
// in a way that excludes the lock asked for. errors.Is(err,
// lockfile.ErrLocked) is true as well.
var ErrLocked = errors.New("the backup store is locked")

// Holder says who holds a store lock.
type Holder = lockfile.Holder

// LockedError says who holds the lock and since when.
type LockedError struct {
	// Path is the lock file that was refused: LockPath, or BackupLockPath
	// when another backup runs.
	Path string
	// Holder is the oldest holder (zero when the holder did not say who
	// it is); Holders are all of them (several readers).
	Holder  Holder
	Holders []Holder
	cause   *lockfile.LockedError
}

func (e *LockedError) Error() string {
	if e.Holder.PID == 0 || e.cause == nil {
		return fmt.Sprintf("the backup store is locked (%s) by a process that did not say who it is — wait for it to finish", e.Path)
	}
	// "…: restore database is running, held by carol on host (pid N) since
	// … (… ago) — wait for it to finish, or check that pid N is alive"; for
	// several readers each one, and "them" and every pid.
	return "the backup store is locked: " + e.cause.Held() + " — " + e.cause.Advice()
}

// Unwrap makes errors.Is true for ErrLocked and lockfile.ErrLocked.
func (e *LockedError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrLocked}
	}
	return []error{ErrLocked, e.cause}
}

// Actions names what the holders run ("verify, backup database").
func (e *LockedError) Actions() string {
	var a []string
	for _, h := range e.Holders {
		a = append(a, h.Action)
	}
	return strings.Join(a, ", ")
}

// Lock is a held store lock in one use; Release frees it. The kernel frees
// it too when the process dies, however it dies.
type Lock struct {
	use    LockUse
	store  *lockfile.Lock
	backup *lockfile.Lock // LockBackup only
	lease  *lease         // a store shared between hosts (lease.go)
}

// BackupLockPath is the second lock a backup holds Exclusive beside the
// store lock Shared.
func BackupLockPath(s Store) string { return s.LockPath() + ".backup" }

// AcquireLock takes the store to itself (LockExclusive) for action without
// waiting: what prune and restores take. When anything else holds it, it
// returns a *LockedError naming the holders.
func AcquireLock(s Store, action, user string) (*Lock, error) {
	return AcquireLockFor(s, LockExclusive, action, user)
}

// AcquireLockFor takes the store lock in use for action without waiting;
// a refusal is a *LockedError naming the holders. On a store shared
// between hosts (S3) it takes the store-side lease too (lease.go); its
// refusal is a *LeaseError.
func AcquireLockFor(s Store, use LockUse, action, user string) (*Lock, error) {
	h := lockfile.Self(action, user)
	l, err := acquireLocal(s, use, h)
	if err != nil || !leased(s) {
		return l, err
	}
	if l.lease, err = acquireLease(s, use, h); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// acquireLocal takes the local lock files of use.
func acquireLocal(s Store, use LockUse, h Holder) (*Lock, error) {
	switch use {
	case LockReader:
		l, err := lockfile.Acquire(s.LockPath(), lockfile.Shared, h)
		if err != nil {
			return nil, lockError(err)
		}
		return &Lock{use: use, store: l}, nil
	case LockExclusive:
		l, err := lockfile.Acquire(s.LockPath(), lockfile.Exclusive, h)
		if err != nil {
			return nil, lockError(err)
		}
		return &Lock{use: use, store: l}, nil
	case LockBackup:
		// The backup lock first: a second backup is refused naming the
		// first, whatever readers hold.
		b, err := lockfile.Acquire(BackupLockPath(s), lockfile.Exclusive, h)
		if err != nil {
			return nil, lockError(err)
		}
		l, err := lockfile.Acquire(s.LockPath(), lockfile.Shared, h)
		if err != nil {
			b.Release()
			return nil, lockError(err)
		}
		return &Lock{use: use, store: l, backup: b}, nil
	}
	return nil, fmt.Errorf("backup: unknown lock use %d", int(use))
}

// lockError turns a lockfile refusal into a *LockedError.
func lockError(err error) error {
	var le *lockfile.LockedError
	if !errors.As(err, &le) {
		return err
	}
	out := &LockedError{Path: le.Path, Holders: le.Holders, cause: le}
	if len(le.Holders) > 0 {
		out.Holder = le.Holders[0]
	}
	return out
}

// Use is the use the lock was taken in.
func (l *Lock) Use() LockUse {
	if l == nil {
		return 0
	}
	return l.use
}

// Held reports whether the lock is still held.
func (l *Lock) Held() bool { return l != nil && l.store.Held() }

// Release frees the lock. It is safe to call more than once and on nil.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	err := l.lease.release()
	return errors.Join(err, l.store.Release(), l.backup.Release())
}
