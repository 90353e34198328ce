package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// The store-side lease. The store lock (lock.go) is a local file: it
// serializes the runs of one host. A store several hosts write — an S3
// bucket the bastion and the cluster's CronJobs share — also takes a
// lease in the store itself, beside the local lock, with the same three
// uses and the same conflicts:
//
//  1. the run writes its lease object, locks/<id>.json (its use and
//     holder), then lists locks/;
//  2. any other live lease its use conflicts with — a reader and a backup
//     with an exclusive one, a backup with another backup, an exclusive
//     one with any — and it deletes its own and is refused, naming the
//     holders. Two runs that start together may both be refused (try
//     again); they can never both run, since the second to write always
//     lists the first's lease (S3 reads its writes).
//
// A lease is live while the store's clock says it was renewed less than
// LeaseTTL ago (each holder rewrites it every LeaseTTL/4; its object's
// modification time, compared with that of the lease just written, so no
// two hosts' clocks are compared); a run killed outright leaves a lease
// that expires by itself. A holder that cannot renew goes on (the work it
// started is not interrupted); its lease then expires.

// LeaseTTL is how long a lease lives after its last renewal.
var LeaseTTL = 2 * time.Minute

// leasePrefix holds the leases, outside the sets (ObjectPrefixes).
const leasePrefix = "locks/"

// leaseTimeout bounds each of a lease's store calls.
const leaseTimeout = 15 * time.Second

// leaseRecord is a lease object's content.
type leaseRecord struct {
	Use    string `json:"use"`
	Holder Holder `json:"holder"`
}

// lease is a held store-side lease: its key and its renewal.
type lease struct {
	store Store
	key   string
	data  []byte
	stop  chan struct{}
	done  sync.WaitGroup
	once  sync.Once
}

// LeaseError is a store-side lease refused: the holders another host (or
// this one) runs. errors.Is(err, ErrLocked) is true.
type LeaseError struct {
	Store   string
	Holders []Holder
}

func (e *LeaseError) Error() string {
	var parts []string
	for _, h := range e.Holders {
		parts = append(parts, h.Describe())
	}
	return fmt.Sprintf("the backup store %s is locked by another host: %s — wait for it to finish (a lease not renewed for %v expires by itself)",
		e.Store, strings.Join(parts, "; "), LeaseTTL)
}

// Unwrap makes errors.Is true for ErrLocked.
func (e *LeaseError) Unwrap() error { return ErrLocked }

// leased reports whether st is shared between hosts (an S3 store): its
// lock then takes a store-side lease too.
func leased(st Store) bool {
	for {
		switch s := st.(type) {
		case *S3Store:
			return true
		case interface{ Unwrap() Store }:
			st = s.Unwrap()
		default:
			return false
		}
	}
}

// conflicts reports whether a lease of use a excludes one of use b.
func conflicts(a, b LockUse) bool {
	switch {
	case a == LockExclusive || b == LockExclusive:
		return true
	case a == LockBackup && b == LockBackup:
		return true
	}
	return false
}

func parseUse(s string) LockUse {
	for _, u := range []LockUse{LockReader, LockBackup, LockExclusive} {
		if u.String() == s {
			return u
		}
	}
	return 0
}

// acquireLease writes this run's lease and keeps it unless a live lease
// its use conflicts with is in the store.
func acquireLease(st Store, use LockUse, h Holder) (*lease, error) {
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	l := &lease{store: st, key: leasePrefix + hex.EncodeToString(id[:]) + ".json", stop: make(chan struct{})}
	var err error
	if l.data, err = json.Marshal(leaseRecord{Use: use.String(), Holder: h}); err != nil {
		return nil, err
	}
	if err := st.PutObject(ctx, l.key, l.data); err != nil {
		return nil, fmt.Errorf("write the store's lease: %w", err)
	}
	holders, err := conflicting(ctx, st, l.key, use)
	if err != nil || len(holders) > 0 {
		_ = st.DeleteObject(context.WithoutCancel(ctx), l.key)
		if err != nil {
			return nil, fmt.Errorf("read the store's leases: %w", err)
		}
		return nil, &LeaseError{Store: st.String(), Holders: holders}
	}
	l.done.Go(l.renew)
	return l, nil
}

// conflicting lists the holders of the live leases other than own that
// use conflicts with; expired ones are deleted on the way.
func conflicting(ctx context.Context, st Store, own string, use LockUse) ([]Holder, error) {
	objs, err := st.ListObjects(ctx, leasePrefix)
	if err != nil {
		return nil, err
	}
	var now time.Time
	for _, o := range objs {
		if o.Key == own {
			now = o.ModTime // the store's clock
		}
	}
	if now.IsZero() {
		return nil, errors.New("the lease just written is not listed")
	}
	var out []Holder
	for _, o := range objs {
		if o.Key == own {
			continue
		}
		if now.Sub(o.ModTime) > LeaseTTL {
			_ = st.DeleteObject(ctx, o.Key) // a killed run's
			continue
		}
		rec, err := readLease(ctx, st, o.Key)
		if errors.Is(err, ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		if other := parseUse(rec.Use); other == 0 || conflicts(use, other) {
			out = append(out, rec.Holder)
		}
	}
	return out, nil
}

func readLease(ctx context.Context, st Store, key string) (leaseRecord, error) {
	var rec leaseRecord
	rc, err := st.OpenObject(ctx, key)
	if err != nil {
		return rec, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("lease %s: %w", key, err)
	}
	return rec, nil
}

// renew rewrites the lease every LeaseTTL/4 until it is released.
func (l *lease) renew() {
	t := time.NewTicker(LeaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		if err := l.store.PutObject(ctx, l.key, l.data); err != nil {
			slog.Warn("renew the store's lease", logging.KeyTarget, l.store.String(), logging.Err(err))
		}
		cancel()
	}
}

// release stops the renewal and deletes the lease. Safe on nil and twice.
func (l *lease) release() error {
	if l == nil {
		return nil
	}
	var err error
	l.once.Do(func() {
		close(l.stop)
		l.done.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		defer cancel()
		if derr := l.store.DeleteObject(ctx, l.key); derr != nil {
			err = fmt.Errorf("delete the store's lease (it expires in %v): %w", LeaseTTL, derr)
		}
	})
	return err
}
