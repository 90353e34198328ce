package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMetricsDefaults(t *testing.T) {
	m := DefaultMetrics()
	if m.Interval != 2*time.Second || m.SlowInterval != 15*time.Second || m.Window != 15*time.Minute {
		t.Errorf("intervals = %v/%v/%v, want 2s/15s/15m", m.Interval, m.SlowInterval, m.Window)
	}
	th := DefaultThresholds()
	for _, p := range append(m.Prometheus, m.Business...) {
		if _, ok := th.PanelLimit(p); !ok {
			t.Errorf("panel %s: threshold %q not found", p.Name, p.Threshold)
		}
	}
}

func TestThresholdNamed(t *testing.T) {
	th := DefaultThresholds()
	tests := []struct {
		name string
		want NamedLimit
	}{
		{"cpu_percent", NamedLimit{Name: "cpu_percent", Limit: Limit{80, 90}}},
		{"cache_hit_ratio_percent", NamedLimit{Name: "cache_hit_ratio_percent", Limit: Limit{90, 80}, Lower: true}},
		{"api_p95", NamedLimit{Name: "api_p95", Limit: Limit{2, 5}, Seconds: true}},
		{"data_quality_percent", NamedLimit{Name: "data_quality_percent", Limit: Limit{99.5, 98}, Lower: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := th.Named(tt.name)
			if !ok || got != tt.want {
				t.Errorf("Named(%q) = %+v, %v; want %+v", tt.name, got, ok, tt.want)
			}
		})
	}
	if _, ok := th.Named("nope"); ok {
		t.Error(`Named("nope") found something`)
	}
	if n := len(ThresholdNames()); n < 28 {
		t.Errorf("ThresholdNames() has %d names, want every field", n)
	}
}

func TestValidateMetrics(t *testing.T) {
	p := func(mut func(*Panel)) []Panel {
		ps := DefaultPrometheusPanels()
		mut(&ps[0])
		return ps
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"defaults", func(c *Config) {}, nil},
		{"no panels", func(c *Config) { c.Metrics.Prometheus, c.Metrics.Business = nil, nil }, nil},
		{"own levels", func(c *Config) {
			c.Metrics.Business = []Panel{{Name: "queue", Query: "SELECT 1", Warn: 100, Crit: 1000}, {Name: "ok", Query: "SELECT 1", Warn: 10, Crit: 1, Lower: true}}
		}, nil},
		{"interval", func(c *Config) { c.Metrics.Interval = 100 * time.Millisecond }, []string{"metrics.interval: 100ms is too short"}},
		{"slow below fast", func(c *Config) { c.Metrics.SlowInterval = time.Second }, []string{"metrics.slow_interval: 1s is shorter than metrics.interval"}},
		{"window short", func(c *Config) { c.Metrics.Window = 3 * time.Second }, []string{"fewer than two samples"}},
		{"window long", func(c *Config) { c.Metrics.Window = 48 * time.Hour }, []string{"longer than a day"}},
		{"too many points", func(c *Config) { c.Metrics.Interval = time.Second; c.Metrics.Window = 23 * time.Hour }, []string{"samples per series"}},
		{"bad name", func(c *Config) { c.Metrics.Prometheus = p(func(x *Panel) { x.Name = "API Rate" }) }, []string{`metrics.prometheus[0].name: "API Rate" is not a valid name`}},
		{"duplicate name", func(c *Config) { c.Metrics.Business[1].Name = "api_p95" }, []string{`metrics.business[1].name: "api_p95" is already used by metrics.prometheus[1]`}},
		{"empty query", func(c *Config) { c.Metrics.Prometheus = p(func(x *Panel) { x.Query = " " }) }, []string{"metrics.prometheus[0].query: is empty"}},
		{"unit", func(c *Config) { c.Metrics.Prometheus = p(func(x *Panel) { x.Unit = "ms" }) }, []string{`"ms" is not a known unit`}},
		{"rate on promql", func(c *Config) { c.Metrics.Prometheus = p(func(x *Panel) { x.Rate = time.Minute }) }, []string{"metrics.prometheus[0].rate: is only for business panels"}},
		{"unknown threshold", func(c *Config) { c.Metrics.Prometheus = p(func(x *Panel) { x.Threshold = "api_p59" }) }, []string{`"api_p59" is not a threshold (did you mean "api_p95"?)`}},
		{"both", func(c *Config) { c.Metrics.Prometheus = p(func(x *Panel) { x.Warn = 1 }) }, []string{"sets both threshold and its own warn/crit"}},
		{"no levels", func(c *Config) { c.Metrics.Prometheus = p(func(x *Panel) { x.Threshold = "" }) }, []string{"metrics.prometheus[0].warn: warn (0) must be below crit (0)"}},
		{"lower reversed", func(c *Config) {
			c.Metrics.Prometheus = p(func(x *Panel) { x.Threshold, x.Warn, x.Crit, x.Lower = "", 1, 5, true })
		}, []string{"must be above crit (5): lower values are worse"}},
		{"new threshold order", func(c *Config) { c.Thresholds.TaskSuccessRatePercent = Limit{90, 95} }, []string{"thresholds.task_success_rate_percent.warn: warn (90) must be above crit (95)"}},
		{"new threshold whole", func(c *Config) { c.Thresholds.NodesNotReady = Limit{0.5, 2} }, []string{"0.5 is not a whole count"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a FieldError: %T", err)
			}
		})
	}
}

