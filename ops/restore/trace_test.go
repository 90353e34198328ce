package restore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// TestTraceOfAnUndoneRestore reads the debug trace of a Redis restore
// that fails after its flush: the plan and its choices, the preflight's
// checks, each step's phases with their outcome, the undo, the server
// calls, and no password.
func TestTraceOfAnUndoneRestore(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	rec := loggingtest.Capture(t) // no secret listed: the code itself must not log one
	e := oprestore.New(f.be)
	oprestore.SetHook(e, "after:redis.restore", func() error { return errors.New("injected failure") })
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(ctx, plan, nil); err == nil {
		t.Fatal("the injected failure did not fail the run")
	}
	want := func(msg string, match ...string) map[string]any {
		t.Helper()
		rs := rec.Find(t, msg, match...)
		if len(rs) == 0 {
			t.Errorf("no %q record with %v", msg, match)
			return nil
		}
		return rs[0]
	}
	want("restore.prepare end", logging.KeySet, f.set.ID, logging.KeyOutcome, "ok")
	if p := want("restore plan", logging.KeySet, f.set.ID); p != nil {
		ch, _ := p["choices"].(map[string]any)
		if ch["safety_backup"] != true || ch["stop_writers"] != true {
			t.Errorf("plan choices = %v", p["choices"])
		}
		if steps, _ := p[logging.KeyStep].([]any); len(steps) != len(plan.Steps) {
			t.Errorf("plan steps = %v", p[logging.KeyStep])
		}
	}
	want("restore check", logging.KeyComponent, "redis", logging.KeyCheck, "reachable", logging.KeyStatus, "ok")
	want("restore lock", logging.KeyOutcome, "ok")
	want("restore.step start", logging.KeyStep, "redis.restore", logging.KeyPhase, "do")
	want("restore.step end", logging.KeyStep, "redis.restore", logging.KeyPhase, "do", logging.KeyOutcome, "ok")
	want("restore.step end", logging.KeyStep, "redis.restore", logging.KeyPhase, "undo", logging.KeyOutcome, "ok")
	want("restore.step end", logging.KeyStep, "redis.safety", logging.KeyPhase, "do", logging.KeyOutcome, "ok")
	want("restore step skipped", logging.KeyStep, "post-checks")
	if r := want("restore end", logging.KeySet, f.set.ID, logging.KeyOutcome, "error"); r != nil {
		if res, _ := r["result"].(map[string]any); res["undone"] != true {
			t.Errorf("restore end = %v", r)
		}
		if _, ok := r[logging.KeyDuration]; !ok {
			t.Errorf("restore end without its duration: %v", r)
		}
	}
	want("redis command", logging.KeyClass, logging.ClassRedis, logging.KeyCommand, "flushall", logging.KeyOutcome, "ok")
	want("backup end", logging.KeyKind, "pre-restore", logging.KeyOutcome, "ok")
	if strings.Contains(rec.String(), f.srv.Password) {
		t.Errorf("the trace holds the Redis password:\n%s", rec)
	}
	if t.Failed() {
		t.Logf("trace:\n%s", rec)
	}
}
