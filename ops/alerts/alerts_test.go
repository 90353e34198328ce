package alerts_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

var am *sandbox.AlertmanagerServer

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if am, err = sandbox.StartAlertmanager(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "start Alertmanager: %v\nrun `make deps`, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
		return 1
	}
	defer am.Stop()
	return m.Run()
}

// eventually polls cond for up to 10s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 10s", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestAlertmanagerListSilenceUnsilence(t *testing.T) {
	if am == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	ctx := accesstest.As(t.Context(), "tester", access.Operator)
	c, err := alerts.NewClient(am.URL(), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	posted := alerts.PostableAlert{
		Labels:      map[string]string{"alertname": "PostgreSQLHighConnections", "severity": "warning", "instance": "db-0", "team": "data"},
		Annotations: map[string]string{"summary": "connections at 85% of max_connections"},
		StartsAt:    time.Now().Add(-time.Minute),
	}
	if err := c.PostAlerts(ctx, []alerts.PostableAlert{posted}); err != nil {
		t.Fatal(err)
	}
	find := func() (alerts.Alert, bool) {
		as, err := c.Alerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Name == "PostgreSQLHighConnections" {
				return a, true
			}
		}
		return alerts.Alert{}, false
	}
	var a alerts.Alert
	eventually(t, "posted alert listed", func() (bool, string) {
		var ok bool
		a, ok = find()
		return ok, "absent"
	})
	if a.Severity != "warning" || a.Summary != "connections at 85% of max_connections" || a.State != alerts.StateFiring ||
		a.Source != alerts.SourceAlertmanager || a.Labels["instance"] != "db-0" || time.Since(a.Since) < 50*time.Second {
		t.Errorf("listed alert = %+v", a)
	}
	if got := alerts.LabelString(a.Labels); got != "instance=db-0 team=data" {
		t.Errorf("LabelString = %q", got)
	}

	logPath := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()

	// Read-only: refused and audited, nothing created.
	ro := alerts.Silencer{Client: c, Audit: log, Env: access.Env{Name: access.DefaultEnv, ReadOnly: true}, Who: "tester"}
	if _, err := ro.Silence(ctx, a, time.Hour, "maintenance"); !errors.Is(err, audit.ErrReadOnly) {
		t.Errorf("read-only silence: %v", err)
	}
	if err := ro.Expire(ctx, "whatever"); !errors.Is(err, audit.ErrReadOnly) {
		t.Errorf("read-only expire: %v", err)
	}
	if ss, _ := c.Silences(ctx); len(ss) != 0 {
		t.Errorf("read-only mode created silences: %+v", ss)
	}

	s := alerts.Silencer{Client: c, Audit: log, Who: "tester"}
	if _, err := s.Silence(ctx, a, 0, ""); !errors.Is(err, audit.ErrRefused) {
		t.Errorf("zero-length silence: %v", err)
	}
	id, err := s.Silence(ctx, a, 2*time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := c.Silences(ctx)
	if err != nil || len(ss) != 1 || ss[0].ID != id || ss[0].State != "active" || ss[0].CreatedBy != "tester" {
		t.Fatalf("silences = %+v, %v", ss, err)
	}
	if m := ss[0].MatcherString(); !strings.Contains(m, `alertname="PostgreSQLHighConnections"`) || !strings.Contains(m, `instance="db-0"`) {
		t.Errorf("matchers = %s", m)
	}
	if d := ss[0].EndsAt.Sub(ss[0].StartsAt); d < 119*time.Minute || d > 121*time.Minute {
		t.Errorf("silence lasts %v", d)
	}
	eventually(t, "alert silenced", func() (bool, string) {
		a, _ = find()
		return a.State == alerts.StateSilenced && len(a.SilencedBy) == 1 && a.SilencedBy[0] == id, a.State
	})

	if err := s.Expire(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ss, _ := c.Silences(ctx); len(ss) != 0 {
		t.Errorf("expired silence still listed: %+v", ss)
	}
	eventually(t, "alert un-silenced", func() (bool, string) {
		a, _ = find()
		return a.State == alerts.StateFiring, a.State
	})
	if err := s.Expire(ctx, "00000000-0000-0000-0000-000000000000"); err == nil || !errors.Is(err, alerts.ErrAPI) {
		t.Errorf("expiring an unknown silence: %v", err)
	}

	recs, err := audit.Read(logPath, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+":"+r.Result)
	}
	want := []string{ // newest first
		"alertmanager.silence.expire:error", "alertmanager.silence.expire:ok",
		"alertmanager.silence.create:ok", "alertmanager.silence.create:refused",
		"alertmanager.silence.expire:refused", "alertmanager.silence.create:refused",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit records:\n got %v\nwant %v", got, want)
	}
}

