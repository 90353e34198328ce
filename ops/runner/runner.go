// Package runner is the one way opsdeck runs an external program (pg_dump,
// pg_restore, pg_dump --version): a context bounds it, its arguments come
// from pure builder functions that tests can assert on, stdout is streamed to
// the caller, stderr is captured line by line (the last lines are kept for
// the error), and the exit status is checked only after stdout has been
// drained, so a program that fails half-way never looks like a success.
//
// Secrets go in the environment (PGPASSWORD), never in the argument list,
// which any user can read in /proc. Tests use [Fake] instead of [Exec].
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/proc"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// DefaultStderrLines is how many of the last stderr lines an Error keeps.
const DefaultStderrLines = 20

// Cmd is one program to run.
type Cmd struct {
	// Path is the program (a name looked up in PATH, or a path).
	Path string
	// Args are the arguments, without the program name.
	Args []string
	// Env is added to the environment opsdeck runs in; later entries win.
	// Put secrets here (PGPASSWORD=...), never in Args.
	Env []string
	// Stdin, when set, is the program's standard input.
	Stdin io.Reader
	// Stdout receives the program's standard output as it is produced;
	// nil discards it. A write error stops the program.
	Stdout io.Writer
	// OnStderr, when set, is called with each stderr line as it arrives
	// (for progress and logs); the lines are also kept for the error.
	OnStderr func(line string)
	// StderrLines is how many trailing stderr lines to keep (default 20).
	StderrLines int
	// Secrets are values that must never appear in the error's text (the
	// program may echo a password or a DSN to stderr).
	Secrets []string
}

// String renders the command line for logs: the program and its arguments,
// never the environment.
func (c Cmd) String() string {
	return strings.Join(append([]string{c.Path}, c.Args...), " ")
}

// Runner runs commands. [Exec] runs real programs; [Fake] records them.
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}

// Error is a command that could not start, failed, or was stopped.
type Error struct {
	// Command is the program and its arguments.
	Command string
	// ExitCode is the exit status, -1 when the program did not exit by itself.
	ExitCode int
	// Stderr holds the last lines the program wrote to stderr, redacted.
	Stderr []string
	// Err is the underlying cause.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", e.Command, e.Err)
	if len(e.Stderr) > 0 {
		b.WriteString("; it said:\n  ")
		b.WriteString(strings.Join(e.Stderr, "\n  "))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Exec runs real programs. The zero value is ready to use.
type Exec struct {
	// KillGrace is how long a canceled program gets between SIGTERM and
	// SIGKILL (default 5s).
	KillGrace time.Duration
}

// Run starts c and waits for it. It returns nil only when stdout was fully
// copied to c.Stdout and the program exited 0. When ctx ends the program's
// process group is sent SIGTERM (SIGKILL after KillGrace) and Run returns
// ctx's error. Each run is a record of the debug trace (class exec): the
// program and its arguments with c.Secrets masked, the exit code, the bytes
// of stdout, the duration and the outcome — never the environment.
func (x Exec) Run(ctx context.Context, c Cmd) error {
	if !logging.Enabled(ctx) {
		return x.run(ctx, c, nil)
	}
	start := time.Now()
	var out int64
	err := x.run(ctx, c, &out)
	code := 0
	var re *Error
	if errors.As(err, &re) {
		code = re.ExitCode
	}
	logging.Call(ctx, logging.ClassExec, "exec", start, err,
		logging.KeyCommand, redact.String(c.String(), c.Secrets...), logging.KeyExitCode, code, logging.KeyBytes, out)
	return err
}

// run is Run; out, when set, counts the bytes of stdout.
func (x Exec) run(ctx context.Context, c Cmd, out *int64) error {
	keep := c.StderrLines
	if keep <= 0 {
		keep = DefaultStderrLines
	}
	name := c.Path
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = c.Stdin
	// Its own process group; SIGKILL if opsdeck dies (ops/proc).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	grace := x.KillGrace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	// SIGTERM the whole process group (a shell's children too); after
	// grace, Go kills the process and closes the pipes so Wait cannot hang
	// on a grandchild that kept them open.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = grace

	tail := newTail(keep)
	lw := &lineWriter{fn: func(line string) {
		tail.add(line)
		if c.OnStderr != nil {
			c.OnStderr(line)
		}
	}}
	cmd.Stderr = lw
	dst := c.Stdout
	if dst == nil {
		dst = io.Discard
	}
	// When the consumer fails (disk full, upload refused) stop the program
	// rather than let it block on a full pipe.
	gw := &guardWriter{w: dst, n: out, stop: func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		}
	}}
	// Run returns only after the process exited and stdout and stderr were
	// copied to the end: the exit status is judged on a drained stream.
	var waitErr, pollErr error
	if pp := newStdoutPipe(); pp != nil {
		waitErr, pollErr = runPolled(cmd, pp, gw, grace)
	} else {
		cmd.Stdout = gw
		waitErr = proc.Run(cmd)
	}
	lw.flush()
	if waitErr != nil && cmd.ProcessState == nil && ctx.Err() == nil && gw.failed() == nil {
		hint := waitErr
		if errors.Is(waitErr, exec.ErrNotFound) || errors.Is(waitErr, os.ErrNotExist) {
			hint = fmt.Errorf("%w — install it or set its path in the config", waitErr)
		}
		return &Error{Command: name, ExitCode: -1, Err: hint}
	}
	copyErr := gw.failed()
	if copyErr == nil {
		copyErr = pollErr
	}

	lines := redactLines(tail.lines(), c.Secrets)
	switch {
	case ctx.Err() != nil:
		return &Error{Command: name, ExitCode: -1, Stderr: lines, Err: fmt.Errorf("stopped: %w", ctx.Err())}
	case copyErr != nil:
		return &Error{Command: name, ExitCode: exitCode(waitErr), Stderr: lines, Err: fmt.Errorf("writing its output: %w", copyErr)}
	case waitErr != nil:
		return &Error{Command: name, ExitCode: exitCode(waitErr), Stderr: lines, Err: waitErr}
	}
	return nil
}

