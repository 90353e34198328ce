package restore_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// TestDrillFullProvesEachComponent: a full set of the sandbox (database,
// Redis, config) is drilled in one plan: each component proven its own
// way, one history record naming the three, nothing left behind.
func TestDrillFullProvesEachComponent(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	cfg := *sb.Config
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	work, err := os.MkdirTemp("", "drill-work-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(work, 0o755)
	t.Cleanup(func() { os.RemoveAll(work) })
	cfg.Restore.WorkDir = work
	be, err := backup.New(&cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Audit.Close() })
	res, err := be.Backup(ctx, backup.Options{Kind: "full"})
	if err != nil && res.Manifest == nil {
		t.Fatal(err)
	}
	for _, c := range []string{backup.Database, backup.Redis, backup.Config} {
		if comp, ok := res.Manifest.Component(c); !ok || comp.Status != backup.StatusOK {
			t.Fatalf("the full set's %s: %+v (%v)", c, comp, err)
		}
	}
	e := oprestore.New(be)
	octx := accesstest.As(context.Background(), "test-operator", access.Operator)
	plan, err := e.Prepare(octx, oprestore.Options{Kind: oprestore.Full, ID: res.Manifest.ID, Drill: config.DrillInstance}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Run(octx, plan, nil)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Steps)
	}
	d := rep.Drill
	if d.Outcome != oprestore.Proven || !d.Cleaned || len(d.Parts) != 3 {
		t.Fatalf("%+v", d)
	}
	for c, want := range map[string]string{"database": oprestore.ProofFingerprints, "redis": oprestore.ProofDigest, "config": oprestore.ProofDryRun} {
		if p := d.Parts[c]; p == nil || p.Proof != want {
			t.Errorf("%s: %+v, want proof %s", c, p, want)
		}
	}
	recs, err := oprestore.ReadDrills(cfg.StateDir)
	if err != nil || len(recs) != 1 || !slices.Equal(recs[0].Components, []string{"database", "redis", "config"}) {
		t.Fatalf("history %+v %v", recs, err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("left in the work directory: %v", entries)
	}
}
