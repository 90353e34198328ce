package maintain

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
)

// TestTraceOfARunAndAnAction reads the debug trace of a db run and of an
// action refused in read-only mode.
func TestTraceOfARunAndAnAction(t *testing.T) {
	cfg := sandboxConfig(t)
	rec := loggingtest.Capture(t)
	e := newEngine(t, cfg)
	ctx := accesstest.Admin(t.Context())
	rep, err := e.Run(ctx, Options{Mode: ModeDB})
	if err != nil {
		t.Fatal(err)
	}
	ro := sandboxConfig(t)
	ro.ReadOnly = true
	f := Finding{Area: AreaDB, Check: "dead tuples", Object: `"public"."nothing"`,
		Action: &Action{Kind: ActVacuum, Schema: "public", Table: "nothing"}}
	if res := newEngine(t, ro).Apply(ctx, f, nil); !res.Refused || res.Took <= 0 {
		t.Fatalf("read-only vacuum: %+v", res)
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
	want("maintain start", logging.KeyMode, "db")
	want("maintain.area start", logging.KeyArea, "db")
	if r := want("maintain.area end", logging.KeyArea, "db", logging.KeyOutcome, "ok"); r != nil {
		if r[logging.KeyCount].(float64) < 1 {
			t.Errorf("area end: %v", r)
		}
	}
	want("maintain end", logging.KeyMode, "db", logging.KeyOutcome, "ok", logging.KeyStatus, rep.Status.String())
	want("postgres query", logging.KeyClass, logging.ClassPostgres, logging.KeyOutcome, "ok")
	if r := want("maintain.apply end", logging.KeyAction, "maintain.vacuum", logging.KeyTarget, `"public"."nothing"`, logging.KeyOutcome, "error"); r != nil {
		if res, _ := r["result"].(map[string]any); res["refused"] != true {
			t.Errorf("apply end: %v", r)
		}
	}
	if strings.Contains(rec.String(), sb.Postgres.Password) || strings.Contains(rec.String(), sb.Postgres.AppPassword) {
		t.Errorf("the trace holds the password")
	}
	if t.Failed() {
		t.Logf("trace:\n%s", rec)
	}
}
