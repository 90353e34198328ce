package backup

import (
	"context"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"testing"
	"time"
)

// TestPruneKeepsNewestVerified takes three redis sets "100, 90 and 80 days
// ago" and one whose verify failed, then prunes today: everything is past
// the 30-day retention, yet the newest verified set stays.
func TestPruneKeepsNewestVerified(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	cfg := testConfig(t)
	e := newEngine(t, cfg)
	now := time.Now()
	var ids []string
	for _, ago := range []int{100, 90, 80, 70} {
		t0 := now.Add(-time.Duration(ago) * 24 * time.Hour)
		e.Now = func() time.Time { return t0 }
		res, err := e.Backup(ctx, Options{Kind: Redis})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Manifest.ID)
	}
	// The newest set's verify fails: it must not be the one kept.
	e.Now = func() time.Time { return now }
	bad := VerifyResult{ID: ids[3], At: now, OK: false, Problems: []string{"damaged"}}
	if err := e.saveVerify(ctx, ids[3], bad); err != nil {
		t.Fatal(err)
	}
	dry, err := e.Prune(ctx, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(dry.Plan.Deletes()); n != 3 {
		t.Fatalf("dry run plans %d deletions: %+v", n, dry.Plan.Decisions)
	}
	if c, _, _ := e.Store.List(ctx); len(c) != 4 {
		t.Fatalf("dry run deleted: %v", c)
	}
	res, err := e.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	left, _, _ := e.Store.List(ctx)
	if len(left) != 1 || left[0] != ids[2] {
		t.Fatalf("left %v, want only the newest verified %s (deleted %v)", left, ids[2], res.Deleted)
	}
}
