package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// MetricsConfig drives the live metrics: how often each source is sampled,
// how much history is kept, and the PromQL and SQL panels.
type MetricsConfig struct {
	// Interval is how often Postgres, Redis, Kubernetes and Prometheus are
	// sampled (default 2s).
	Interval time.Duration `yaml:"interval" json:"interval"`
	// SlowInterval is how often the costlier reads run: the database size
	// and the business SQL queries (default 15s).
	SlowInterval time.Duration `yaml:"slow_interval" json:"slow_interval"`
	// Window is how much history each series keeps (default 15m).
	Window time.Duration `yaml:"window" json:"window"`
	// Prometheus panels: PromQL instant queries, read when prometheus.url is
	// set. The defaults are the reference system's API request rate, P95
	// latency and error rate.
	Prometheus []Panel `yaml:"prometheus" json:"prometheus"`
	// Business panels: SQL queries against postgres.dsn, each returning one
	// number. The defaults suit the stock-analysis schema.
	Business []Panel `yaml:"business" json:"business"`
}

// Panel is one configured metric: a query returning one number, how to show
// it and the threshold it is judged against — either Threshold, the name of
// an entry of the thresholds section, or its own Warn/Crit (with Lower when
// lower values are worse).
type Panel struct {
	// Name identifies the series: lower-case letters, digits and '_'.
	Name string `yaml:"name" json:"name"`
	// Title is the panel's heading (default: Name).
	Title string `yaml:"title" json:"title"`
	// Query is PromQL (prometheus panels) or one SQL SELECT returning a
	// single number (business panels; run read-only under a statement timeout).
	Query string `yaml:"query" json:"query"`
	// Unit formats the value: "" (a plain number), "%", "s" (seconds),
	// "bytes", "/s" or "/min".
	Unit string `yaml:"unit" json:"unit"`
	// Threshold names an entry of the thresholds section, e.g. "api_p95".
	Threshold string `yaml:"threshold" json:"threshold,omitempty"`
	// Warn and Crit are the panel's own levels when Threshold is empty.
	Warn float64 `yaml:"warn" json:"warn,omitempty"`
	Crit float64 `yaml:"crit" json:"crit,omitempty"`
	// Lower means lower values are worse (then warn is above crit).
	Lower bool `yaml:"lower" json:"lower,omitempty"`
	// Rate, on a business panel, says the query returns a cumulative counter
	// and the panel shows its increase per Rate (e.g. 1m). Zero: the value
	// is shown as read.
	Rate time.Duration `yaml:"rate" json:"rate,omitempty"`
}

// DisplayTitle returns Title, or Name when it is empty.
func (p Panel) DisplayTitle() string {
	if p.Title != "" {
		return p.Title
	}
	return p.Name
}

// PanelUnits are the units a Panel may declare.
var PanelUnits = []string{"", "%", "s", "bytes", "/s", "/min"}

// DefaultMetrics returns the default sampling and panels.
func DefaultMetrics() MetricsConfig {
	return MetricsConfig{
		Interval:     2 * time.Second,
		SlowInterval: 15 * time.Second,
		Window:       15 * time.Minute,
		Prometheus:   DefaultPrometheusPanels(),
		Business:     DefaultBusinessPanels(),
	}
}

// DefaultPrometheusPanels are the reference system's application metrics,
// written for the usual instrumentation: a counter http_requests_total with
// a code label and a histogram http_request_duration_seconds.
func DefaultPrometheusPanels() []Panel {
	return []Panel{
		{
			Name: "api_request_rate", Title: "API requests/s", Unit: "/s", Threshold: "api_requests_per_sec",
			Query: `sum(rate(http_requests_total[1m]))`,
		},
		{
			Name: "api_p95", Title: "API P95 latency", Unit: "s", Threshold: "api_p95",
			Query: `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))`,
		},
		{
			Name: "api_error_rate", Title: "API error rate", Unit: "%", Threshold: "api_error_rate_percent",
			Query: `100 * sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))`,
		},
	}
}

