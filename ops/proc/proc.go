// Package proc starts child processes that do not outlive opsdeck.
//
// On Linux a child started by Start gets a parent-death signal
// (PR_SET_PDEATHSIG, SysProcAttr.Pdeathsig): the kernel signals it when its
// parent dies, kill -9 included. The kernel's "parent" is the thread that
// forked the child, not the process: when that thread exits the child is
// signalled although opsdeck still runs (https://go.dev/issue/27505). The Go
// runtime ends a thread when a goroutine locked to it returns without
// unlocking, so any LockOSThread anywhere in the program could end the
// thread an unlocked Start happened to run on. Start therefore forks from a
// goroutine locked to its own thread (a Thread) and keeps that thread until
// the child has been waited for.
//
// Code that forks children itself, without a SysProcAttr hook (envtest's
// etcd and kube-apiserver), runs on a Thread too and starts its binaries
// through a wrapper written by Wrap, which sets the parent-death signal
// before it execs the real binary.
//
// Elsewhere (darwin) there is no parent-death signal: Start is a plain start
// and Wrap returns the binary itself; the sandbox's leftover records are the
// only cleanup there.
package proc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Child is a process started by Start. Wait for it with Wait or Done, never
// with Cmd.Wait: Start's goroutine waits for it.
type Child struct {
	Cmd *exec.Cmd
	// Pid is the child's process id.
	Pid int

	done chan struct{}
	err  error
}

// Start starts cmd so that the kernel sends it SIGKILL when this process
// dies (Linux). cmd.SysProcAttr is kept (credentials, process group); only
// its Pdeathsig is set. The child must then be waited for with Child.Wait.
func Start(cmd *exec.Cmd) (*Child, error) { return StartSignal(cmd, syscall.SIGKILL) }

// StartSignal is Start with another parent-death signal, for a child that
// cleans up after itself on a signal (PostgreSQL's SIGQUIT).
func StartSignal(cmd *exec.Cmd, sig syscall.Signal) (*Child, error) {
	tie(cmd, sig)
	t := NewThread()
	var err error
	t.Do(func() { err = cmd.Start() })
	if err != nil {
		t.Release()
		return nil, err
	}
	c := &Child{Cmd: cmd, Pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		// Reaped: the thread may go back to the runtime.
		t.Release()
		close(c.done)
	}()
	return c, nil
}

// Run is Start followed by Wait.
func Run(cmd *exec.Cmd) error {
	c, err := Start(cmd)
	if err != nil {
		return err
	}
	return c.Wait()
}

// Wait waits until the child has exited and its output was copied, and
// returns what exec.Cmd.Wait returned. It may be called more than once.
func (c *Child) Wait() error {
	<-c.done
	return c.err
}

// Done is closed when the child has exited (after its output was copied).
func (c *Child) Done() <-chan struct{} { return c.done }

// Thread is one OS thread held by a parked goroutine locked to it. Children
// forked from functions run by Do have this thread as their parent, so their
// parent-death signal fires when this process dies, not when the runtime
// happens to retire a thread. Release it once every child forked on it has
// exited.
type Thread struct {
	work chan func()
	once sync.Once
}

// NewThread locks a new goroutine to an OS thread and parks it there.
func NewThread() *Thread {
	t := &Thread{work: make(chan func())}
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Unlock, not exit locked, after Release: exiting would end the
		// thread and signal any child still running.
		defer runtime.UnlockOSThread()
		close(started)
		for f := range t.work {
			f()
		}
	}()
	<-started
	return t
}

// Do runs f on the thread and returns when f does. Do after Release panics.
func (t *Thread) Do(f func()) {
	fin := make(chan struct{})
	t.work <- func() {
		defer close(fin)
		f()
	}
	<-fin
}

// Release lets the thread go back to the runtime. Call it once the
// children forked on it have exited; it is safe to call more than once.
func (t *Thread) Release() { t.once.Do(func() { close(t.work) }) }
