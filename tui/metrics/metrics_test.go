package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	"github.com/opsdeck/opsdeck/tui/metrics"
)

// fakeEngine serves a fixed snapshot: the sandbox's series over 15 minutes,
// with Prometheus unreachable.
type fakeEngine struct {
	mu    sync.Mutex
	snap  opmetrics.Snapshot
	calls int
}

func (f *fakeEngine) Snapshot(time.Duration) opmetrics.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.snap
}
func (f *fakeEngine) Window() time.Duration   { return 15 * time.Minute }
func (f *fakeEngine) Interval() time.Duration { return 2 * time.Second }

func (f *fakeEngine) set(s opmetrics.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = s
}

// series builds a series with 450 points (15m at 2s) following shape.
func series(id, source, title string, u opmetrics.Unit, th string, scale float64, shape func(i int) float64) opmetrics.SeriesView {
	n, _ := config.DefaultThresholds().Named(th)
	v := opmetrics.SeriesView{SeriesInfo: opmetrics.SeriesInfo{
		ID: id, Source: source, Level: opmetrics.LevelSystem, Title: title, Unit: u,
		Threshold: opmetrics.Threshold{Name: n.Name, Limit: config.Limit{Warn: n.Limit.Warn * scale, Crit: n.Limit.Crit * scale}, Lower: n.Lower},
	}}
	if source == "business" {
		v.Level = opmetrics.LevelBusiness
	}
	if source == "prometheus" {
		v.Level = opmetrics.LevelApplication
	}
	for i := range 450 {
		v.Points = append(v.Points, opmetrics.Point{At: tuitest.Now.Add(time.Duration(i-449) * 2 * time.Second), V: shape(i)})
	}
	v.Value, v.At = v.Points[449].V, tuitest.Now
	v.Min, v.Max, _ = opmetrics.MinMax(v.Points)
	v.State = v.Threshold.Judge(v.Value)
	v.Since = tuitest.Now.Add(-3 * time.Minute)
	return v
}

func wave(base, amp float64, period int) func(int) float64 {
	return func(i int) float64 { return base + amp*math.Sin(float64(i)*2*math.Pi/float64(period)) }
}

func sandboxSnapshot() opmetrics.Snapshot {
	s := opmetrics.Snapshot{At: tuitest.Now, Window: 15 * time.Minute}
	add := func(v opmetrics.SeriesView, detail string) {
		v.Detail = detail
		s.Series = append(s.Series, v)
	}
	add(series(opmetrics.PGTransactions, "postgres", "transactions/s", opmetrics.UnitPerSec, "db_transactions_per_sec", 1, wave(40, 25, 90)), "commits 39/s · rollbacks 1/s")
	add(series(opmetrics.PGConnections, "postgres", "connections", opmetrics.UnitPercent, "db_connections_percent", 1, wave(70, 15, 200)), "82/97 · active 12 · idle 60 · idle in tx 3")
	add(series(opmetrics.PGCacheHit, "postgres", "cache hit", opmetrics.UnitPercent, "cache_hit_ratio_percent", 1, wave(99.3, 0.4, 60)), "since start 99.41%")
	add(series(opmetrics.PGLongestTx, "postgres", "longest transaction", opmetrics.UnitSeconds, "longest_transaction", 1, func(i int) float64 { return float64(i%30) * 0.1 }), "oldest open transaction")
	add(series(opmetrics.RedisHitRate, "redis", "hit rate", opmetrics.UnitPercent, "redis_hit_rate_percent", 1, wave(88, 4, 120)), "since start 90.2%")
	add(series(opmetrics.RedisMemory, "redis", "memory", opmetrics.UnitPercent, "redis_memory_percent", 1, func(i int) float64 { return 20 + float64(i)/45 }), "62Mi/256Mi · allkeys-lru")
	add(series(opmetrics.KubeRestarts, "kubernetes", "pod restarts", opmetrics.UnitNone, "pod_restarts", 1, func(i int) float64 { return float64(i / 40) }), "stockapp/worker-7d9f8-cbb5l · 16 in all pods")
	add(series(opmetrics.KubeNodesNotReady, "kubernetes", "nodes not ready", opmetrics.UnitNone, "nodes_not_ready", 1, func(int) float64 { return 1 }), "1 of 6 nodes")
	p95 := series("prometheus.api_p95", "prometheus", "API P95 latency", opmetrics.UnitSeconds, "api_p95", 1, wave(0.3, 0.1, 50))
	p95.Err = "Prometheus unreachable at 127.0.0.1:9090: connection refused — check that it runs and prometheus.url"
	p95.State = health.Unknown
	add(p95, "")
	add(series("business.task_success_rate", "business", "analysis task success", opmetrics.UnitPercent, "task_success_rate_percent", 1, wave(93, 2, 300)), "")
	s.Sources = []opmetrics.SourceStatus{
		{Name: "postgres", OK: true, Runs: 450}, {Name: "redis", OK: true, Runs: 450}, {Name: "kubernetes", OK: true, Runs: 450},
		{Name: "prometheus", OK: false, Runs: 450, Err: p95.Err}, {Name: "business", OK: true, Runs: 60},
	}
	return s
}

