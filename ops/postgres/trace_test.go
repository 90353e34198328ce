package postgres_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestTraceRecordsCalls(t *testing.T) {
	requireServer(t)
	rec := loggingtest.Capture(t)
	pool := connect(t, server.DSN())
	const arg = "an-argument-value-77"
	var got string
	if err := pool.QueryRow(t.Context(), "SELECT $1::text\n-- second line", arg).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.TakeSnapshot(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	// A failed connect is a record too, without the password.
	const wrong = "not-the-password-43"
	dsn := withDSN(t, func(u *url.URL) { u.User = url.UserPassword(sandbox.PostgresSuperuser, wrong) })
	if _, err := postgres.Connect(t.Context(), dsn, 3*time.Second); err == nil {
		t.Fatal("connected with a wrong password")
	}
	target := postgres.Describe(pool)
	if rs := rec.Find(t, "postgres connect", logging.KeyClass, logging.ClassPostgres, logging.KeyTarget, target, logging.KeyOutcome, "ok"); len(rs) == 0 {
		t.Errorf("no connect record for %s:\n%s", target, rec)
	}
	q := rec.Find(t, "postgres query", logging.KeySQL, "SELECT $1::text", logging.KeyOutcome, "ok", logging.KeyCount, "1")
	if len(q) != 1 {
		t.Fatalf("query records = %v\n%s", q, rec)
	}
	if _, ok := q[0][logging.KeyDuration]; !ok {
		t.Errorf("query record without its duration: %v", q[0])
	}
	if len(rec.Find(t, "postgres batch", logging.KeyOutcome, "ok")) == 0 || len(rec.Find(t, "postgres batch query")) == 0 {
		t.Errorf("no batch records:\n%s", rec)
	}
	if len(rec.Find(t, "postgres connect", logging.KeyOutcome, "error")) == 0 {
		t.Errorf("no failed connect record:\n%s", rec)
	}
	for _, s := range []string{arg, wrong, server.Password} {
		if strings.Contains(rec.String(), s) {
			t.Errorf("the trace holds %q:\n%s", s, rec)
		}
	}
}
