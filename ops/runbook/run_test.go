package runbook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/runbook"
)

// fakeOpsdeck stands in for opsdeck's command tree: it prints its arguments
// and who asked, says `backup` takes --yes, fails for `fail`, blocks for
// `slow` until cancelled, ignores cancellation for `stuck`, prints a secret
// for `leak` and 1.1 MB for `big`.
type fakeOpsdeck struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeOpsdeck) Exec(ctx context.Context, args []string, out io.Writer) int {
	f.mu.Lock()
	f.calls = append(f.calls, strings.Join(args, " "))
	f.mu.Unlock()
	fmt.Fprintf(out, "args: %s\nwho: %s\n", strings.Join(args, " "), access.Who(ctx))
	switch args[0] {
	case "fail":
		fmt.Fprintln(out, "boom")
		return 4
	case "slow":
		<-ctx.Done()
		return 130
	case "leak":
		fmt.Fprintln(out, "dsn postgres://app:hunter2@db/x")
	case "big":
		out.Write([]byte(strings.Repeat("x", 1100000)))
	}
	return 0
}

func (f *fakeOpsdeck) AcceptsYes(path []string) bool { return len(path) > 0 && path[0] == "backup" }

func setup(t *testing.T) (exec *fakeOpsdeck, log *audit.Log, logPath string) {
	t.Helper()
	logPath = filepath.Join(t.TempDir(), "audit.log")
	log, err := audit.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &fakeOpsdeck{}, log, logPath
}

