//go:build linux

package proc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// tie sets the parent-death signal on a copy of cmd's SysProcAttr. Go sets
// it in the child after the credential change (a setuid clears it), so it
// holds for a server run as the postgres user too.
func tie(cmd *exec.Cmd, sig syscall.Signal) {
	attr := &syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		a := *cmd.SysProcAttr
		attr = &a
	}
	attr.Pdeathsig = sig
	cmd.SysProcAttr = attr
}

// The wrapper passes these to the re-executed opsdeck binary.
const (
	envExec   = "OPSDECK_PROC_EXEC"   // the real binary
	envParent = "OPSDECK_PROC_PARENT" // the pid of the opsdeck that wrote the wrapper
)

// Wrap writes an executable shell script dir/<base of path> that runs path,
// with the arguments it is given, such that the kernel sends it SIGKILL when
// the opsdeck process that started it dies. Point code that execs binaries
// itself (envtest) at the script, and run that code on a Thread.
//
// The script first checks that its parent is still the opsdeck that wrote
// it, then sets the parent-death signal and execs path in place (same pid;
// the signal survives execve for binaries that are not set-uid). It sets
// the signal with util-linux's setpriv --pdeathsig when there is one (it
// costs nothing), else by re-executing this very binary (/proc/<pid>/exe,
// so a replaced binary still works), whose init, seeing two environment
// variables, sets the signal, checks the parent again (closing the window
// in which opsdeck could die unnoticed) and execs path. A large binary
// takes a moment to start (tens of milliseconds, more for a race-enabled
// test binary), hence setpriv first.
func Wrap(dir, path string) (string, error) { return wrap(dir, path, setprivPath()) }

// wrap is Wrap with setpriv's path given, "" for the re-execution.
func wrap(dir, path, setpriv string) (string, error) {
	self := os.Getpid()
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n"+
		"# Written by opsdeck (ops/proc): runs %s and has the kernel kill it\n"+
		"# when opsdeck (pid %d) dies.\n"+
		"[ \"$PPID\" = %d ] || exit 1\n", path, self, self)
	if setpriv != "" {
		fmt.Fprintf(&b, "exec %s --pdeathsig KILL -- %s \"$@\"\n", shellQuote(setpriv), shellQuote(path))
	} else {
		fmt.Fprintf(&b, "%s=%s\nexport %s\n%s=%d\nexport %s\nexec /proc/%d/exe \"$@\"\n",
			envExec, shellQuote(path), envExec, envParent, self, envParent, self)
	}
	wrapper := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(wrapper, []byte(b.String()), 0o700); err != nil {
		return "", fmt.Errorf("write the wrapper for %s: %w", path, err)
	}
	return wrapper, nil
}

var setpriv struct {
	once sync.Once
	path string
}

// setprivPath is util-linux's setpriv when it has --pdeathsig (2.33 and
// later; busybox's has not), "" otherwise.
func setprivPath() string {
	setpriv.once.Do(func() {
		path, err := exec.LookPath("setpriv")
		if err != nil {
			return
		}
		out, _ := exec.Command(path, "--help").CombinedOutput()
		if strings.Contains(string(out), "--pdeathsig") {
			setpriv.path = path
		}
	})
	return setpriv.path
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func init() {
	if path := os.Getenv(envExec); path != "" {
		execTied(path)
	}
}

// execTied is the re-executed side of Wrap: it never returns.
func execTied(path string) {
	parent, _ := strconv.Atoi(os.Getenv(envParent))
	os.Unsetenv(envExec)
	os.Unsetenv(envParent)
	// The death signal belongs to the calling thread and execve keeps the
	// calling thread's: set it and exec from the same thread.
	runtime.LockOSThread()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "opsdeck: %s: set the parent-death signal: %v\n", path, errno)
		os.Exit(126)
	}
	if os.Getppid() != parent {
		// opsdeck died before the signal was set: nobody wants us.
		os.Exit(1)
	}
	err := syscall.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "opsdeck: exec %s: %v\n", path, err)
	os.Exit(127)
}
