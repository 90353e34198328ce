package monitoring

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Dashboard is a Grafana dashboard in Grafana's JSON model, as imported
// through the UI, the API or file provisioning.
type Dashboard struct {
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	Description   string     `json:"description"`
	Tags          []string   `json:"tags"`
	Timezone      string     `json:"timezone"`
	SchemaVersion int        `json:"schemaVersion"`
	Version       int        `json:"version"`
	Editable      bool       `json:"editable"`
	Refresh       string     `json:"refresh"`
	Time          timeRange  `json:"time"`
	Templating    templating `json:"templating"`
	Panels        []Panel    `json:"panels"`
}

type timeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type templating struct {
	List []any `json:"list"`
}

// Panel is one panel of a dashboard.
type Panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	GridPos     gridPos        `json:"gridPos"`
	Datasource  Datasource     `json:"datasource"`
	Targets     []Target       `json:"targets"`
	FieldConfig fieldConfig    `json:"fieldConfig"`
	Options     map[string]any `json:"options,omitempty"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Datasource names the Prometheus data source a panel or target queries.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one PromQL query of a panel.
type Target struct {
	RefID        string     `json:"refId"`
	Expr         string     `json:"expr"`
	LegendFormat string     `json:"legendFormat,omitempty"`
	Instant      bool       `json:"instant,omitempty"`
	Format       string     `json:"format,omitempty"`
	Datasource   Datasource `json:"datasource"`
}

type fieldConfig struct {
	Defaults  fieldDefaults `json:"defaults"`
	Overrides []any         `json:"overrides"`
}

type fieldDefaults struct {
	Unit       string      `json:"unit,omitempty"`
	Min        *float64    `json:"min,omitempty"`
	Max        *float64    `json:"max,omitempty"`
	Thresholds *thresholds `json:"thresholds,omitempty"`
}

type thresholds struct {
	Mode  string `json:"mode"`
	Steps []step `json:"steps"`
}

type step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

func ptr(v float64) *float64 { return &v }

// levels draws a threshold pair: green, yellow from warn, red from crit;
// reversed when lower is worse.
func levels(l config.Limit, lowerIsWorse bool) *thresholds {
	if lowerIsWorse {
		return &thresholds{Mode: "absolute", Steps: []step{{"red", nil}, {"yellow", ptr(l.Crit)}, {"green", ptr(l.Warn)}}}
	}
	return &thresholds{Mode: "absolute", Steps: []step{{"green", nil}, {"yellow", ptr(l.Warn)}, {"red", ptr(l.Crit)}}}
}

// upLevels is red at 0, green from 1: a count of healthy things.
var upLevels = &thresholds{Mode: "absolute", Steps: []step{{"red", nil}, {"green", ptr(1)}}}

// board lays panels out left to right on Grafana's 24-column grid.
type board struct {
	ds     Datasource
	panels []Panel
	x, y   int
	rowH   int
}

// add places a panel w columns wide and h rows high.
func (b *board) add(kind, title, desc string, w, h int, d fieldDefaults, targets ...Target) {
	if b.x+w > 24 {
		b.x, b.y, b.rowH = 0, b.y+b.rowH, 0
	}
	for i := range targets {
		targets[i].RefID = string(rune('A' + i))
		targets[i].Datasource = b.ds
	}
	p := Panel{
		ID: len(b.panels) + 1, Type: kind, Title: title, Description: desc,
		GridPos: gridPos{H: h, W: w, X: b.x, Y: b.y}, Datasource: b.ds, Targets: targets,
		FieldConfig: fieldConfig{Defaults: d, Overrides: []any{}},
	}
	if kind == "timeseries" && d.Thresholds != nil {
		p.FieldConfig.Defaults.Thresholds = d.Thresholds
		p.Options = map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom"}}
	}
	b.panels = append(b.panels, p)
	b.x += w
	b.rowH = max(b.rowH, h)
}

func q(expr, legend string) Target { return Target{Expr: expr, LegendFormat: legend} }

// PromQL used by several dashboards.
const (
	apiRate       = `sum(rate(http_requests_total{` + apiJob + `}[5m]))`
	apiErrorRate  = `100 * sum(rate(http_requests_total{` + apiJob + `,code=~"5.."}[5m])) / sum(rate(http_requests_total{` + apiJob + `}[5m]))`
	cpuPercent    = `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{` + nodeJob + `,mode="idle"}[5m])))`
	memoryPercent = `100 * (1 - node_memory_MemAvailable_bytes{` + nodeJob + `} / node_memory_MemTotal_bytes{` + nodeJob + `})`
)

func apiQuantile(q string, by string) string {
	return `histogram_quantile(` + q + `, sum by (` + by + `) (rate(http_request_duration_seconds_bucket{` + apiJob + `}[5m])))`
}

// dashboards builds the three dashboards: system overview, API
// performance and infrastructure, drawn at the configured thresholds.
func dashboards(cfg *config.Config) []Dashboard {
	th := cfg.Thresholds
	ds := Datasource{Type: "prometheus", UID: cfg.Monitoring.GrafanaDatasource}
	nsMatch := ""
	if len(cfg.Kubernetes.Namespaces) > 0 {
		quoted := make([]string, len(cfg.Kubernetes.Namespaces))
		for i, n := range cfg.Kubernetes.Namespaces {
			quoted[i] = regexp.QuoteMeta(n)
		}
		nsMatch = `namespace=~"` + strings.Join(quoted, "|") + `"`
	}
	p95 := config.Limit{Warn: th.APIP95.Warn.Seconds(), Crit: th.APIP95.Crit.Seconds()}
	pct := fieldDefaults{Unit: "percent", Min: ptr(0), Max: ptr(100)}
	withLevels := func(d fieldDefaults, t *thresholds) fieldDefaults { d.Thresholds = t; return d }
	sel := func(metric, extra string) string {
		var parts []string
		for _, p := range []string{nsMatch, extra} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return metric + "{" + strings.Join(parts, ",") + "}"
	}

	overview := &board{ds: ds}
	overview.add("stat", "API targets up", "API pods Prometheus can scrape.", 6, 4, fieldDefaults{Thresholds: upLevels}, q(`sum(up{`+apiJob+`})`, ""))
	overview.add("stat", "PostgreSQL up", "1 when the exporter reaches PostgreSQL. Alert: PostgreSQLDown.", 6, 4, fieldDefaults{Thresholds: upLevels}, q(`max(pg_up{`+pgJob+`})`, ""))
	overview.add("stat", "Redis up", "1 when the exporter reaches Redis. Alert: RedisDown.", 6, 4, fieldDefaults{Thresholds: upLevels}, q(`max(redis_up{`+redisJob+`})`, ""))
	overview.add("stat", "Nodes Ready", "Nodes whose Ready condition is true.", 6, 4, fieldDefaults{Thresholds: upLevels}, q(`sum(kube_node_status_condition{condition="Ready",status="true"})`, ""))
	overview.add("timeseries", "API requests/s", "", 12, 8, fieldDefaults{Unit: "reqps"}, q(apiRate, "requests/s"))
	overview.add("timeseries", "API P95 response time", "Alert: HighAPIResponseTime.", 12, 8, withLevels(fieldDefaults{Unit: "s"}, levels(p95, false)), q(apiQuantile("0.95", "le"), "P95"))
	overview.add("timeseries", "API error rate", "5xx share of requests. Alert: HighAPIErrorRate.", 12, 8, withLevels(pct, levels(th.APIErrorRatePercent, false)), q(apiErrorRate, "5xx %"))
	overview.add("timeseries", "Firing alerts", "Alerts firing now, by severity.", 12, 8, fieldDefaults{Unit: "short"}, q(`sum by (severity) (ALERTS{alertstate="firing"})`, "{{severity}}"))

	api := &board{ds: ds}
	api.add("timeseries", "Requests/s by endpoint", "", 12, 8, fieldDefaults{Unit: "reqps"}, q(`sum by (handler) (rate(http_requests_total{`+apiJob+`}[5m]))`, "{{handler}}"))
	api.add("timeseries", "Response time percentiles", "Alert: HighAPIResponseTime on P95.", 12, 8, withLevels(fieldDefaults{Unit: "s"}, levels(p95, false)),
		q(apiQuantile("0.5", "le"), "P50"), q(apiQuantile("0.95", "le"), "P95"), q(apiQuantile("0.99", "le"), "P99"))
	api.add("timeseries", "Responses by status code", "", 12, 8, fieldDefaults{Unit: "reqps"}, q(`sum by (code) (rate(http_requests_total{`+apiJob+`}[5m]))`, "{{code}}"))
	api.add("timeseries", "Error rate", "Alert: HighAPIErrorRate.", 12, 8, withLevels(pct, levels(th.APIErrorRatePercent, false)), q(apiErrorRate, "5xx %"))
	slow := Target{Expr: `topk(10, ` + apiQuantile("0.95", "handler, le") + `)`, LegendFormat: "{{handler}}", Instant: true, Format: "table"}
	api.add("table", "Slowest endpoints (P95)", "The ten endpoints with the highest 95th percentile over the last 5 minutes.", 24, 8, withLevels(fieldDefaults{Unit: "s"}, levels(p95, false)), slow)

	infra := &board{ds: ds}
	infra.add("timeseries", "CPU use by node", "Alert: HighCPUUsage.", 12, 8, withLevels(pct, levels(th.CPUPercent, false)), q(cpuPercent, "{{instance}}"))
	infra.add("timeseries", "Memory use by node", "Alert: HighMemoryUsage.", 12, 8, withLevels(pct, levels(th.MemoryPercent, false)), q(memoryPercent, "{{instance}}"))
	infra.add("timeseries", "Disk use by filesystem", "Alert: HighDiskUsage.", 12, 8, withLevels(pct, levels(th.DiskPercent, false)),
		q(`100 * (1 - node_filesystem_avail_bytes{`+nodeJob+`,`+realFS+`} / node_filesystem_size_bytes{`+nodeJob+`,`+realFS+`})`, "{{instance}} {{mountpoint}}"))
	infra.add("timeseries", "Network I/O by node", "", 12, 8, fieldDefaults{Unit: "Bps"},
		q(`sum by (instance) (rate(node_network_receive_bytes_total{`+nodeJob+`,device!~"lo|veth.*|cali.*"}[5m]))`, "{{instance}} in"),
		q(`sum by (instance) (rate(node_network_transmit_bytes_total{`+nodeJob+`,device!~"lo|veth.*|cali.*"}[5m]))`, "{{instance}} out"))
	infra.add("timeseries", "Pods by phase", "", 12, 8, fieldDefaults{Unit: "short"}, q(`sum by (phase) (`+sel("kube_pod_status_phase", "")+`)`, "{{phase}}"))
	infra.add("timeseries", "Container restarts (1h)", "Restarts per pod over the last hour.", 12, 8, withLevels(fieldDefaults{Unit: "short"}, levels(th.PodRestarts, false)),
		q(`sum by (namespace, pod) (increase(`+sel("kube_pod_container_status_restarts_total", "")+`[1h])) > 0`, "{{pod}}"))
	infra.add("timeseries", "PostgreSQL connections", "Share of max_connections. Alert: PostgreSQLHighConnections.", 12, 8, withLevels(pct, levels(th.DBConnectionsPercent, false)),
		q(`100 * sum by (instance) (pg_stat_activity_count{`+pgJob+`}) / on (instance) max by (instance) (pg_settings_max_connections{`+pgJob+`})`, "{{instance}}"))
	infra.add("timeseries", "PostgreSQL cache hit ratio", "Lower is worse.", 12, 8, withLevels(pct, levels(th.CacheHitRatioPercent, true)),
		q(`100 * sum(rate(pg_stat_database_blks_hit{`+pgJob+`}[5m])) / (sum(rate(pg_stat_database_blks_hit{`+pgJob+`}[5m])) + sum(rate(pg_stat_database_blks_read{`+pgJob+`}[5m])))`, "hit %"))
	infra.add("timeseries", "Redis memory", "Share of maxmemory. Alert: RedisHighMemoryUsage.", 12, 8, withLevels(pct, levels(th.RedisMemoryPercent, false)),
		q(`100 * redis_memory_used_bytes{`+redisJob+`} / (redis_memory_max_bytes{`+redisJob+`} > 0)`, "{{instance}}"))
	infra.add("timeseries", "Redis hit rate", "Lower is worse.", 12, 8, withLevels(pct, levels(th.RedisHitRatePercent, true)),
		q(`100 * sum(rate(redis_keyspace_hits_total{`+redisJob+`}[5m])) / (sum(rate(redis_keyspace_hits_total{`+redisJob+`}[5m])) + sum(rate(redis_keyspace_misses_total{`+redisJob+`}[5m])))`, "hit %"))
	infra.add("timeseries", "Age of the last good backup", "Seconds since each component's last successful backup. Alert: BackupStale.", 24, 8,
		withLevels(fieldDefaults{Unit: "s"}, &thresholds{Mode: "absolute", Steps: []step{{"green", nil}, {"red", ptr(cfg.Monitoring.BackupMaxAge.Seconds())}}}),
		q(`time() - opsdeck_backup_last_success_timestamp_seconds`, "{{component}}"))

	mk := func(uid, title, desc string, b *board) Dashboard {
		return Dashboard{
			UID: "opsdeck-" + uid, Title: "opsdeck · " + title, Description: desc + " Generated by opsdeck monitoring render; edit the opsdeck config, not this file.",
			Tags: []string{"opsdeck"}, Timezone: "browser", SchemaVersion: 39, Version: 1, Editable: true, Refresh: "30s",
			Time: timeRange{From: "now-6h", To: "now"}, Templating: templating{List: []any{}}, Panels: b.panels,
		}
	}
	return []Dashboard{
		mk("system-overview", "System overview", "Health of every component, traffic, latency, errors and firing alerts.", overview),
		mk("api-performance", "API performance", "Requests, latency percentiles, status codes and the slowest endpoints.", api),
		mk("infrastructure", "Infrastructure", "Nodes, pods, PostgreSQL, Redis and backups.", infra),
	}
}

// dashboardFile is a dashboard's file name under grafana/dashboards.
func dashboardFile(d Dashboard) string {
	return fmt.Sprintf("%s.json", strings.TrimPrefix(d.UID, "opsdeck-"))
}
