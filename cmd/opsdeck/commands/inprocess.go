package commands

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/runbook"
)

// InProcess runs runbook commands inside this process: a fresh command
// tree per command, on the session's configuration and audit log, with the
// session's context — so the command's engines check and record the
// session's identity, exactly as the tab's own actions do.
func InProcess(cfg *config.Config, log *audit.Log) runbook.Executor {
	return inProcessExec{cfg: cfg, log: log}
}

type inProcessExec struct {
	cfg *config.Config
	log *audit.Log
}

// Exec implements runbook.Executor. A panic in the command is its exit
// status 70, not the end of the cockpit.
func (x inProcessExec) Exec(ctx context.Context, args []string, out io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("runbook command panicked", "args", args, "panic", r, "stack", string(debug.Stack()))
			fmt.Fprintf(out, "opsdeck: internal error running this command (%v): see the log file\n", r)
			code = 70
		}
	}()
	root := newRoot(cli.InProcess(x.cfg, x.log))
	root.SetIn(bytes.NewReader(nil))
	return Execute(ctx, root, args, out, out)
}

// AcceptsYes implements runbook.Executor from the command tree itself.
func (x inProcessExec) AcceptsYes(path []string) bool {
	root := newRoot(cli.InProcess(x.cfg, x.log))
	cmd, _, err := root.Find(path)
	return err == nil && cmd != root && cmd.Flags().Lookup("yes") != nil
}