// pollStdout is false in tests of the netpoller path.
var pollStdout = true

// newStdoutPipe is a polled pipe for the program's stdout, nil when the
// runner lets os/exec make and copy its pipe.
func newStdoutPipe() *polledPipe {
	if !pollStdout {
		return nil
	}
	return newPolledPipe()
}

// runPolled runs cmd with its stdout on pp, copied to gw by the runner
// (pipe_linux.go says why). Like os/exec's own copy it waits for the copy
// to end after the program exits, and abandons it when the pipe is still
// open grace later.
func runPolled(cmd *exec.Cmd, pp *polledPipe, gw io.Writer, grace time.Duration) (waitErr, copyErr error) {
	cmd.Stdout = pp.w
	child, err := proc.Start(cmd)
	pp.w.Close() // the child holds its own copy
	if err != nil {
		pp.Stop()
		pp.copyTo(io.Discard) // closes the read end
		return err, nil
	}
	copied := make(chan error, 1)
	go func() { copied <- pp.copyTo(gw) }()
	waitErr = child.Wait()
	select {
	case copyErr = <-copied:
	case <-time.After(grace):
		pp.Stop()
		copyErr = <-copied
	}
	return waitErr, copyErr
}

// guardWriter passes writes through until the first error, then stops
// the program and fails every later write.
type guardWriter struct {
	mu   sync.Mutex
	w    io.Writer
	err  error
	stop func()
	// n, when set, counts the bytes written.
	n *int64
}

func (g *guardWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.w.Write(p)
	if g.n != nil {
		*g.n += int64(n)
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		g.err = err
		g.stop()
	}
	return n, err
}

func (g *guardWriter) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// lineWriter splits what is written into lines (a line longer than 64 KiB
// is cut).
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.fn(strings.TrimRight(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64*1024 {
		l.fn(string(l.buf))
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.fn(string(l.buf))
		l.buf = nil
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

func redactLines(lines, secrets []string) []string {
	for i, l := range lines {
		for _, s := range secrets {
			if s != "" {
				l = strings.ReplaceAll(l, s, "xxxxx")
			}
		}
		lines[i] = l
	}
	return lines
}

// tail keeps the last n lines.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, s)
	if len(t.buf) > t.n {
		t.buf = t.buf[len(t.buf)-t.n:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}

// Output runs c and returns its stdout (at most 1 MiB) as a string, for
// short commands such as `pg_dump --version`.
func Output(ctx context.Context, r Runner, c Cmd) (string, error) {
	var b limitedBuffer
	b.max = 1 << 20
	c.Stdout = &b
	err := r.Run(ctx, c)
	return b.String(), err
}

type limitedBuffer struct {
	strings.Builder
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		if room > 0 {
			b.Builder.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Builder.Write(p)
}
