package backup

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
)

// childEnv names the point at which the child process waits to be killed.
const childEnv = "OPSDECK_BACKUP_TEST_CHILD"

// childMain runs `backup database` with the config in
// OPSDECK_BACKUP_TEST_CONFIG and, at the named point, writes the marker
// file and waits to be killed.
func childMain() int {
	point := os.Getenv(childEnv)
	marker := os.Getenv("OPSDECK_BACKUP_TEST_MARKER")
	cfg, err := config.Load(os.Getenv("OPSDECK_BACKUP_TEST_CONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testHook = func(p string) {
		if p == point {
			_ = os.WriteFile(marker, []byte(p), 0o600)
			time.Sleep(time.Minute)
		}
	}
	e, err := New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := e.Backup(accesstest.Admin(context.Background()), Options{Kind: "full", Components: []string{Database, Redis}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKilledBackupLeavesNoGoodLookingSet kills a backup with SIGKILL while
// the dump streams, just before the commit, and just after it: before the
// commit nothing lists or verifies, after it the set is whole; earlier sets
// are untouched, the lock is free, and the next run cleans the leftovers.
func TestKilledBackupLeavesNoGoodLookingSet(t *testing.T) {
	needSandbox(t)
	cfg := testConfig(t)
	e := newEngine(t, cfg)
	ctx := accesstest.Admin(context.Background())
	first, err := e.Backup(ctx, Options{Kind: Redis})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	for _, point := range []string{"streaming", "before-commit", "after-commit"} {
		t.Run(point, func(t *testing.T) {
			before, _, _ := e.Store.List(ctx)
			marker := filepath.Join(t.TempDir(), "marker")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+point, "OPSDECK_BACKUP_TEST_MARKER="+marker, "OPSDECK_BACKUP_TEST_CONFIG="+cfgPath)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("child never reached %s: %s", point, stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			committed, leftovers, err := e.Store.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sets, err := List(ctx, e.Store)
			if err != nil {
				t.Fatal(err)
			}
			if point == "after-commit" {
				if len(committed) != len(before)+1 {
					t.Fatalf("after the commit the set must be listed: %v → %v", before, committed)
				}
				// Killed before its read-back: listed, whole, but not yet verified.
				if sets[0].Verified() {
					t.Errorf("a set whose read-back never ran is marked verified")
				}
				if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{sets[0].ID}}); err != nil {
					t.Errorf("the committed set does not verify: %v", err)
				}
			} else {
				if len(committed) != len(before) {
					t.Fatalf("a killed run left a listed set: %v → %v", before, committed)
				}
				if len(leftovers) == 0 {
					t.Fatalf("expected the killed run's staging files as leftovers")
				}
			}
			if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{first.Manifest.ID}}); err != nil {
				t.Errorf("an earlier set was harmed: %v", err)
			}
			// The lock died with the process; the next run cleans up.
			res, err := e.Backup(ctx, Options{Kind: Redis})
			if err != nil {
				t.Fatalf("next run: %v", err)
			}
			if point != "after-commit" && len(res.Cleaned) == 0 {
				t.Errorf("the next run did not clean the leftovers")
			}
			if _, left, _ := e.Store.List(ctx); len(left) != 0 {
				t.Errorf("leftovers remain: %v", left)
			}
		})
	}
}

func TestConcurrentRunRefused(t *testing.T) {
	needSandbox(t)
	cfg := testConfig(t)
	e := newEngine(t, cfg)
	held, err := AcquireLock(e.Store, "restore database", "carol")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	start := time.Now()
	_, err = e.Backup(accesstest.Admin(context.Background()), Options{Kind: Redis})
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second run: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("refusal took %v: it must fail at once", time.Since(start))
	}
	for _, w := range []string{"restore database", "carol", fmt.Sprintf("pid %d", os.Getpid()), "since"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if _, err := e.Prune(accesstest.Admin(context.Background()), PruneOptions{}); !errors.Is(err, ErrLocked) {
		t.Errorf("prune while locked: %v", err)
	}
	// A restore holding the lock takes its safety backup under it.
	if _, err := e.Backup(accesstest.Admin(context.Background()), Options{Kind: Redis, Tags: []string{"pre-restore"}, HeldLock: held}); err != nil {
		t.Fatalf("backup under the caller's lock: %v", err)
	}
	if _, err := AcquireLock(e.Store, "x", "y"); !errors.Is(err, ErrLocked) {
		t.Fatalf("the caller's lock was freed by the backup: %v", err)
	}
	held.Release()
	if _, err := e.Backup(accesstest.Admin(context.Background()), Options{Kind: Redis}); err != nil {
		t.Fatalf("after release: %v", err)
	}
}