// DefaultBusinessPanels are the reference system's business metrics for the
// stock-analysis schema (see the sandbox's seed).
func DefaultBusinessPanels() []Panel {
	return []Panel{
		{
			Name: "active_users", Title: "active users", Threshold: "active_users",
			Query: `SELECT count(DISTINCT user_id) FROM user_sessions WHERE expires_at > now()`,
		},
		{
			Name: "data_updates", Title: "price updates/min", Unit: "/min", Threshold: "data_updates_per_minute", Rate: time.Minute,
			Query: `SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = 'daily_prices'`,
		},
		{
			Name: "task_success_rate", Title: "analysis task success", Unit: "%", Threshold: "task_success_rate_percent",
			Query: `SELECT coalesce(100.0 * count(*) FILTER (WHERE status = 'succeeded') / nullif(count(*), 0), 100)
  FROM analysis_tasks WHERE status IN ('succeeded', 'failed') AND finished_at > now() - interval '1 hour'`,
		},
		{
			Name: "data_quality", Title: "price data quality", Unit: "%", Threshold: "data_quality_percent",
			Query: `SELECT coalesce(100.0 * count(*) FILTER (WHERE high >= low AND volume >= 0 AND close > 0) / nullif(count(*), 0), 100)
  FROM daily_prices WHERE trade_date >= current_date - 30`,
		},
	}
}

// NamedLimit is an entry of the thresholds section as a plain Limit:
// durations are in seconds.
type NamedLimit struct {
	Name  string
	Limit Limit
	// Lower means lower values are worse.
	Lower bool
	// Seconds is set for duration thresholds.
	Seconds bool
}

// lowerIsWorse names the thresholds where lower values are worse.
var lowerIsWorse = map[string]bool{
	"cache_hit_ratio_percent":   true,
	"redis_hit_rate_percent":    true,
	"active_users":              true,
	"data_updates_per_minute":   true,
	"task_success_rate_percent": true,
	"data_quality_percent":      true,
}

// Named returns the threshold whose YAML key is name ("api_p95").
func (t Thresholds) Named(name string) (NamedLimit, bool) {
	v := reflect.ValueOf(t)
	ty := v.Type()
	for i := 0; i < ty.NumField(); i++ {
		key, _, _ := strings.Cut(ty.Field(i).Tag.Get("yaml"), ",")
		if key != name {
			continue
		}
		switch l := v.Field(i).Interface().(type) {
		case Limit:
			return NamedLimit{Name: name, Limit: l, Lower: lowerIsWorse[name]}, true
		case DurationLimit:
			return NamedLimit{Name: name, Limit: Limit{Warn: l.Warn.Seconds(), Crit: l.Crit.Seconds()}, Seconds: true}, true
		}
	}
	return NamedLimit{}, false
}

// ThresholdNames lists the keys of the thresholds section.
func ThresholdNames() []string {
	ty := reflect.TypeOf(Thresholds{})
	names := make([]string, 0, ty.NumField())
	for i := 0; i < ty.NumField(); i++ {
		key, _, _ := strings.Cut(ty.Field(i).Tag.Get("yaml"), ",")
		names = append(names, key)
	}
	return names
}

// PanelLimit resolves the threshold of panel p against t.
func (t Thresholds) PanelLimit(p Panel) (NamedLimit, bool) {
	if p.Threshold != "" {
		return t.Named(p.Threshold)
	}
	return NamedLimit{Name: p.Name, Limit: Limit{Warn: p.Warn, Crit: p.Crit}, Lower: p.Lower}, true
}

// metricLimitRules are the validation rules of the thresholds the metrics
// added; validateThresholds checks them with the others.
func metricLimitRules(t Thresholds) []limitRule {
	return []limitRule{
		{name: "db_transactions_per_sec", limit: t.DBTransactionsPerSec},
		{name: "db_tuples_per_sec", limit: t.DBTuplesPerSec},
		{name: "db_deadlocks_per_minute", limit: t.DBDeadlocksPerMinute},
		{name: "db_temp_mib_per_sec", limit: t.DBTempMiBPerSec},
		{name: "db_size_gib", limit: t.DBSizeGiB},
		{name: "redis_ops_per_sec", limit: t.RedisOpsPerSec},
		{name: "redis_clients_percent", limit: t.RedisClientsPercent, percent: true},
		{name: "redis_evictions_per_sec", limit: t.RedisEvictionsPerSec},
		{name: "redis_keys", limit: t.RedisKeys, whole: true},
		{name: "nodes_not_ready", limit: t.NodesNotReady, whole: true},
		{name: "pods_not_ready", limit: t.PodsNotReady, whole: true},
		{name: "api_requests_per_sec", limit: t.APIRequestsPerSec},
		{name: "active_users", limit: t.ActiveUsers, lower: true, whole: true},
		{name: "data_updates_per_minute", limit: t.DataUpdatesPerMinute, lower: true},
		{name: "task_success_rate_percent", limit: t.TaskSuccessRatePercent, lower: true, percent: true},
		{name: "data_quality_percent", limit: t.DataQualityPercent, lower: true, percent: true},
	}
}

