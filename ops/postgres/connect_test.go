package postgres_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// withDSN returns the shared server's DSN with one part changed.
func withDSN(t *testing.T, change func(u *url.URL)) string {
	t.Helper()
	u, err := url.Parse(server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	change(u)
	return u.String()
}

// connectErr connects to dsn, which must fail, and says how long it took.
func connectErr(t *testing.T, dsn string, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	pool, err := postgres.Connect(t.Context(), dsn, timeout)
	took := time.Since(start)
	if err == nil {
		pool.Close()
		t.Fatal("Connect succeeded")
	}
	t.Logf("%v (after %s)", err, took.Round(time.Millisecond))
	return took, err
}

func TestConnectSetsApplicationName(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.DSN())
	var name string
	if err := pool.QueryRow(t.Context(), "SELECT current_setting('application_name')").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != postgres.ApplicationName {
		t.Errorf("application_name = %q", name)
	}
	if max := pool.Config().MaxConns; max != postgres.MaxConns {
		t.Errorf("MaxConns = %d", max)
	}
	if got, want := postgres.Describe(pool), "opsdeck@127.0.0.1:"; !strings.HasPrefix(got, want) || strings.Contains(got, server.Password) {
		t.Errorf("Describe = %q", got)
	}
}

func TestConnectWrongPassword(t *testing.T) {
	requireServer(t)
	const wrong = "not-the-password-42"
	dsn := withDSN(t, func(u *url.URL) { u.User = url.UserPassword(sandbox.PostgresSuperuser, wrong) })
	_, err := connectErr(t, dsn, 3*time.Second)
	if k := postgres.Classify(err); k != postgres.KindAuth {
		t.Errorf("Classify = %v, want %v", k, postgres.KindAuth)
	}
	msg := err.Error()
	want := fmt.Sprintf("password authentication failed for user %q", sandbox.PostgresSuperuser)
	if !strings.Contains(msg, want) || !strings.Contains(msg, "check the password in postgres.dsn or PGPASSWORD") {
		t.Errorf("message %q lacks %q and its advice", msg, want)
	}
	if strings.Contains(msg, wrong) || strings.Contains(msg, server.Password) || strings.Contains(msg, "postgres://") {
		t.Errorf("message shows a password or the DSN: %q", msg)
	}
}

func TestConnectMissingDatabase(t *testing.T) {
	requireServer(t)
	dsn := withDSN(t, func(u *url.URL) { u.Path = "/no_such_db" })
	_, err := connectErr(t, dsn, 3*time.Second)
	if k := postgres.Classify(err); k != postgres.KindDatabaseMissing || !strings.Contains(err.Error(), `"no_such_db"`) {
		t.Errorf("Classify = %v (%v), want %v naming the database", k, err, postgres.KindDatabaseMissing)
	}
}

func TestConnectRefused(t *testing.T) {
	port, err := sandbox.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	dsn := fmt.Sprintf("postgres://opsdeck:secret-pw-77@127.0.0.1:%d/stockdb?sslmode=disable", port)
	took, err := connectErr(t, dsn, 3*time.Second)
	want := fmt.Sprintf("connection refused at 127.0.0.1:%d — is PostgreSQL running? check postgres.dsn", port)
	if postgres.Classify(err) != postgres.KindUnreachable || err.Error() != want {
		t.Errorf("got %v: %q\nwant unreachable: %q", postgres.Classify(err), err, want)
	}
	if took > time.Second {
		t.Errorf("a refused connection took %s to report", took)
	}
}

func TestConnectBlackholeHonoursTimeout(t *testing.T) {
	bh, err := sandbox.StartBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer bh.Close()
	took, err := connectErr(t, "postgres://opsdeck:pw@"+bh.Addr+"/stockdb?sslmode=disable", time.Second)
	if k := postgres.Classify(err); k != postgres.KindTimeout || !strings.Contains(err.Error(), "within 1s") {
		t.Errorf("Classify = %v (%v), want timeout naming 1s", k, err)
	}
	if took < 900*time.Millisecond || took > 2*time.Second {
		t.Errorf("took %s with a 1s timeout", took)
	}
}

func TestConnectUnroutableAddressHonoursTimeout(t *testing.T) {
	// 10.255.255.1 drops packets on most networks, fails at once where there
	// is no route, and reaches a proxy on some sandboxes. It is quick anyway.
	took, _ := connectErr(t, "postgres://opsdeck:pw@10.255.255.1:5432/stockdb?sslmode=disable", time.Second)
	if took > 2*time.Second {
		t.Errorf("took %s with a 1s timeout", took)
	}
}

func TestConnectBadDSNHidesPassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://opsdeck:hunter2secret@host:notaport/db",
		"host=h password=hunter2secret port=notaport",
		"postgres://opsdeck:hunter2secret@host/db?sslmode=sometimes",
	} {
		_, err := postgres.Connect(t.Context(), dsn, time.Second)
		if err == nil {
			t.Errorf("Connect accepted %q", dsn)
			continue
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("error shows the password: %v", err)
		}
		if postgres.Classify(err) != postgres.KindConfig || !strings.Contains(err.Error(), "postgres.dsn") {
			t.Errorf("Classify = %v (%v), want %v naming postgres.dsn", postgres.Classify(err), err, postgres.KindConfig)
		}
	}
}

func TestServerStopped(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	srv, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	pool, err := postgres.Connect(ctx, srv.DSN(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.TakeSnapshot(ctx, pool); err != nil {
		t.Fatal(err)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = postgres.TakeSnapshot(ctx, pool)
	if k := postgres.Classify(err); k != postgres.KindUnreachable {
		t.Errorf("snapshot on a pool whose server died: %v (%v), want unreachable", k, err)
	}
	_, err = connectErr(t, srv.DSN(), 2*time.Second)
	if k := postgres.Classify(err); k != postgres.KindUnreachable || !strings.Contains(err.Error(), "is PostgreSQL running?") {
		t.Errorf("connect to a stopped server: %v (%v), want unreachable", k, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("noticing the dead server took %s; want well under the 2s connect timeout", took)
	}

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.TakeSnapshot(ctx, pool); err != nil {
		t.Errorf("the pool did not recover after a restart: %v", err)
	}
}
