package backup_test

import (
	"context"
	"errors"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
)

// TestRolesAreCheckedInOps: whatever a UI offered, the engine refuses an
// action to a role below it, and audits the refusal with the SSH identity
// that asked. No server is needed: the refusal comes before any I/O.
func TestRolesAreCheckedInOps(t *testing.T) {
	cfg := config.Default()
	dir := t.TempDir()
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Backup.Dir = filepath.Join(dir, "backups")
	eng, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Audit.Close()
	as := func(role access.Role, user string) context.Context {
		return access.WithIdentity(accesstest.Admin(context.Background()), access.Identity{
			User: user, Roles: map[string]access.Role{access.AllEnvs: role},
			SSH: &audit.SSH{User: user, KeyFingerprint: "SHA256:" + user, RemoteAddr: "10.1.2.3:4444"},
		})
	}
	viewer, operator := as(access.Viewer, "vic"), as(access.Operator, "olga")

	if _, err := eng.Backup(viewer, backup.Options{Kind: "database"}); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("viewer backup: %v, want forbidden", err)
	}
	if _, err := eng.Verify(viewer, backup.VerifyOptions{All: true}); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("viewer verify: %v, want forbidden", err)
	}
	if _, err := eng.Prune(operator, backup.PruneOptions{}); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("operator prune: %v, want forbidden (prune is admin's)", err)
	}
	recs, err := audit.Read(audit.PathIn(cfg.StateDir), audit.Filter{Result: audit.ResultRefused})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("want 3 refusals audited, got %+v", recs)
	}
	for _, r := range recs {
		if r.SSH == nil || r.SSH.RemoteAddr != "10.1.2.3:4444" || !strings.Contains(r.Error, "needs the") {
			t.Errorf("refusal without the SSH identity or the reason: %+v", r)
		}
	}
}
