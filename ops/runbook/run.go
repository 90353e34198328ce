package runbook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// AuditAction is the audit log's action name for a command run from a runbook.
const AuditAction = "runbook.run"

// maxOutput bounds the output kept from one command.
const maxOutput = 1 << 20

// RunOptions say how a runbook command runs.
type RunOptions struct {
	// Exe is the opsdeck binary to run (the running one, usually).
	Exe string
	// ConfigPath is passed as --config when set and the command names none.
	ConfigPath string
	// ReadOnly refuses every command that is not on the read-only
	// allow-list and passes --read-only to the ones that run.
	ReadOnly bool
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
	// Output is its stdout and stderr, interleaved, at most 1 MiB.
	Output string
	// Truncated says output was cut at 1 MiB.
	Truncated bool
	// ExitCode is the process's exit status (-1 when it did not start or was killed).
	ExitCode int
	// Took is how long it ran.
	Took time.Duration
}

// Run runs a runbook command as a child opsdeck process, never through a
// shell, with no standard input. Commands off the read-only allow-list are
// refused (and audited as refused) in read-only mode or without the
// operator's confirmation; confirmed ones get --yes when they accept it,
// since the operator has just answered the question they would ask, and are
// audited with their outcome. A non-zero exit is returned as an error with
// the result filled in; cancelling ctx stops the command and its children.
func Run(ctx context.Context, c Command, o RunOptions) (RunResult, error) {
	res := RunResult{Line: c.String(), ExitCode: -1}
	if c.Interactive() {
		return res, fmt.Errorf("%s: %w", res.Line, ErrInteractive)
	}
	if o.Exe == "" {
		return res, errors.New("no opsdeck binary to run the command with: run it in a shell")
	}
	changes := !c.ReadOnly()
	params := map[string]any{"runbook": o.Book, "section": o.Section}
	log := access.Audit(ctx, o.Audit)
	if changes && o.ReadOnly {
		_ = log.Refuse(AuditAction, res.Line, audit.ErrReadOnly)
		return res, fmt.Errorf("%s changes things: %w", res.Line, audit.ErrReadOnly)
	}
	if changes {
		// The child opsdeck runs with this process's rights: the session's
		// role is checked here, for what the command does.
		if err := access.Check(ctx, false, c.Action()); err != nil {
			_ = log.Refuse(AuditAction, res.Line, err)
			return res, fmt.Errorf("%s: %w", res.Line, err)
		}
	}
	if changes && !o.Confirmed {
		_ = log.Refuse(AuditAction, res.Line, fmt.Errorf("%w: not confirmed", audit.ErrRefused))
		return res, fmt.Errorf("%s changes things and was not confirmed: %w", res.Line, audit.ErrRefused)
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
	if changes && !c.Has("--yes") && !c.Has("-y") && acceptsYes(ctx, o.Exe, c.Path()) {
		args = append(args, "--yes")
	}
	if o.ConfigPath != "" && !c.Has("--config") && !c.Has("-c") {
		args = append(args, "--config", o.ConfigPath)
	}
	if o.ReadOnly && !c.Has("--read-only") {
		args = append(args, "--read-only")
	}

	var entry *audit.Entry
	if changes {
		entry = log.Begin(AuditAction, res.Line, params)
	}
	out := &capped{limit: maxOutput}
	cmd := exec.CommandContext(ctx, o.Exe, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Interrupt the whole group (opsdeck cleans up on SIGINT, and so do
	// pg_dump and friends); kill it if it lingers.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	res.Took = time.Since(start)
	res.Output = redact.String(out.buf.String(), o.Secrets...)
	res.Truncated = out.dropped
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("%s did not finish within %v and was stopped: run it in a shell to watch it", res.Line, timeout)
	case ctx.Err() != nil:
		err = fmt.Errorf("%s was cancelled", res.Line)
	case res.ExitCode > 0:
		err = fmt.Errorf("%s exited with status %d: see its output", res.Line, res.ExitCode)
	default:
		err = fmt.Errorf("run %s: %w", res.Line, err)
	}
	if entry != nil {
		if aerr := entry.End(err); aerr != nil {
			err = errors.Join(err, fmt.Errorf("the audit record could not be written: %w", aerr))
		}
	}
	return res, err
}

// acceptsYes reports whether the subcommand at path has a --yes flag, by
// reading its help. Answers are cached per binary and path.
func acceptsYes(ctx context.Context, exe string, path []string) bool {
	if len(path) == 0 {
		return false
	}
	// Only subcommand words, not positional arguments: at most two levels.
	words := path[:min(len(path), 2)]
	key := exe + "\x00" + strings.Join(words, " ")
	yesCache.Lock()
	v, ok := yesCache.m[key]
	yesCache.Unlock()
	if ok {
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, exe, append(append([]string(nil), words...), "--help")...).Output()
	v = bytes.Contains(out, []byte("--yes"))
	yesCache.Lock()
	yesCache.m[key] = v
	yesCache.Unlock()
	return v
}

var yesCache = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// capped is a writer that keeps the first limit bytes.
type capped struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped bool
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
