package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
)

// TestDebugTrace runs a backup, a deep verify and a prune with --debug's
// log and reads the log file back: the engines' decisions and a record of
// every class of server call are there, with durations, and no secret.
func TestDebugTrace(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	cfg := testConfig(t)
	logger, closer, err := logging.Setup(cfg.StateDir, true, cfg.Secrets()...)
	if err != nil {
		t.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(logger)
	defer func() { slog.SetDefault(prev); closer.Close() }()
	e := newEngine(t, cfg)

	// An old set that retention removes, then today's.
	e.Now = func() time.Time { return time.Now().Add(-400 * 24 * time.Hour) }
	old, err := e.Backup(ctx, Options{Kind: Database})
	if err != nil {
		t.Fatal(err)
	}
	e.Now = nil
	res, err := e.Backup(ctx, Options{Kind: "full", Components: []string{Database, Redis, Config}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{res.Manifest.ID}, Deep: true}); err != nil {
		t.Fatal(err)
	}
	pr, err := e.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Deleted) != 1 || pr.Deleted[0] != old.Manifest.ID {
		t.Fatalf("pruned %v, want %s", pr.Deleted, old.Manifest.ID)
	}
	slog.SetDefault(prev)
	closer.Close()

	raw, err := os.ReadFile(logging.Path(cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		recs = append(recs, m)
	}
	id := res.Manifest.ID
	find := func(msg string, match ...string) []map[string]any {
		var out []map[string]any
		for _, r := range recs {
			if r["msg"] == msg && loggingtest.Has(r, match...) {
				out = append(out, r)
			}
		}
		return out
	}
	want := func(what, msg string, match ...string) map[string]any {
		t.Helper()
		rs := find(msg, match...)
		if len(rs) == 0 {
			t.Errorf("no %s record (%q %v) in the log", what, msg, match)
			return nil
		}
		return rs[0]
	}
	timed := func(what string, r map[string]any) {
		t.Helper()
		if r == nil {
			return
		}
		if d, ok := r[logging.KeyDuration].(float64); !ok || d <= 0 {
			t.Errorf("%s record without a duration: %v", what, r)
		}
	}

	// The run's decisions.
	want("run start", "backup start", logging.KeyComponents, `["database","redis","config"]`)
	timed("run end", want("run end", "backup end", logging.KeySet, id, logging.KeyOutcome, "ok", logging.KeyStatus, StatusOK))
	want("lock", "backup lock taken")
	want("set", "backup set", logging.KeySet, id)
	for _, c := range []string{Database, Redis, Config} {
		want(c+" start", "backup.component start", logging.KeySet, id, logging.KeyComponent, c)
		end := want(c+" end", "backup.component end", logging.KeySet, id, logging.KeyComponent, c, logging.KeyOutcome, "ok")
		timed(c, end)
		if end != nil && end[logging.KeyBytes].(float64) <= 0 {
			t.Errorf("%s end without its bytes: %v", c, end)
		}
	}
	want("commit", "backup committed", logging.KeySet, id)
	want("read back", "backup read back", logging.KeySet, id, logging.KeyOutcome, "ok")
	// Verify: each file, deep.
	timed("verify", want("verify", "backup.verify end", logging.KeyMode, "deep", logging.KeyOutcome, "ok"))
	if n := len(find("backup.verify.file end", logging.KeySet, id, logging.KeyMode, "deep", logging.KeyOutcome, "ok")); n < 3 {
		t.Errorf("%d deep file checks of %s in the log, want one per file", n, id)
	}
	// Prune: the plan, what is kept and why, what is deleted.
	if d := want("prune delete", "backup.prune decision", logging.KeySet, old.Manifest.ID, logging.KeyDecision, "delete"); d != nil && !strings.HasPrefix(d[logging.KeyReason].(string), "past retention") {
		t.Errorf("delete reason: %v", d)
	}
	if d := want("prune keep", "backup.prune decision", logging.KeySet, id, logging.KeyDecision, "keep"); d != nil && !strings.Contains(d[logging.KeyReason].(string), "newest verified database") {
		t.Errorf("keep reason: %v", d)
	}
	want("prune end", "backup.prune end", logging.KeyCount, "1")

	// A record of each class of server call, timed.
	timed("postgres", want("postgres", "postgres query", logging.KeyClass, logging.ClassPostgres, logging.KeyOutcome, "ok"))
	if d := want("pg_dump", "exec", logging.KeyClass, logging.ClassExec, logging.KeyExitCode, "0"); d != nil {
		timed("exec", d)
	}
	dumps := 0
	for _, r := range find("exec", logging.KeyExitCode, "0") {
		if cmd, _ := r[logging.KeyCommand].(string); strings.HasPrefix(cmd, "pg_dump ") && strings.Contains(cmd, "--snapshot=") {
			dumps++
		}
	}
	if dumps != 2 {
		t.Errorf("%d pg_dump runs in the log, want 2", dumps)
	}
	timed("redis", want("redis", "redis sync", logging.KeyClass, logging.ClassRedis, logging.KeyOutcome, "ok"))
	timed("kube", want("kube", "kube request", logging.KeyClass, logging.ClassKube, logging.KeyHTTPStatus, "200"))
	timed("store create", want("store create", "store create", logging.KeyClass, logging.ClassStore, logging.KeySet, id))
	timed("store commit", want("store commit", "store commit", logging.KeySet, id))
	timed("store delete", want("store delete", "store delete", logging.KeySet, old.Manifest.ID))
	if len(find("exec", logging.KeyExitCode, "0", logging.KeyCommand, "pg_restore --list")) == 0 {
		t.Errorf("no pg_restore --list of the deep verify in the log")
	}

	// No secret of the configuration, nor the sandbox's passwords.
	secrets := append(cfg.Secrets(), sb.Postgres.Password, sb.Postgres.AppPassword)
	if sb.Redis.Password != "" {
		secrets = append(secrets, sb.Redis.Password)
	}
	if len(secrets) < 3 {
		t.Fatalf("too few secrets to look for: %d", len(secrets))
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(raw), s) {
			t.Errorf("the log holds a secret: %.3s…", s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", raw)
	}
}
