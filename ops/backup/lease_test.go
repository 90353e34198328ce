package backup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
)

// twoHosts are two S3 stores on one bucket with state directories (and
// so local lock files) of their own: two hosts sharing a store.
func twoHosts(t *testing.T) (a, b Store) {
	t.Helper()
	cfg := config.Default()
	s3Config(t, cfg)
	open := func() Store {
		st, err := NewS3Store(cfg.Backup.S3, t.TempDir(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return TraceStore(st)
	}
	return open(), open()
}

// The store-side lease keeps the lock's conflicts between hosts: an
// exclusive holder on one refuses every use on the other, naming it;
// readers share with readers and a backup; two backups never run at once.
func TestLeaseBetweenHosts(t *testing.T) {
	a, b := twoHosts(t)
	prune, err := AcquireLock(a, "prune", "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, use := range []LockUse{LockReader, LockBackup, LockExclusive} {
		_, err := AcquireLockFor(b, use, "backup database", "cron")
		var le *LeaseError
		if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || len(le.Holders) != 1 || le.Holders[0].User != "alice" ||
			!strings.Contains(err.Error(), "prune is running, held by alice") {
			t.Fatalf("%v beside a prune on the other host: %v", use, err)
		}
	}
	if err := prune.Release(); err != nil {
		t.Fatal(err)
	}
	r1, err := AcquireLockFor(a, LockReader, "verify", "alice")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := AcquireLockFor(b, LockReader, "drill", "bob")
	if err != nil {
		t.Fatalf("a reader beside a reader: %v", err)
	}
	bk, err := AcquireLockFor(b, LockBackup, "backup database", "cron")
	if err != nil {
		t.Fatalf("a backup beside readers: %v", err)
	}
	if _, err := AcquireLockFor(a, LockBackup, "backup redis", "alice"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "backup database is running, held by cron") {
		t.Fatalf("a second backup on the other host: %v", err)
	}
	if _, err := AcquireLock(a, "restore database", "alice"); !errors.Is(err, ErrLocked) {
		t.Fatalf("a restore beside readers and a backup: %v", err)
	}
	for _, l := range []*Lock{r1, r2, bk} {
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := a.ListObjects(context.Background(), leasePrefix)
	if err != nil || len(objs) != 0 {
		t.Fatalf("leases left after release: %v %v", objs, err)
	}
	if _, err := List(context.Background(), a); err != nil {
		t.Fatalf("the sets' listing beside the leases: %v", err)
	}
}

// A lease is renewed while held, and one a killed run left expires by
// itself (judged by the store's clock) and is removed.
func TestLeaseRenewsAndExpires(t *testing.T) {
	ttl := LeaseTTL
	LeaseTTL = 1200 * time.Millisecond
	t.Cleanup(func() { LeaseTTL = ttl })
	a, b := twoHosts(t)
	held, err := AcquireLock(a, "restore database", "alice")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * LeaseTTL) // renewed meanwhile
	if _, err := AcquireLockFor(b, LockReader, "verify", "bob"); !errors.Is(err, ErrLocked) {
		t.Fatalf("a held lease expired: %v", err)
	}
	// Killed outright: the renewal stops, the lease stays.
	close(held.lease.stop)
	held.lease.done.Wait()
	time.Sleep(LeaseTTL + 1100*time.Millisecond) // the fake store's clock has whole seconds
	r, err := AcquireLockFor(b, LockReader, "verify", "bob")
	if err != nil {
		t.Fatalf("a dead holder's lease did not expire: %v", err)
	}
	r.Release()
	held.store.Release()
	if objs, _ := a.ListObjects(context.Background(), leasePrefix); len(objs) != 0 {
		t.Fatalf("the expired lease was not removed: %v", objs)
	}
}
