package tuitest

import (
	"context"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/tui/common"
)

// Incident gives c an incident store in a temporary state dir and its
// watcher (c.Incidents); with open, incident 1 (P1 "API 5xx after
// deploy", by alice) is open since ago before Now, with a note by bob.
func Incident(t testing.TB, c *common.Common, open bool, ago time.Duration) *opincident.Watcher {
	t.Helper()
	cfg := *c.Config
	cfg.StateDir = t.TempDir()
	c.Config = &cfg
	log, err := audit.Open(audit.PathIn(cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = log.Close() })
	store := opincident.NewStore(&cfg, log)
	w := opincident.NewWatcher(store)
	c.Incidents = w
	if open {
		at := Now.Add(-ago)
		store.Now = func() time.Time { return at }
		alice := access.WithIdentity(context.Background(), access.As("alice", access.Operator))
		if _, err := store.Open(alice, "P1", "API 5xx after deploy"); err != nil {
			t.Fatal(err)
		}
		at = at.Add(4 * time.Minute)
		bob := access.WithIdentity(context.Background(), access.As("bob", access.Operator))
		if _, err := store.Note(bob, 0, "rolled api back to 2.14.0"); err != nil {
			t.Fatal(err)
		}
		store.Now = time.Now
	}
	w.Refresh(c.Context)
	return w
}