func records(t *testing.T, path string) []audit.Record {
	t.Helper()
	recs, err := audit.Read(path, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func mustParse(t *testing.T, line string) runbook.Command {
	t.Helper()
	c, err := runbook.ParseCommand(line)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var readOnlyEnv = access.Env{Name: access.DefaultEnv, ReadOnly: true}

func TestRunReadOnlyCommand(t *testing.T) {
	exec, log, logPath := setup(t)
	ctx := accesstest.As(context.Background(), "vic", access.Viewer)
	res, err := runbook.Run(ctx, mustParse(t, "opsdeck check --target postgres"),
		runbook.RunOptions{Exec: exec, Env: readOnlyEnv, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	if want := "args: check --target postgres --read-only\nwho: vic (viewer)"; strings.TrimSpace(res.Output) != want {
		t.Errorf("output %q, want %q", res.Output, want)
	}
	if res.ExitCode != 0 || res.Line != "opsdeck check --target postgres" {
		t.Errorf("result = %+v", res)
	}
	if recs := records(t, logPath); len(recs) != 0 {
		t.Errorf("a read-only command was audited: %+v", recs)
	}
	// Even a command that changes nothing runs only for someone.
	if _, err := runbook.Run(context.Background(), mustParse(t, "opsdeck check"), runbook.RunOptions{Exec: exec}); !errors.Is(err, access.ErrNoIdentity) {
		t.Errorf("no identity: %v", err)
	}
}

func TestRunRefusals(t *testing.T) {
	exec, log, logPath := setup(t)
	ctx := accesstest.Admin(context.Background())
	backup := mustParse(t, "opsdeck backup database")

	_, err := runbook.Run(ctx, backup, runbook.RunOptions{Exec: exec, Audit: log, Book: "upgrades", Section: "before-any-upgrade"})
	if !errors.Is(err, audit.ErrRefused) {
		t.Errorf("unconfirmed: err = %v, want ErrRefused", err)
	}
	_, err = runbook.Run(ctx, backup, runbook.RunOptions{Exec: exec, Audit: log, Env: readOnlyEnv, Confirmed: true})
	if !errors.Is(err, audit.ErrReadOnly) {
		t.Errorf("read-only: err = %v, want ErrReadOnly", err)
	}
	_, err = runbook.Run(context.Background(), backup, runbook.RunOptions{Exec: exec, Audit: log, Confirmed: true})
	if !errors.Is(err, access.ErrNoIdentity) {
		t.Errorf("no identity: err = %v, want ErrNoIdentity", err)
	}
	_, err = runbook.Run(ctx, mustParse(t, "opsdeck metrics --watch"), runbook.RunOptions{Exec: exec, Audit: log})
	if !errors.Is(err, runbook.ErrInteractive) {
		t.Errorf("--watch: err = %v, want ErrInteractive", err)
	}
	_, err = runbook.Run(ctx, mustParse(t, "opsdeck --config /etc/other.yaml backup database"), runbook.RunOptions{Exec: exec, Audit: log, Confirmed: true})
	if !errors.Is(err, runbook.ErrOwnConfig) {
		t.Errorf("--config: err = %v, want ErrOwnConfig", err)
	}
	_, err = runbook.Run(ctx, backup, runbook.RunOptions{Exec: exec, Confirmed: true})
	if err == nil || !strings.Contains(err.Error(), "audit log cannot record it") {
		t.Errorf("no audit log: err = %v", err)
	}
	if len(exec.calls) != 0 {
		t.Errorf("refused commands ran: %q", exec.calls)
	}
	recs := records(t, logPath)
	if len(recs) != 3 {
		t.Fatalf("audit records = %+v, want the three refusals", recs)
	}
	for _, r := range recs {
		if r.Action != runbook.AuditAction || r.Target != "opsdeck backup database" || r.Result != audit.ResultRefused {
			t.Errorf("record = %+v", r)
		}
	}
}

func TestRunConfirmedCommand(t *testing.T) {
	exec, log, logPath := setup(t)
	ctx := accesstest.As(context.Background(), "olga", access.Operator)
	res, err := runbook.Run(ctx, mustParse(t, "opsdeck backup database"),
		runbook.RunOptions{Exec: exec, Confirmed: true, Audit: log, Book: "upgrades", Section: "before-any-upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Output, "args: backup database --yes\nwho: olga (operator)") {
		t.Errorf("output %q: a confirmed command that takes --yes gets it, and runs as the session", res.Output)
	}
	recs := records(t, logPath)
	if len(recs) != 1 || recs[0].Result != audit.ResultOK || recs[0].Params["runbook"] != "upgrades" || recs[0].Who != "olga" {
		t.Errorf("audit = %+v", recs)
	}

	// A command without --yes does not get one.
	res, err = runbook.Run(accesstest.Admin(context.Background()), mustParse(t, "opsdeck monitoring render --out x"),
		runbook.RunOptions{Exec: exec, Confirmed: true, Audit: log})
	if err != nil || strings.Contains(res.Output, "--yes") {
		t.Errorf("output %q, %v", res.Output, err)
	}
}

func TestRunFailures(t *testing.T) {
	exec, log, logPath := setup(t)
	ctx := accesstest.Admin(context.Background())

	res, err := runbook.Run(ctx, mustParse(t, "opsdeck fail"), runbook.RunOptions{Exec: exec, Confirmed: true, Audit: log})
	if err == nil || !strings.Contains(err.Error(), "exited with status 4") || res.ExitCode != 4 || !strings.Contains(res.Output, "boom") {
		t.Errorf("fail: %+v, %v", res, err)
	}
	if recs := records(t, logPath); len(recs) != 1 || recs[0].Result != audit.ResultError {
		t.Errorf("audit = %+v", recs)
	}

	start := time.Now()
	_, err = runbook.Run(ctx, mustParse(t, "opsdeck slow"), runbook.RunOptions{Exec: exec, Confirmed: true, Audit: log, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not finish within 300ms") {
		t.Errorf("slow: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a timed-out command took %v to stop", took)
	}

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err = runbook.Run(cctx, mustParse(t, "opsdeck slow"), runbook.RunOptions{Exec: exec, Confirmed: true, Audit: log})
	if err == nil || !strings.Contains(err.Error(), "was cancelled") {
		t.Errorf("cancelled: %v", err)
	}

	res, err = runbook.Run(ctx, mustParse(t, "opsdeck leak"), runbook.RunOptions{Exec: exec, Confirmed: true, Audit: log, Secrets: []string{"hunter2"}})
	if err != nil || strings.Contains(res.Output, "hunter2") {
		t.Errorf("secret in output: %q, %v", res.Output, err)
	}

	res, err = runbook.Run(ctx, mustParse(t, "opsdeck big"), runbook.RunOptions{Exec: exec, Confirmed: true, Audit: log})
	if err != nil || !res.Truncated || len(res.Output) > 1<<20 {
		t.Errorf("big output: %d bytes, truncated %v, %v", len(res.Output), res.Truncated, err)
	}

	_, err = runbook.Run(ctx, mustParse(t, "opsdeck check"), runbook.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "run it in a shell") {
		t.Errorf("no executor: %v", err)
	}
}