// fakeAM is an Alertmanager with silences kept in memory.
type fakeAM struct {
	mu       sync.Mutex
	alerts   []alerts.Alert
	silences []alerts.Silence
	err      error
}

func (f *fakeAM) Alerts(context.Context) ([]alerts.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]alerts.Alert(nil), f.alerts...), f.err
}

func (f *fakeAM) Silences(context.Context) ([]alerts.Silence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]alerts.Silence(nil), f.silences...), f.err
}

// fakeSilencer records what it was asked; it stands where alerts.Silencer
// does (the real one is tested against Alertmanager in ops/alerts).
type fakeSilencer struct {
	am      *fakeAM
	created []time.Duration
	expired []string
}

func (f *fakeSilencer) Silence(_ context.Context, a alerts.Alert, d time.Duration, _ string) (string, error) {
	f.created = append(f.created, d)
	f.am.mu.Lock()
	defer f.am.mu.Unlock()
	f.am.silences = append(f.am.silences, alerts.Silence{ID: "5f1c2d3e-0000", State: "active", Matchers: alerts.MatchersFor(a), EndsAt: tuitest.Now.Add(d), CreatedBy: "ops"})
	return "5f1c2d3e-0000", nil
}

func (f *fakeSilencer) Expire(_ context.Context, id string) error {
	f.expired = append(f.expired, id)
	return nil
}

func firing() []alerts.Alert {
	return []alerts.Alert{
		{Name: "HighAPIErrorRate", Severity: "critical", Summary: "API error rate 6.2% is above 5%", Since: tuitest.Now.Add(-12 * time.Minute),
			Labels: map[string]string{"alertname": "HighAPIErrorRate", "severity": "critical", "team": "backend"}, State: alerts.StateFiring, Source: alerts.SourceAlertmanager},
		{Name: "PostgreSQLHighConnections", Severity: "warning", Summary: "connections at 85% of max_connections", Since: tuitest.Now.Add(-3 * time.Minute),
			Labels: map[string]string{"alertname": "PostgreSQLHighConnections", "severity": "warning", "instance": "db-0"}, State: alerts.StateFiring, Source: alerts.SourceAlertmanager},
	}
}

// loaded returns a tab that has taken its first snapshot (and alerts).
func loaded(t testing.TB, w, h int, c *common.Common, src metrics.Sources) *metrics.Tab {
	t.Helper()
	tab := metrics.New(c, src)
	tab.SetSize(w, h)
	tuitest.Drive(t, tab, tab.Init(), 100*time.Millisecond)
	return tab
}

func press(t testing.TB, tab *metrics.Tab, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, cmd := tab.Update(tuitest.Key(k))
		tuitest.Drive(t, tab, cmd, 100*time.Millisecond)
	}
}

func localSources() (metrics.Sources, *fakeEngine) {
	e := &fakeEngine{snap: sandboxSnapshot()}
	return metrics.Sources{Engine: e, Absent: []string{"alertmanager: set alertmanager.url"}}, e
}

func amSources() (metrics.Sources, *fakeAM, *fakeSilencer) {
	src, _ := localSources()
	am := &fakeAM{alerts: firing()}
	sil := &fakeSilencer{am: am}
	src.Absent = nil
	src.Alertmanager, src.AlertmanagerHost, src.Silencer = am, "127.0.0.1:9093", sil
	return src, am, sil
}

func TestGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {200, 60}} {
		name := sizeName(size.w, size.h)
		t.Run(name+"/grid", func(t *testing.T) {
			src, _ := localSources()
			tab := loaded(t, size.w, size.h-2, tuitest.Common(), src)
			golden.RequireEqual(t, tuitest.Plain(tab.View()))
		})
		t.Run(name+"/enlarged", func(t *testing.T) {
			src, _ := localSources()
			tab := loaded(t, size.w, size.h-2, tuitest.Common(), src)
			press(t, tab, "right", "enter")
			golden.RequireEqual(t, tuitest.Plain(tab.View()))
		})
		t.Run(name+"/alerts", func(t *testing.T) {
			src, _, _ := amSources()
			tab := loaded(t, size.w, size.h-2, tuitest.Common(), src)
			press(t, tab, "a")
			golden.RequireEqual(t, tuitest.Plain(tab.View()))
		})
		t.Run(name+"/confirm", func(t *testing.T) {
			src, _, _ := amSources()
			tab := loaded(t, size.w, size.h-2, tuitest.Common(), src)
			press(t, tab, "a", "s")
			golden.RequireEqual(t, tuitest.Plain(tab.View()))
		})
	}
}

func sizeName(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

func TestEachSourceFailsAlone(t *testing.T) {
	src, _ := localSources()
	tab := loaded(t, 200, 58, tuitest.Common(), src)
	out := tuitest.Plain(tab.View())
	if strings.Count(out, "│ Prometheus unreachable") != 1 || !strings.Contains(out, "PrometheusUnreachable") {
		t.Errorf("the Prometheus error should show in its one panel and as an alert:\n%s", out)
	}
	for _, want := range []string{"✗ prometheus", "✓ postgres", "postgres · connections", "82/97", "redis · hit rate"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q", want)
		}
	}
}

func TestWindowAndPause(t *testing.T) {
	src, eng := localSources()
	tab := loaded(t, 120, 38, tuitest.Common(), src)
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "window 5m") || !strings.Contains(out, "● live") {
		t.Fatalf("default window and state:\n%s", out)
	}
	press(t, tab, "w")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "window 15m") {
		t.Errorf("w did not move to 15m")
	}
	press(t, tab, "w")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "window 1m") {
		t.Errorf("w did not wrap to 1m")
	}
	press(t, tab, "space")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "paused") {
		t.Errorf("space did not pause")
	}
	changed := sandboxSnapshot()
	changed.Series[1].Value, changed.Series[1].Detail = 99, "96/97 · about to run out"
	eng.set(changed)
	calls := eng.calls
	// A tick while paused takes no snapshot and changes nothing.
	for _, msg := range tuitest.Run(tab.Init(), 50*time.Millisecond) {
		tab.Update(msg)
	}
	if out := tuitest.Plain(tab.View()); strings.Contains(out, "about to run out") {
		t.Errorf("a paused tab showed new data")
	}
	_ = calls
	press(t, tab, "space")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "about to run out") || !strings.Contains(out, "● live") {
		t.Errorf("resuming did not fetch the new data:\n%s", out)
	}
}

func TestSelectionMovesAndScrolls(t *testing.T) {
	src, _ := localSources()
	tab := loaded(t, 80, 22, tuitest.Common(), src)
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "rows 1–2 of 5") || !strings.Contains(out, "╭▸ postgres · transactions/s") {
		t.Fatalf("first screen:\n%s", out)
	}
	press(t, tab, "G")
	out = tuitest.Plain(tab.View())
	if !strings.Contains(out, "╭▸ business · analysis task su…") || !strings.Contains(out, "rows 4–5 of 5") {
		t.Errorf("G should select and show the last panel:\n%s", out)
	}
	press(t, tab, "g", "down", "right")
	if out = tuitest.Plain(tab.View()); !strings.Contains(out, "╭▸ postgres · longest transaction") {
		t.Errorf("down, right should reach the fourth panel:\n%s", out)
	}
}

