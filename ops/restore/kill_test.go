package restore_test

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pitr"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// childEnv names the hook point at which the child restore kills itself.
const childEnv = "OPSDECK_RESTORE_TEST_CHILD"

// childMain runs a database restore with the config in
// OPSDECK_RESTORE_TEST_CONFIG and SIGKILLs itself right after the named
// step: no undo, no deferred cleanup, as when a bastion host dies.
func childMain() int {
	cfg, err := config.Load(os.Getenv("OPSDECK_RESTORE_TEST_CONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	be, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e := oprestore.New(be)
	oprestore.SetHook(e, os.Getenv(childEnv), func() error {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
		return nil
	})
	ctx := accesstest.Admin(context.Background())
	opts := oprestore.Options{Kind: oprestore.Database, NoSafetyBackup: true}
	if os.Getenv("OPSDECK_RESTORE_TEST_PITR") == "1" {
		opts.PointInTime = &pitr.Target{}
	}
	if os.Getenv("OPSDECK_RESTORE_TEST_MERGE") == "1" {
		opts = mergeCopiesOptions
	}
	if target := os.Getenv("OPSDECK_RESTORE_TEST_DRILL"); target != "" {
		opts = oprestore.Options{Kind: oprestore.Database, Drill: target}
		if k := os.Getenv("OPSDECK_RESTORE_TEST_DRILL_KIND"); k != "" {
			opts.Kind = k
		}
	}
	plan, err := e.Prepare(ctx, opts, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := plan.AcknowledgeOverwrite(plan.ConfirmOverwrite); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := e.Run(ctx, plan, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKilledRestoreIsRecovered kills a restore with SIGKILL as pg_restore
// starts reading the staged dump, after the writers stopped and after the
// swap; the next preflight refuses to run over it, and Recover puts the
// original database and the writers back and removes the staged dump.
func TestKilledRestoreIsRecovered(t *testing.T) {
	f := newDBFixture(t)
	f.exec("INSERT INTO stocks (symbol) VALUES ('LATE')")
	cfgPath := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := f.cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		point       string
		prune       bool // the set is deleted before the recovery
		writersDown bool // the writers were stopped when the run died
	}{{"pg_restore", false, false}, {"after:writers.down", false, true}, {"after:database.swap", false, true}, {"after:database.swap", true, true}} {
		step := tc.point
		t.Run(fmt.Sprintf("%s/set-pruned=%v", strings.TrimPrefix(step, "after:"), tc.prune), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+step, "OPSDECK_RESTORE_TEST_CONFIG="+cfgPath)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					t.Fatalf("the child was not killed: %v %s", err, stderr.String())
				}
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				t.Fatal("the child restore hung")
			}
			if tc.writersDown && f.replicas() != 0 {
				t.Fatalf("the kill left the writer at %d replicas, want 0 (stopped)", f.replicas())
			}
			staged, err := oprestore.StagedDumps(f.cfg)
			if tc.point == "pg_restore" && (err != nil || len(staged) != 1) {
				t.Fatalf("killed as pg_restore starts, the staged dump should be listed: %v %+v", err, staged)
			}
			if tc.prune {
				// A later backup of the original keeps the store useful;
				// the set the dead run read is gone.
				if err := f.be.Store.Delete(accesstest.Admin(context.Background()), f.set.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := f.be.Backup(accesstest.Admin(context.Background()), backup.Options{Kind: backup.Database}); err != nil {
					t.Fatal(err)
				}
			}

			e := f.engine()
			plan, err := e.Prepare(accesstest.Admin(context.Background()), oprestore.Options{Kind: oprestore.Database}, nil)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, c := range plan.Checks {
				if c.Name == "interrupted restore" && c.Status == health.Crit && strings.Contains(c.Detail, "opsdeck restore recover") {
					found = true
				}
			}
			if !found {
				t.Fatalf("the preflight does not stop at the interrupted restore: %+v", plan.Checks)
			}
			if _, err := e.Run(accesstest.Admin(context.Background()), plan, nil); err == nil {
				t.Fatal("a restore ran over an interrupted one")
			}

			rep, err := e.Recover(accesstest.Admin(context.Background()), nil)
			if err != nil {
				t.Fatalf("recover: %v\n%+v", err, rep)
			}
			f.assertOriginal(t)
			if left, err := oprestore.StagedDumps(f.cfg); err != nil || len(left) != 0 {
				t.Fatalf("the staged dump outlived the recovery: %v %+v", err, left)
			}
			if j, _ := oprestore.Interrupted(f.cfg); j != nil {
				t.Fatalf("the journal is still there: %+v", j)
			}
			if _, err := e.Recover(accesstest.Admin(context.Background()), nil); err == nil || !strings.Contains(err.Error(), "no interrupted restore") {
				t.Fatalf("a second recover: %v", err)
			}
		})
	}
}

// TestKilledPointInTimeRestoreIsRecovered kills a point-in-time restore
// while the base backup is unpacked, once its private instance has
// recovered, and after the copy: the instance dies with it, its directory
// stays, and Recover removes it with the scratch database.
func TestKilledPointInTimeRestoreIsRecovered(t *testing.T) {
	f := newDBFixture(t)
	s := f.archiving()
	f.exec("INSERT INTO stocks (symbol) VALUES ('LATE')")
	f.archived(s)
	cfgPath := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := f.cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	for _, point := range []string{"recovering", "after:database.recover", "after:database.restore"} {
		t.Run(point, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+point, "OPSDECK_RESTORE_TEST_CONFIG="+cfgPath, "OPSDECK_RESTORE_TEST_PITR=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatalf("the child was not killed: %s", stderr.String())
			}
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("the child was not killed: %s", stderr.String())
			}
			left, _ := os.ReadDir(f.cfg.Restore.WorkDir)
			if len(left) != 1 {
				t.Fatalf("the killed run should leave its instance's directory: %v", left)
			}
			j, err := oprestore.Interrupted(f.cfg)
			if err != nil || j == nil || j.Database == nil || j.Database.Instance == "" {
				t.Fatalf("journal %+v %v", j, err)
			}
			rep, err := f.engine().Recover(accesstest.Admin(context.Background()), nil)
			if err != nil {
				t.Fatalf("recover: %v\n%+v", err, rep)
			}
			if left, _ := os.ReadDir(f.cfg.Restore.WorkDir); len(left) != 0 {
				t.Fatalf("left in the work directory after recover: %v", left)
			}
			f.assertOriginal(t)
		})
	}
}

// TestKilledMergeIsRecovered kills a merge that overwrote rows right after
// its transaction committed: Recover puts the overwritten rows' live
// values back and deletes the inserted rows, children first.
func TestKilledMergeIsRecovered(t *testing.T) {
	f := newDBFixture(t)
	f.mergeCopies()
	var damaged string
	f.query(stocksPrint, &damaged)
	cfgPath := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := f.cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=after:table.merge", "OPSDECK_RESTORE_TEST_CONFIG="+cfgPath, "OPSDECK_RESTORE_TEST_MERGE=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("the child was not killed: %s", stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the child was not killed: %s", stderr.String())
	}
	var merged string
	f.query(stocksPrint, &merged)
	if merged == damaged {
		t.Fatal("the killed merge had not committed")
	}
	rep, err := f.engine().Recover(accesstest.Admin(context.Background()), nil)
	if err != nil {
		t.Fatalf("recover: %v\n%+v", err, rep)
	}
	f.assertPrint(damaged)
	var kept int
	f.query("SELECT count(*) FROM pg_class WHERE relname ~ '_(merged|overwritten)$'", &kept)
	if kept != 0 {
		t.Errorf("%d tables of the merge outlived its undo", kept)
	}
}
