package sandbox_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}

func TestFreePort(t *testing.T) {
	port, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}

func TestProcessExitFailsReadinessFast(t *testing.T) {
	dir := t.TempDir()
	p, err := sandbox.StartProcess(sandbox.ProcessSpec{
		Name: "doomed", Path: "/bin/sh", Args: []string{"-c", "echo 'FATAL: bad setting' >&2; exit 3"}, Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	start := time.Now()
	err = p.WaitReady(t.Context(), 30*time.Second, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "FATAL: bad setting") || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("WaitReady = %v, want the exit and the log", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s to notice the exit", took)
	}
}

func TestProcessReadinessDeadline(t *testing.T) {
	p, err := sandbox.StartProcess(sandbox.ProcessSpec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"60"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	err = p.WaitReady(t.Context(), 200*time.Millisecond, func(context.Context) error { return errors.New("port closed") })
	if err == nil || !strings.Contains(err.Error(), "port closed") || !strings.Contains(err.Error(), "not ready after") {
		t.Fatalf("WaitReady = %v", err)
	}
}

func TestProcessStopReachesChildrenAndEscalates(t *testing.T) {
	dir := t.TempDir()
	// The shell ignores SIGTERM and has two children: Stop must escalate
	// to SIGKILL after the grace period and take the children too.
	p, err := sandbox.StartProcess(sandbox.ProcessSpec{
		Name: "stubborn", Path: "/bin/sh",
		Args:      []string{"-c", "trap '' TERM; sleep 60 & sleep 60 & echo started; wait"},
		Dir:       dir,
		StopGrace: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(t.Context(), 5*time.Second, func(context.Context) error {
		if tree := processTree(p.PID); len(tree) < 3 {
			return errors.New("children not started")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tree := processTree(p.PID)
	start := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("Stop took %s; want the 300ms grace, then SIGKILL", took)
	}
	if !p.Exited() {
		t.Error("Exited() = false after Stop")
	}
	time.Sleep(50 * time.Millisecond) // let init reap the orphans
	assertGone(t, tree, filepath.Join(dir, "nonexistent"))
	if data, _ := os.ReadFile(p.LogPath); !strings.Contains(string(data), "started") {
		t.Errorf("log %s = %q, want the child's output", p.LogPath, data)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestBlackhole(t *testing.T) {
	bh, err := sandbox.StartBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer bh.Close()
	start := time.Now()
	c, err := net.DialTimeout("tcp", bh.Addr, 300*time.Millisecond)
	if err == nil {
		c.Close()
		t.Fatal("dial to the blackhole connected")
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("dial failed after %s (%v); want it to hang until the timeout", took, err)
	}
}
