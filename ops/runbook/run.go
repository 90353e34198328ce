package runbook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// AuditAction is the audit log's action name for a command run from a runbook.
const AuditAction = "runbook.run"

// maxOutput bounds the output kept from one command.
const maxOutput = 1 << 20

// Executor runs opsdeck commands inside this process, with the session's
// configuration and identity: no child process re-reads the configuration
// as the server's user, and the identity travels in the context, never in
// an environment variable.
type Executor interface {
	// Exec runs args (the words after "opsdeck") on ctx, writing what the
	// command prints to out, and returns its exit code. It never reads
	// standard input, and returns soon after ctx ends.
	Exec(ctx context.Context, args []string, out io.Writer) int
	// AcceptsYes reports whether the subcommand at path has a --yes flag.
	AcceptsYes(path []string) bool
}

// RunOptions say how a runbook command runs.
type RunOptions struct {
	// Exec runs the command.
	Exec Executor
	// Env is the environment the command acts on. When it is read-only,
	// every command off the read-only allow-list is refused and the others
	// get --read-only.
	Env access.Env
	// Confirmed says the operator confirmed a command that changes things.
	Confirmed bool
	// Audit records commands that change things (nil: no record).
	Audit *audit.Log
	// Timeout bounds the run (default 2 minutes for read-only commands,
	// 2 hours for the others).
	Timeout time.Duration
	// Secrets are removed from the output (passwords from the config).
	Secrets []string
	// Book and Section say where the command came from, for the audit record.
	Book, Section string
}

// RunResult is what a command did.
type RunResult struct {
	// Line is the command as run, without the options added for the cockpit.
	Line string
	// Output is what it printed, at most 1 MiB.
	Output string
	// Truncated says output was cut at 1 MiB.
	Truncated bool
	// ExitCode is the command's exit status (-1 when it did not start or
	// did not stop).
	ExitCode int
	// Took is how long it ran.
	Took time.Duration
}

// ErrOwnConfig refuses a runbook line that names a configuration file: a
// command from a runbook acts on the session's configuration.
var ErrOwnConfig = errors.New("a runbook command runs with this session's configuration: remove --config from the line")

// stopGrace is how long a cancelled command has to return before Run gives
// up waiting for it.
const stopGrace = 10 * time.Second

// Run runs a runbook command in this process through o.Exec, never through
// a shell, with no standard input, on ctx — which carries the identity of
// the session that asked, so the command's own checks and audit records
// name that session. Commands off the read-only allow-list are refused (and
// audited as refused) in a read-only environment, for a role below what the
// command does, or without the operator's confirmation; confirmed ones get
// --yes when they accept it, since the operator has just answered the
// question they would ask, and are audited with their outcome. A non-zero
// exit is returned as an error with the result filled in; cancelling ctx
// stops the command.
func Run(ctx context.Context, c Command, o RunOptions) (RunResult, error) {
	res := RunResult{Line: c.String(), ExitCode: -1}
	if c.Interactive() {
		return res, fmt.Errorf("%s: %w", res.Line, ErrInteractive)
	}
	if c.Has("--config") || c.Has("-c") {
		return res, fmt.Errorf("%s: %w", res.Line, ErrOwnConfig)
	}
	if o.Exec == nil {
		return res, errors.New("commands cannot run in this session: run it in a shell")
	}
	changes := !c.ReadOnly()
	params := map[string]any{"runbook": o.Book, "section": o.Section}
	log := access.Audit(ctx, o.Audit)
	if changes {
		// What the command does is checked here, before it starts, with the
		// session's role; the command checks again in ops.
		if err := access.Check(ctx, o.Env, c.Action()); err != nil {
			_ = log.Refuse(AuditAction, res.Line, err)
			return res, fmt.Errorf("%s: %w", res.Line, err)
		}
	} else if _, ok := access.FromContext(ctx); !ok {
		return res, fmt.Errorf("%s refused: the request carries no identity: %w", res.Line, access.ErrNoIdentity)
	}
	if changes && !o.Confirmed {
		_ = log.Refuse(AuditAction, res.Line, fmt.Errorf("%w: not confirmed", audit.ErrRefused))
		return res, fmt.Errorf("%s changes things and was not confirmed: %w", res.Line, audit.ErrRefused)
	}
	if changes && o.Audit == nil {
		return res, fmt.Errorf("%s changes things and the audit log cannot record it: %w", res.Line, audit.ErrRefused)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
		if changes {
			timeout = 2 * time.Hour
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	args := append([]string(nil), c.Args...)
	if changes && !c.Has("--yes") && !c.Has("-y") && o.Exec.AcceptsYes(c.Path()) {
		args = append(args, "--yes")
	}
	if o.Env.ReadOnly && !c.Has("--read-only") {
		args = append(args, "--read-only")
	}

	var entry *audit.Entry
	if changes {
		entry = log.Begin(AuditAction, res.Line, params)
	}
	out := &capped{limit: maxOutput}
	start := time.Now()
	code := make(chan int, 1)
	go func() { code <- o.Exec.Exec(ctx, args, out) }()
	var err error
	select {
	case res.ExitCode = <-code:
	case <-ctx.Done():
		select {
		case res.ExitCode = <-code:
		case <-time.After(stopGrace):
			err = fmt.Errorf("%s did not stop within %v of being cancelled: it may still be running — watch the status bar and the audit log", res.Line, stopGrace)
		}
	}
	res.Took = time.Since(start)
	res.Output, res.Truncated = redact.String(out.String(), o.Secrets...), out.Dropped()
	switch {
	case err != nil:
	case res.ExitCode == 0:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("%s did not finish within %v and was stopped: run it in a shell to watch it", res.Line, timeout)
	case ctx.Err() != nil:
		err = fmt.Errorf("%s was cancelled", res.Line)
	default:
		err = fmt.Errorf("%s exited with status %d: see its output", res.Line, res.ExitCode)
	}
	if entry != nil {
		if aerr := entry.End(err); aerr != nil {
			err = errors.Join(err, fmt.Errorf("the audit record could not be written: %w", aerr))
		}
	}
	return res, err
}

// capped is a writer that keeps the first limit bytes.
type capped struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped bool
}

// String returns what was kept.
func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Dropped reports whether output was cut.
func (c *capped) Dropped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.limit - c.buf.Len()
	if room < len(p) {
		c.dropped = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}