func TestAlertmanagerUnreachable(t *testing.T) {
	bh, err := sandbox.StartBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer bh.Close()
	c, err := alerts.NewClient("http://user:s3cret@"+bh.Addr, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Alerts(t.Context())
	if err == nil || !strings.Contains(err.Error(), "alertmanager unreachable at "+bh.Addr) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Alerts on a black hole: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v despite a 300ms timeout", d)
	}
	if _, err := alerts.NewClient("alertmanager:9093", time.Second); err == nil {
		t.Error("a URL without scheme was accepted")
	}
}

func TestEvaluate(t *testing.T) {
	th := config.DefaultThresholds()
	now := time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)
	conn, _ := th.Named("db_connections_percent")
	hit, _ := th.Named("cache_hit_ratio_percent")
	snap := opmetrics.Snapshot{
		At: now,
		Series: []opmetrics.SeriesView{
			{SeriesInfo: opmetrics.SeriesInfo{ID: opmetrics.PGConnections, Source: "postgres", Title: "connections", Unit: opmetrics.UnitPercent,
				Threshold: opmetrics.Threshold{Name: conn.Name, Limit: conn.Limit}}, Value: 85, State: health.Warn, Since: now.Add(-3 * time.Minute), Detail: "82/97"},
			{SeriesInfo: opmetrics.SeriesInfo{ID: opmetrics.PGCacheHit, Source: "postgres", Title: "cache hit", Unit: opmetrics.UnitPercent,
				Threshold: opmetrics.Threshold{Name: hit.Name, Limit: hit.Limit, Lower: true}}, Value: 75, State: health.Crit, Since: now.Add(-time.Minute)},
			{SeriesInfo: opmetrics.SeriesInfo{ID: opmetrics.RedisKeys, Source: "redis"}, Value: 10, State: health.OK},
			{SeriesInfo: opmetrics.SeriesInfo{ID: "business.x"}, Value: math.NaN(), State: health.Unknown},
		},
		Sources: []opmetrics.SourceStatus{
			{Name: "postgres", OK: true, Runs: 3},
			{Name: "redis", OK: false, Runs: 3, Err: "redis unreachable at 127.0.0.1:6379", LastOK: now.Add(-time.Minute)},
			{Name: "prometheus", OK: false, Runs: 0},
		},
	}
	got := alerts.Evaluate(snap)
	var lines []string
	for _, a := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s %s", a.Name, a.Severity, a.Summary, a.Since.Format("15:04")))
	}
	want := []string{
		"PostgresCacheHit critical cache hit 75% ≤ 80% 08:29",
		"RedisDown critical redis unreachable at 127.0.0.1:6379 08:29",
		"PostgreSQLHighConnections warning connections 85% ≥ 80% (82/97) 08:27",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Evaluate:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, a := range got {
		if a.Source != alerts.SourceOpsdeck || a.State != alerts.StateFiring || a.Labels["alertname"] != a.Name {
			t.Errorf("alert %+v", a)
		}
	}
	var s alerts.Silencer
	if _, err := s.Silence(t.Context(), got[0], time.Hour, ""); err == nil {
		t.Error("silencing without an Alertmanager succeeded")
	}
}

func TestAlertName(t *testing.T) {
	for id, want := range map[string]string{
		opmetrics.PGConnections:      "PostgreSQLHighConnections",
		"prometheus.api_error_rate":  "HighAPIErrorRate",
		opmetrics.PGCacheHit:         "PostgresCacheHit",
		"business.task_success_rate": "BusinessTaskSuccessRate",
	} {
		if got := alerts.AlertName(id); got != want {
			t.Errorf("AlertName(%q) = %q, want %q", id, got, want)
		}
	}
}
