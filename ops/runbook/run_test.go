package runbook_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/runbook"
)

// fakeOpsdeck is a stand-in opsdeck binary: it prints its arguments, says
// in its help that `backup` takes --yes, fails for `fail`, sleeps for
// `slow` and prints a secret for `leak`.
const fakeOpsdeck = `#!/bin/sh
for a in "$@"; do [ "$a" = "--help" ] && { [ "$1" = "backup" ] && echo "  -y, --yes   do not ask"; exit 0; }; done
echo "args: $*"
case "$1" in
  fail) echo "boom" >&2; exit 4 ;;
  slow) exec sleep 30 ;;
  leak) echo "dsn postgres://app:hunter2@db/x" ;;
  big) head -c 1100000 /dev/zero | tr '\0' 'x' ;;
esac
exit 0
`

func setup(t *testing.T) (exe string, log *audit.Log, logPath string) {
	t.Helper()
	dir := t.TempDir()
	exe = filepath.Join(dir, "opsdeck")
	if err := os.WriteFile(exe, []byte(fakeOpsdeck), 0o755); err != nil {
		t.Fatal(err)
	}
	logPath = filepath.Join(dir, "audit.log")
	log, err := audit.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return exe, log, logPath
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

func TestRunReadOnlyCommand(t *testing.T) {
	exe, log, logPath := setup(t)
	res, err := runbook.Run(context.Background(), mustParse(t, "opsdeck check --target postgres"),
		runbook.RunOptions{Exe: exe, ConfigPath: "/etc/o.yaml", ReadOnly: true, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	if want := "args: check --target postgres --config /etc/o.yaml --read-only"; strings.TrimSpace(res.Output) != want {
		t.Errorf("output %q, want %q", res.Output, want)
	}
	if res.ExitCode != 0 || res.Line != "opsdeck check --target postgres" {
		t.Errorf("result = %+v", res)
	}
	if recs := records(t, logPath); len(recs) != 0 {
		t.Errorf("a read-only command was audited: %+v", recs)
	}
}

func TestRunRefusals(t *testing.T) {
	exe, log, logPath := setup(t)
	ctx := context.Background()
	backup := mustParse(t, "opsdeck backup database")

	_, err := runbook.Run(ctx, backup, runbook.RunOptions{Exe: exe, Audit: log, Book: "upgrades", Section: "before-any-upgrade"})
	if !errors.Is(err, audit.ErrRefused) {
		t.Errorf("unconfirmed: err = %v, want ErrRefused", err)
	}
	_, err = runbook.Run(ctx, backup, runbook.RunOptions{Exe: exe, Audit: log, ReadOnly: true, Confirmed: true})
	if !errors.Is(err, audit.ErrReadOnly) {
		t.Errorf("read-only: err = %v, want ErrReadOnly", err)
	}
	_, err = runbook.Run(ctx, mustParse(t, "opsdeck metrics --watch"), runbook.RunOptions{Exe: exe, Audit: log})
	if !errors.Is(err, runbook.ErrInteractive) {
		t.Errorf("--watch: err = %v, want ErrInteractive", err)
	}
	recs := records(t, logPath)
	if len(recs) != 2 {
		t.Fatalf("audit records = %+v, want the two refusals", recs)
	}
	for _, r := range recs {
		if r.Action != runbook.AuditAction || r.Target != "opsdeck backup database" || r.Result != audit.ResultRefused {
			t.Errorf("record = %+v", r)
		}
	}
}

func TestRunConfirmedCommand(t *testing.T) {
	exe, log, logPath := setup(t)
	res, err := runbook.Run(context.Background(), mustParse(t, "opsdeck backup database"),
		runbook.RunOptions{Exe: exe, Confirmed: true, Audit: log, Book: "upgrades", Section: "before-any-upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Output, "args: backup database --yes") {
		t.Errorf("output %q: a confirmed command that takes --yes gets it", res.Output)
	}
	recs := records(t, logPath)
	if len(recs) != 1 || recs[0].Result != audit.ResultOK || recs[0].Params["runbook"] != "upgrades" {
		t.Errorf("audit = %+v", recs)
	}

	// A command without --yes in its help does not get one.
	res, err = runbook.Run(context.Background(), mustParse(t, "opsdeck monitoring render --out x"),
		runbook.RunOptions{Exe: exe, Confirmed: true, Audit: log})
	if err != nil || strings.Contains(res.Output, "--yes") {
		t.Errorf("output %q, %v", res.Output, err)
	}
}

func TestRunFailures(t *testing.T) {
	exe, log, logPath := setup(t)
	ctx := context.Background()

	res, err := runbook.Run(ctx, mustParse(t, "opsdeck fail"), runbook.RunOptions{Exe: exe, Confirmed: true, Audit: log})
	if err == nil || !strings.Contains(err.Error(), "exited with status 4") || res.ExitCode != 4 || !strings.Contains(res.Output, "boom") {
		t.Errorf("fail: %+v, %v", res, err)
	}
	if recs := records(t, logPath); len(recs) != 1 || recs[0].Result != audit.ResultError {
		t.Errorf("audit = %+v", recs)
	}

	start := time.Now()
	_, err = runbook.Run(ctx, mustParse(t, "opsdeck slow"), runbook.RunOptions{Exe: exe, Confirmed: true, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not finish within 300ms") {
		t.Errorf("slow: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a timed-out command took %v to stop", took)
	}

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err = runbook.Run(cctx, mustParse(t, "opsdeck slow"), runbook.RunOptions{Exe: exe, Confirmed: true})
	if err == nil || !strings.Contains(err.Error(), "was cancelled") {
		t.Errorf("cancelled: %v", err)
	}

	res, err = runbook.Run(ctx, mustParse(t, "opsdeck leak"), runbook.RunOptions{Exe: exe, Confirmed: true, Secrets: []string{"hunter2"}})
	if err != nil || strings.Contains(res.Output, "hunter2") {
		t.Errorf("secret in output: %q, %v", res.Output, err)
	}

	res, err = runbook.Run(ctx, mustParse(t, "opsdeck big"), runbook.RunOptions{Exe: exe, Confirmed: true})
	if err != nil || !res.Truncated || len(res.Output) > 1<<20 {
		t.Errorf("big output: %d bytes, truncated %v, %v", len(res.Output), res.Truncated, err)
	}

	_, err = runbook.Run(ctx, mustParse(t, "opsdeck check"), runbook.RunOptions{Exe: filepath.Join(t.TempDir(), "missing")})
	if err == nil || !strings.Contains(err.Error(), "run opsdeck check") {
		t.Errorf("missing binary: %v", err)
	}
}