func TestLocalAlertsWithoutAlertmanager(t *testing.T) {
	src, _ := localSources()
	tab := loaded(t, 200, 58, tuitest.Common(), src)
	press(t, tab, "a")
	out := tuitest.Plain(tab.View())
	for _, want := range []string{"threshold rules evaluated by opsdeck", "PrometheusUnreachable", "KubernetesRestarts", "KubernetesNodesNotReady", "PostgreSQLHighConnections"} {
		if !strings.Contains(out, want) {
			t.Errorf("local alerts lack %q:\n%s", want, out)
		}
	}
	press(t, tab, "s")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "no Alertmanager configured") || strings.Contains(out, "Silence ") {
		t.Errorf("silencing without Alertmanager should be refused with a reason:\n%s", out)
	}
}

func TestSilenceConfirmDefaultsToNo(t *testing.T) {
	src, _, sil := amSources()
	tab := loaded(t, 120, 38, tuitest.Common(), src)
	press(t, tab, "a", "s")
	if !tab.Capturing() {
		t.Fatal("the confirmation does not capture keys")
	}
	press(t, tab, "enter")
	if len(sil.created) != 0 || !strings.Contains(tuitest.Plain(tab.View()), "nothing changed") {
		t.Fatalf("enter on the default answer silenced: %v", sil.created)
	}
	press(t, tab, "s", "+", "right", "enter")
	if len(sil.created) != 1 || sil.created[0] != 4*time.Hour {
		t.Fatalf("silences created = %v, want one of 4h", sil.created)
	}
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "silenced HighAPIErrorRate for 4h") || !strings.Contains(out, "Silences (1 active or pending)") {
		t.Errorf("after silencing:\n%s", out)
	}
	press(t, tab, "down", "down", "x", "y")
	if len(sil.expired) != 1 || sil.expired[0] != "5f1c2d3e-0000" {
		t.Errorf("expired = %v", sil.expired)
	}
	press(t, tab, "up", "x")
	if !strings.Contains(tuitest.Plain(tab.View()), "select a silence to expire") {
		t.Errorf("x on an alert should say what to select")
	}
}

func TestReadOnlyHidesAndRefuses(t *testing.T) {
	src, _, sil := amSources()
	c := tuitest.Common()
	c.ReadOnly = true
	tab := loaded(t, 120, 38, c, src)
	for _, group := range tab.FullHelp() {
		for _, b := range group {
			if h := b.Help(); strings.Contains(h.Desc, "silence") {
				t.Errorf("read-only help offers %q", h.Desc)
			}
		}
	}
	press(t, tab, "a")
	if out := tuitest.Plain(tab.View()); strings.Contains(out, "s silences the selected alert") {
		t.Errorf("read-only view offers silencing:\n%s", out)
	}
	press(t, tab, "s")
	if tab.Capturing() || len(sil.created) != 0 || !strings.Contains(tuitest.Plain(tab.View()), "read-only") {
		t.Errorf("read-only: s should be refused with a reason")
	}
}

func TestAlertmanagerDownFailsAlone(t *testing.T) {
	src, am, _ := amSources()
	am.err = errors.New("Alertmanager unreachable at 127.0.0.1:9093: connection refused")
	tab := loaded(t, 200, 58, tuitest.Common(), src)
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "alerts: Alertmanager unreachable") || !strings.Contains(out, "postgres · connections") {
		t.Errorf("Alertmanager down:\n%s", out)
	}
}

func TestNoEngine(t *testing.T) {
	tab := loaded(t, 80, 22, tuitest.Common(), metrics.Sources{})
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "No source to sample") {
		t.Errorf("without sources:\n%s", out)
	}
}

// TestRealSilencerRefusesReadOnly checks the ops side under the tab: even if
// a forged key reached it, ops refuses and audits.
func TestRealSilencerRefusesReadOnly(t *testing.T) {
	s := alerts.Silencer{Env: access.Env{Name: access.DefaultEnv, ReadOnly: true}}
	_, err := s.Silence(t.Context(), firing()[0], time.Hour, "")
	if !errors.Is(err, audit.ErrReadOnly) {
		t.Errorf("read-only Silencer: %v", err)
	}
}

// messages the tab ignores are not an error.
func TestForeignMessagesIgnored(t *testing.T) {
	src, _ := localSources()
	tab := loaded(t, 80, 22, tuitest.Common(), src)
	before := tab.View()
	tab.Update(tea.WindowSizeMsg{Width: 10, Height: 10})
	tab.Update(struct{}{})
	if tab.View() != before {
		t.Error("a foreign message changed the view")
	}
}
