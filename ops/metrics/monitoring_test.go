package metrics_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestPrometheusPanels(t *testing.T) {
	s := needSandbox(t)
	load, err := sandbox.StartLoad(t.Context(), sandbox.LoadOptions{PostgresDSN: s.Postgres.DSN(), RedisURL: s.Redis.URL(), Rate: 40, ErrorPercent: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer load.Stop()
	prom, err := sandbox.StartPrometheus(t.Context(), sandbox.PrometheusOptions{Targets: []string{load.MetricsAddr}, ScrapeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Stop()

	// The default panels, over 5s instead of 1m: rate() divides by the
	// whole range, so a minute-long range reads low for the first minute.
	panels := config.DefaultPrometheusPanels()
	for i := range panels {
		panels[i].Query = strings.ReplaceAll(panels[i].Query, "[1m]", "[5s]")
	}
	panels = append(panels,
		config.Panel{Name: "broken", Query: "sum(rate(http_requests_total[1m]", Warn: 1, Crit: 2},
		config.Panel{Name: "up", Query: `up{job="stockapp-api"}`, Warn: 0.5, Crit: 0.1, Lower: true})
	p, err := opmetrics.NewPrometheusSampler(prom.URL(), 2*time.Second, time.Second, panels, config.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	e := opmetrics.NewEngine(opmetrics.Options{}, p)
	var snap opmetrics.Snapshot
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.SampleOnce(t.Context())
		snap = e.Snapshot(0)
		rate, _ := snap.Find("prometheus.api_request_rate")
		errs, _ := snap.Find("prometheus.api_error_rate")
		// The errors are drawn at random: a 5s window can hold few of them,
		// so wait (bounded) for one that shows the generated share.
		if (rate.Value > 10 && errs.Value > 5) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st := snap.Sources[0]; !st.OK {
		t.Fatalf("prometheus source: %+v", st)
	}
	if v := value(t, snap, "prometheus.api_request_rate"); v.Value < 10 || v.Value > 80 {
		t.Errorf("request rate %v/s, want about the 40/s generated", v.Value)
	}
	if v := value(t, snap, "prometheus.api_error_rate"); v.Value <= 2 || v.Value > 30 || v.State != health.Crit {
		t.Errorf("error rate %v%% (%v), want about the 10%% generated, critical", v.Value, v.State)
	}
	if v := value(t, snap, "prometheus.api_p95"); math.IsNaN(v.Value) || v.Value <= 0 || v.Value > 2 || v.State != health.OK {
		t.Errorf("P95 = %vs (%v)", v.Value, v.State)
	}
	if v := value(t, snap, "prometheus.up"); v.Value != 1 || !strings.Contains(v.Detail, "job=stockapp-api") {
		t.Errorf("up = %v %q", v.Value, v.Detail)
	}
	if v, _ := snap.Find("prometheus.broken"); v.Err == "" || !strings.Contains(v.Err, "bad_data") || v.State != health.Unknown {
		t.Errorf("a broken query: %+v", v)
	}

	// Prometheus gone: every panel says so, and only those.
	if err := prom.Stop(); err != nil {
		t.Fatal(err)
	}
	e.SampleOnce(t.Context())
	snap = e.Snapshot(0)
	if v, _ := snap.Find("prometheus.api_p95"); !strings.Contains(v.Err, "prometheus unreachable at 127.0.0.1:") || v.State != health.Unknown {
		t.Errorf("with Prometheus stopped: %+v", v)
	}
}

func TestBusinessPanels(t *testing.T) {
	s := needSandbox(t)
	conn := opmetrics.NewPostgresConn(s.Postgres.DSN(), 3*time.Second)
	defer conn.Close()
	panels := append(config.DefaultBusinessPanels(),
		config.Panel{Name: "missing_table", Query: "SELECT count(*) FROM no_such_table", Warn: 1, Crit: 2})
	e := opmetrics.NewEngine(opmetrics.Options{}, opmetrics.NewBusinessSampler(conn, time.Second, panels, config.DefaultThresholds()))
	load, err := sandbox.StartLoad(t.Context(), sandbox.LoadOptions{PostgresDSN: s.Postgres.DSN(), RedisURL: s.Redis.URL(), Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	snap := sampleTwice(t, e, 2*time.Second, nil)
	_ = load.Stop()
	if v := value(t, snap, "business.active_users"); v.Value < 10 || v.State != health.OK {
		t.Errorf("active users %v (%v)", v.Value, v.State)
	}
	if v := value(t, snap, "business.data_updates"); v.Value <= 0 || v.Unit != opmetrics.UnitPerMin {
		t.Errorf("price updates/min %v under load", v.Value)
	}
	if v := value(t, snap, "business.task_success_rate"); v.Value < 50 || v.Value > 100 {
		t.Errorf("task success %v%%", v.Value)
	}
	if v := value(t, snap, "business.data_quality"); v.Value < 90 || v.Value > 100 {
		t.Errorf("data quality %v%%", v.Value)
	}
	if v, _ := snap.Find("business.missing_table"); !strings.Contains(v.Err, "no_such_table") || !strings.Contains(v.Err, "metrics.business missing_table") {
		t.Errorf("a failing query: %+v", v)
	}
	if st := snap.Sources[0]; !st.OK {
		t.Errorf("one failing query failed the source: %+v", st)
	}
}
