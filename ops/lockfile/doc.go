// Package lockfile is a non-blocking flock(2) lock on a file, Shared or
// Exclusive, that says who holds it.
//
//	l, err := lockfile.Acquire(path, lockfile.Shared, lockfile.Self("verify", user))
//	var le *lockfile.LockedError
//	if errors.As(err, &le) { ... le.Holders ... } // errors.Is(err, lockfile.ErrLocked)
//	defer l.Release()
//
// Any number of Shared holders, or one Exclusive holder, at a time; a
// request that cannot be granted at once fails with a *LockedError naming
// every live holder (several for a shared lock). The kernel frees an flock
// when its process ends, however it ends (SIGKILL, a lost host aside), so a
// lock is never left behind.
//
// Who holds it is kept beside the lock, one record per holder:
// <path>.d/<pid>-<random>.json (0600, the directory 0700), removed by
// Release. A record could outlive a killed holder, so it is not trusted
// for liveness: each holder keeps its own record flock'ed for as long as it
// holds the lock, and a reader counts a record only when it cannot lock it
// itself. A record it can lock belongs to a process that is gone (even if
// its pid was reused since): it is ignored and removed. A record is written
// under a temporary name, locked, then renamed into place, so no reader
// sees a record that is not yet locked. The lock file itself stays empty.
//
// Users: the backup store's lock model (ops/backup: readers Shared, a
// backup Shared plus its own Exclusive lock, prune and restore Exclusive),
// and the WAL streamer's own lock (ops/wal). The streamer never takes the
// store lock (a backup, a verify or a prune run beside it); it takes
// Acquire(wal.LockPath(stateDir, slot), Exclusive, Self("wal stream <slot>",
// user)) — <state_dir>/locks/wal-stream-<slot>.lock, one per replication
// slot — so that opsdeck serve, a systemd unit and the CLI never run two
// streamers for one slot.
//
// Locks are per open file, not per process: two Acquire calls in one
// process exclude each other as two processes would. The lock is local to
// the host (flock over NFS is not to be relied on).
package lockfile