func TestLoadMetricsPanels(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	tests := []struct {
		name      string
		yaml      string
		wantProm  []string
		wantBiz   int
		wantErr   string
		wantWhere string
	}{
		{"defaults kept", "metrics:\n  interval: 5s\n", []string{"api_request_rate", "api_p95", "api_error_rate"}, 4, "", ""},
		{"list replaced", "metrics:\n  prometheus:\n    - name: queue_depth\n      query: sum(queue_depth)\n      warn: 100\n      crit: 1000\n", []string{"queue_depth"}, 4, "", ""},
		{"turned off", "metrics:\n  business: []\n", []string{"api_request_rate", "api_p95", "api_error_rate"}, 0, "", ""},
		{"unknown key", "metrics:\n  prometheus:\n    - name: q\n      querry: up\n", nil, 0, `unknown field "querry" (did you mean "query"?)`, ":4:7"},
		{"bad rate", "metrics:\n  business:\n    - name: q\n      query: SELECT 1\n      rate: 60\n      warn: 1\n      crit: 2\n", nil, 0, "expected a duration", ":5:13"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "c"+string(rune('a'+i))+".yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if err == nil {
				err = cfg.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.wantWhere) {
					t.Fatalf("error = %v, want %q at %q", err, tt.wantErr, tt.wantWhere)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range cfg.Metrics.Prometheus {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.wantProm, ",") {
				t.Errorf("prometheus panels = %v, want %v", names, tt.wantProm)
			}
			if len(cfg.Metrics.Business) != tt.wantBiz {
				t.Errorf("business panels = %d, want %d", len(cfg.Metrics.Business), tt.wantBiz)
			}
		})
	}
}

func TestRedactedCloneSharesNoPanels(t *testing.T) {
	c := Default()
	r := c.Redacted()
	r.Metrics.Prometheus[0].Query = "changed"
	if c.Metrics.Prometheus[0].Query == "changed" {
		t.Error("Redacted shares the panel list with the original")
	}
}

func TestLargeLimitsRoundTrip(t *testing.T) {
	cleanEnv(t)
	c := Default()
	c.Thresholds.RedisKeys = Limit{Warn: 12345678, Crit: 2e9}
	c.Thresholds.DataQualityPercent = Limit{Warn: 99.75, Crit: 98}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Thresholds.RedisKeys != c.Thresholds.RedisKeys || got.Thresholds.DataQualityPercent != c.Thresholds.DataQualityPercent {
		t.Errorf("round trip: %+v %+v", got.Thresholds.RedisKeys, got.Thresholds.DataQualityPercent)
	}
}