// panelName is a Panel.Name.
var panelName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// validateMetrics checks the metrics section.
func (c *Config) validateMetrics() []error {
	m := c.Metrics
	var errs []error
	one := func(path, reason, hint string) {
		errs = append(errs, c.fieldError([]string{path}, reason, hint, nil))
	}
	if m.Interval < 500*time.Millisecond {
		one("metrics.interval", fmt.Sprintf("%v is too short", m.Interval), `use at least "500ms"; "2s" is the default`)
	}
	if m.SlowInterval < m.Interval {
		one("metrics.slow_interval", fmt.Sprintf("%v is shorter than metrics.interval (%v)", m.SlowInterval, m.Interval), `use e.g. "15s"`)
	}
	switch {
	case m.Interval > 0 && m.Window < 2*m.Interval:
		one("metrics.window", fmt.Sprintf("%v holds fewer than two samples at metrics.interval %v", m.Window, m.Interval), `use e.g. "15m"`)
	case m.Window > 24*time.Hour:
		one("metrics.window", fmt.Sprintf("%v is longer than a day", m.Window), "opsdeck keeps history in memory: use at most 24h (Prometheus keeps the long history)")
	case m.Interval > 0 && m.Window/m.Interval > MaxSeriesPoints:
		one("metrics.window", fmt.Sprintf("%v at %v is %d samples per series, more than %d", m.Window, m.Interval, m.Window/m.Interval, MaxSeriesPoints),
			"shorten the window or lengthen metrics.interval")
	}
	seen := map[string]string{}
	for _, list := range []struct {
		key    string
		panels []Panel
	}{{"metrics.prometheus", m.Prometheus}, {"metrics.business", m.Business}} {
		for i, p := range list.panels {
			path := fmt.Sprintf("%s[%d]", list.key, i)
			if !panelName.MatchString(p.Name) {
				one(path+".name", fmt.Sprintf("%q is not a valid name", p.Name), "use lower-case letters, digits and '_', starting with a letter")
			} else if prev, dup := seen[p.Name]; dup {
				one(path+".name", fmt.Sprintf("%q is already used by %s", p.Name, prev), "give every panel its own name")
			} else {
				seen[p.Name] = path
			}
			if strings.TrimSpace(p.Query) == "" {
				one(path+".query", "is empty", "write the PromQL or SQL that returns the panel's number")
			}
			if !containsString(PanelUnits, p.Unit) {
				one(path+".unit", fmt.Sprintf("%q is not a known unit", p.Unit), `use one of "", "%", "s", "bytes", "/s", "/min"`)
			}
			if p.Rate < 0 || (p.Rate > 0 && list.key == "metrics.prometheus") {
				one(path+".rate", "is only for business panels returning a counter, and must be positive", "use rate() in the PromQL instead, or remove it")
			}
			errs = append(errs, c.validatePanelThreshold(path, p)...)
		}
	}
	return errs
}

func (c *Config) validatePanelThreshold(path string, p Panel) []error {
	var errs []error
	if p.Threshold != "" {
		if _, ok := c.Thresholds.Named(p.Threshold); !ok {
			reason := fmt.Sprintf("%q is not a threshold", p.Threshold)
			if s := suggest(p.Threshold, ThresholdNames()); s != "" {
				reason += fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, c.fieldError([]string{path + ".threshold"}, reason,
				"name a key of the thresholds section, or remove it and set warn and crit", nil))
		}
		if p.Warn != 0 || p.Crit != 0 || p.Lower {
			errs = append(errs, c.fieldError([]string{path + ".warn", path + ".crit", path + ".threshold"},
				"sets both threshold and its own warn/crit", "keep one of them", nil))
		}
		return errs
	}
	if p.Lower && p.Warn <= p.Crit {
		errs = append(errs, c.fieldError([]string{path + ".warn", path + ".crit", path},
			fmt.Sprintf("warn (%g) must be above crit (%g): lower values are worse here", p.Warn, p.Crit), "swap them", nil))
	}
	if !p.Lower && p.Warn >= p.Crit {
		errs = append(errs, c.fieldError([]string{path + ".warn", path + ".crit", path},
			fmt.Sprintf("warn (%g) must be below crit (%g)", p.Warn, p.Crit),
			"set threshold: NAME, or warn and crit (with lower: true when lower values are worse)", nil))
	}
	return errs
}

// MaxSeriesPoints bounds the samples one series keeps (window / interval).
const MaxSeriesPoints = 20000

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// clone copies the panel lists so that a clone shares nothing.
func (m MetricsConfig) clone() MetricsConfig {
	m.Prometheus = append([]Panel(nil), m.Prometheus...)
	m.Business = append([]Panel(nil), m.Business...)
	return m
}
