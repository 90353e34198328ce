package lockfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func acquire(t *testing.T, path string, mode Mode, action string) *Lock {
	t.Helper()
	l, err := Acquire(path, mode, Self(action, "tester"))
	if err != nil {
		t.Fatalf("%s %s: %v", mode, action, err)
	}
	t.Cleanup(func() { l.Release() })
	return l
}

func refused(t *testing.T, path string, mode Mode, wantActions ...string) *LockedError {
	t.Helper()
	l, err := Acquire(path, mode, Self("contender", "tester"))
	if err == nil {
		l.Release()
		t.Fatalf("%s granted, want refused by %v", mode, wantActions)
	}
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("%s: %v (%T), want a *LockedError", mode, err, err)
	}
	var got []string
	for _, h := range le.Holders {
		got = append(got, h.Action)
	}
	if strings.Join(got, ",") != strings.Join(wantActions, ",") {
		t.Fatalf("holders %v, want %v (%v)", got, wantActions, err)
	}
	for _, a := range wantActions {
		if !strings.Contains(err.Error(), a+" is running") {
			t.Errorf("%q does not name %s", err, a)
		}
	}
	return le
}

func TestSharedShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.lock")
	a := acquire(t, path, Shared, "verify")
	time.Sleep(2 * time.Millisecond) // distinct Since for the order
	b := acquire(t, path, Shared, "drill")
	if a.Mode() != Shared || !b.Held() {
		t.Fatal("not held shared")
	}
	hs, err := Holders(path)
	if err != nil || len(hs) != 2 || hs[0].Action != "verify" || hs[1].Action != "drill" {
		t.Fatalf("holders %+v %v", hs, err)
	}
	for _, h := range hs {
		if h.PID != os.Getpid() || h.User != "tester" || h.Mode != Shared || h.Since.IsZero() || h.Host == "" {
			t.Errorf("holder %+v", h)
		}
	}
	le := refused(t, path, Exclusive, "verify", "drill")
	if want := fmt.Sprintf("wait for them to finish, or check that pid %d is alive", os.Getpid()); !strings.Contains(le.Error(), want) {
		t.Errorf("%q lacks %q", le, want)
	}
	a.Release()
	refused(t, path, Exclusive, "drill")
	b.Release()
	acquire(t, path, Exclusive, "prune").Release()
	if hs, _ := Holders(path); len(hs) != 0 {
		t.Errorf("holders after release: %+v", hs)
	}
	if left, _ := os.ReadDir(RecordDir(path)); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
}

func TestExclusiveBlocksShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "store.lock")
	ex := acquire(t, path, Exclusive, "prune")
	le := refused(t, path, Shared, "prune")
	if le.Wanted != Shared || le.Path != path || le.Holders[0].Mode != Exclusive {
		t.Errorf("%+v", le)
	}
	want := fmt.Sprintf("wait for it to finish, or check that pid %d is alive", os.Getpid())
	if !strings.Contains(le.Error(), want) {
		t.Errorf("%q lacks %q", le, want)
	}
	refused(t, path, Exclusive, "prune")
	ex.Release()
	acquire(t, path, Shared, "verify")
}

func TestReleaseTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l := acquire(t, path, Exclusive, "a")
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil || l.Held() {
		t.Fatalf("second release: %v held=%v", err, l.Held())
	}
	var nilLock *Lock
	if err := nilLock.Release(); err != nil || nilLock.Held() {
		t.Fatal("nil lock")
	}
	// Releasing the old lock again must not free a new holder's lock.
	l2 := acquire(t, path, Exclusive, "b")
	l.Release()
	refused(t, path, Shared, "b")
	l2.Release()
}

func TestBadMode(t *testing.T) {
	if _, err := Acquire(filepath.Join(t.TempDir(), "x.lock"), 0, Holder{}); err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("mode 0: %v", err)
	}
}

// A dead holder's record left beside the lock, unlocked, is ignored and
// removed; an unlocked temporary record is removed once old.
func TestStaleRecordsIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	live := acquire(t, path, Shared, "live")
	dir := RecordDir(path)
	stale := filepath.Join(dir, "999999-abc.json")
	if err := os.WriteFile(stale, []byte(`{"pid":999999,"action":"ghost","since":"2001-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	oldTmp := filepath.Join(dir, ".999999-def.tmp")
	os.WriteFile(oldTmp, nil, 0o600)
	past := time.Now().Add(-2 * tmpAge)
	os.Chtimes(oldTmp, past, past)
	newTmp := filepath.Join(dir, ".999999-ghi.tmp")
	os.WriteFile(newTmp, nil, 0o600)
	refused(t, path, Exclusive, "live")
	for p, want := range map[string]bool{stale: false, oldTmp: false, newTmp: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	live.Release()
}

const helperEnv = "OPSDECK_LOCKFILE_HELPER"

// TestHelperHolder is the child process of TestKilledHolder: it takes the
// lock named in its environment, says so, and waits to be killed.
func TestHelperHolder(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	mode, path, _ := strings.Cut(spec, ":")
	m := Shared
	if mode == "exclusive" {
		m = Exclusive
	}
	if _, err := Acquire(path, m, Self("child "+mode, "kid")); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("held")
	time.Sleep(time.Minute)
	os.Exit(3)
}

// startHolder runs a child process holding the lock at path in mode.
func startHolder(t *testing.T, path string, mode Mode) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode.String()+":"+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("child: %q %v", line, err)
	}
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// A holder killed with SIGKILL frees the lock at once, and its record,
// left on disk, is never reported as a holder.
func TestKilledHolder(t *testing.T) {
	for _, mode := range []Mode{Shared, Exclusive} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.lock")
			child := startHolder(t, path, mode)
			le := refused(t, path, Exclusive, "child "+mode.String())
			if le.Holders[0].PID != child.Process.Pid || le.Holders[0].User != "kid" {
				t.Errorf("holder %+v, want the child's pid %d", le.Holders[0], child.Process.Pid)
			}
			kill(t, child)
			if recs, _ := filepath.Glob(filepath.Join(RecordDir(path), "*.json")); len(recs) != 1 {
				t.Fatalf("the killed child's record should still be on disk: %v", recs)
			}
			if hs, err := Holders(path); err != nil || len(hs) != 0 {
				t.Fatalf("holders after the kill: %+v %v", hs, err)
			}
			if recs, _ := filepath.Glob(filepath.Join(RecordDir(path), "*.json")); len(recs) != 0 {
				t.Errorf("the dead record was not removed: %v", recs)
			}
			acquire(t, path, Exclusive, "after").Release()
		})
	}
	// Beside a live shared holder, a killed one is not named.
	path := filepath.Join(t.TempDir(), "store.lock")
	live := acquire(t, path, Shared, "live")
	child := startHolder(t, path, Shared)
	refused(t, path, Exclusive, "live", "child shared")
	kill(t, child)
	refused(t, path, Exclusive, "live")
	live.Release()
}
