//go:build linux

package proc_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/proc"
)

// parentEnv makes the test binary play the parent: it starts children in
// every supported way, prints "<how> <pid>" for each, retires a pile of
// threads (so that a child forked on a thread the runtime may end would
// die), prints "ready" and waits to be killed.
const parentEnv = "OPSDECK_PROC_TEST_PARENT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(parentEnv); dir != "" {
		playParent(dir)
		return
	}
	os.Exit(m.Run())
}

func playParent(dir string) {
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(2)
	}
	// Start: a plain child.
	c, err := proc.Start(exec.Command("/bin/sleep", "300"))
	if err != nil {
		fail(err)
	}
	fmt.Println("start", c.Pid)

	// Start with a process group and, as root, another user (the postgres
	// case): the death signal must survive the credential change.
	cmd := exec.Command("/bin/sleep", "301")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("nobody"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		}
	}
	c, err = proc.Start(cmd)
	if err != nil {
		fail(err)
	}
	fmt.Println("credential", c.Pid)

	// Wrap: children forked by code we do not control (no SysProcAttr), on
	// a Thread, through the wrappers — envtest's case. Both kinds: setpriv
	// (when installed) and the re-execution of this binary.
	th := proc.NewThread()
	for _, w := range []struct {
		how  string
		wrap func(dir, path string) (string, error)
	}{{"wrap", proc.Wrap}, {"reexec", proc.WrapReexec}} {
		sub := filepath.Join(dir, w.how)
		if err := os.Mkdir(sub, 0o700); err != nil {
			fail(err)
		}
		wrapper, err := w.wrap(sub, "/bin/sleep")
		if err != nil {
			fail(err)
		}
		var wcmd *exec.Cmd
		th.Do(func() {
			wcmd = exec.Command(wrapper, "302")
			err = wcmd.Start()
		})
		if err != nil {
			fail(err)
		}
		fmt.Println(w.how, wcmd.Process.Pid)
	}

	// Retire threads: goroutines that exit locked end their thread.
	done := make(chan struct{})
	for range 32 {
		go func() {
			runtime.LockOSThread()
			done <- struct{}{}
		}()
	}
	for range 32 {
		<-done
	}
	fmt.Println("ready")
	select {}
}

func TestChildrenDieWithTheirParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), parentEnv+"="+t.TempDir())
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = parent.Process.Kill()
		_ = parent.Wait()
	}()
	children := map[string]int{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			break
		}
		how, pid, _ := strings.Cut(line, " ")
		if how == "error" {
			t.Fatalf("parent: %s", pid)
		}
		children[how], _ = strconv.Atoi(pid)
	}
	if len(children) != 4 {
		t.Fatalf("parent reported %v, want four children", children)
	}
	t.Logf("setpriv: %q", proc.SetprivPath())

	// The wrappers exec sleep in place (same pid): wait until they have, and
	// check the whole lot runs while the parent does, threads retired.
	deadline := time.Now().Add(10 * time.Second)
	for _, how := range []string{"wrap", "reexec"} {
		for exe := exeOf(children[how]); exe != "/usr/bin/sleep" && exe != "/bin/sleep"; exe = exeOf(children[how]) {
			if time.Now().After(deadline) {
				t.Fatalf("the %s child runs %q, not sleep", how, exe)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for how, pid := range children {
		if !running(pid) {
			t.Fatalf("%s child %d died while its parent runs (a retired thread took it?)", how, pid)
		}
	}

	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	deadline = time.Now().Add(5 * time.Second)
	for how, pid := range children {
		for running(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("%s child %d outlived its killed parent by 5s", how, pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestRunReturnsTheExitStatus(t *testing.T) {
	if err := proc.Run(exec.Command("/bin/sh", "-c", "exit 0")); err != nil {
		t.Fatalf("Run(exit 0) = %v", err)
	}
	err := proc.Run(exec.Command("/bin/sh", "-c", "exit 3"))
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("Run(exit 3) = %v, want exit status 3", err)
	}
	if _, err := proc.Start(exec.Command("/nonexistent/binary")); err == nil {
		t.Fatal("Start of a missing binary succeeded")
	}
}

func TestWrapperPassesArgumentsAndExitStatus(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "it's here")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s|' \"$@\"\nexit 7\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for how, wrap := range map[string]func(dir, path string) (string, error){"Wrap": proc.Wrap, "reexec": proc.WrapReexec} {
		wrapper, err := wrap(t.TempDir(), script)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(wrapper) != "it's here" {
			t.Errorf("%s: wrapper %s, want the binary's name", how, wrapper)
		}
		out, err := exec.Command(wrapper, "a b", "--help", "").Output()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
			t.Fatalf("%s: wrapper exit = %v, want 7", how, err)
		}
		if string(out) != "a b|--help||" {
			t.Errorf("%s: wrapper passed %q", how, out)
		}
	}
}

// running reports whether pid runs (a zombie has exited).
func running(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i > 0 && i+2 < len(data) && data[i+2] != 'Z' && data[i+2] != 'X'
}

func exeOf(pid int) string {
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return exe
}
