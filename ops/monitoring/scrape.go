package monitoring

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Scrape jobs: the job label of every series they bring.
const (
	JobAPI        = "api"
	JobPostgres   = "postgres-exporter"
	JobRedis      = "redis-exporter"
	JobNode       = "node-exporter"
	JobKubeState  = "kube-state-metrics"
	JobPrometheus = "prometheus"
)

// Job is a scrape job and the metrics its targets expose that the rules
// and dashboards use.
type Job struct {
	Name string
	// Metrics are the metric names the rules and dashboards may read from
	// this job (histograms by their _bucket, _sum and _count series).
	Metrics []string
}

// Catalog is every scrape job opsdeck configures, with the metrics it
// brings. The backup metrics come through node exporter's textfile
// collector, from the files `opsdeck backup` writes to backup.metrics_dir.
var Catalog = []Job{
	{JobAPI, []string{"http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum", "http_request_duration_seconds_count"}},
	{JobPostgres, []string{
		"pg_up", "pg_stat_activity_count", "pg_settings_max_connections", "pg_stat_database_blks_hit", "pg_stat_database_blks_read",
		"pg_stat_database_xact_commit", "pg_stat_database_xact_rollback", "pg_stat_database_deadlocks", "pg_database_size_bytes",
		"pg_replication_slots_pg_wal_lsn_diff", "pg_replication_slots_active",
	}},
	{JobRedis, []string{
		"redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_keyspace_hits_total", "redis_keyspace_misses_total",
		"redis_connected_clients", "redis_evicted_keys_total", "redis_commands_processed_total", "redis_db_keys",
	}},
	{JobNode, []string{
		"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_filesystem_avail_bytes",
		"node_filesystem_size_bytes", "node_network_receive_bytes_total", "node_network_transmit_bytes_total", "node_load1",
		"opsdeck_backup_last_success_timestamp_seconds", "opsdeck_backup_last_run_timestamp_seconds", "opsdeck_backup_last_run_success",
		"opsdeck_backup_last_duration_seconds", "opsdeck_backup_last_size_bytes",
		"opsdeck_drill_last_success_timestamp_seconds", "opsdeck_drill_rto_seconds",
		"opsdeck_wal_archive_lag_seconds", "opsdeck_wal_updated_timestamp_seconds", "opsdeck_wal_last_durable_timestamp_seconds",
		"opsdeck_wal_durable_lsn_bytes", "opsdeck_wal_streaming", "opsdeck_wal_archive_bytes", "opsdeck_wal_segments", "opsdeck_wal_gaps",
		"opsdeck_wal_base_coverage_end_lsn_bytes",
	}},
	{JobKubeState, []string{
		"kube_pod_status_phase", "kube_pod_container_status_restarts_total", "kube_node_status_condition",
		"kube_deployment_status_replicas_available", "kube_deployment_spec_replicas",
	}},
	// Prometheus makes these itself for every target and rule.
	{JobPrometheus, []string{"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"}},
}

// Produces reports whether some job of the catalog brings the metric.
func Produces(metric string) bool {
	for _, j := range Catalog {
		if slices.Contains(j.Metrics, metric) {
			return true
		}
	}
	return false
}

// promConfig is prometheus.yml.
type promConfig struct {
	Global        promGlobal     `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files"`
	Alerting      promAlerting   `yaml:"alerting"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string            `yaml:"scrape_interval"`
	EvaluationInterval string            `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels,omitempty"`
}

type promAlerting struct {
	Alertmanagers []amConfig `yaml:"alertmanagers"`
}

type amConfig struct {
	Scheme              string          `yaml:"scheme,omitempty"`
	PathPrefix          string          `yaml:"path_prefix,omitempty"`
	StaticConfigs       []staticConfig  `yaml:"static_configs,omitempty"`
	KubernetesSDConfigs []kubeSD        `yaml:"kubernetes_sd_configs,omitempty"`
	RelabelConfigs      []relabelConfig `yaml:"relabel_configs,omitempty"`
}

type staticConfig struct {
	Targets []string `yaml:"targets"`
}

type kubeSD struct {
	Role       string          `yaml:"role"`
	Namespaces *kubeNamespaces `yaml:"namespaces,omitempty"`
}

type kubeNamespaces struct {
	Names []string `yaml:"names"`
}

type relabelConfig struct {
	SourceLabels []string `yaml:"source_labels,omitempty"`
	Separator    string   `yaml:"separator,omitempty"`
	Regex        string   `yaml:"regex,omitempty"`
	TargetLabel  string   `yaml:"target_label,omitempty"`
	Replacement  string   `yaml:"replacement,omitempty"`
	Action       string   `yaml:"action,omitempty"`
}

type scrapeConfig struct {
	JobName             string          `yaml:"job_name"`
	ScrapeInterval      string          `yaml:"scrape_interval,omitempty"`
	MetricsPath         string          `yaml:"metrics_path,omitempty"`
	StaticConfigs       []staticConfig  `yaml:"static_configs,omitempty"`
	KubernetesSDConfigs []kubeSD        `yaml:"kubernetes_sd_configs,omitempty"`
	RelabelConfigs      []relabelConfig `yaml:"relabel_configs,omitempty"`
}

// keepService keeps the endpoints of the Service named name.
func keepService(name string) relabelConfig {
	return relabelConfig{SourceLabels: []string{"__meta_kubernetes_service_name"}, Regex: name, Action: "keep"}
}

// podLabels copies the namespace, pod and node into the series' labels.
var podLabels = []relabelConfig{
	{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"},
	{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod"},
	{SourceLabels: []string{"__meta_kubernetes_pod_node_name"}, TargetLabel: "node"},
}

// scrapeFile builds prometheus.yml: Kubernetes service discovery for the
// API pods, the PostgreSQL and Redis exporters, kube-state-metrics and the
// nodes' exporters; the rule file; Alertmanager from the config's URL, or
// found by service discovery.
func scrapeFile(cfg *config.Config, ruleFile string) (promConfig, error) {
	m := cfg.Monitoring
	var ns *kubeNamespaces
	if len(cfg.Kubernetes.Namespaces) > 0 {
		ns = &kubeNamespaces{Names: cfg.Kubernetes.Namespaces}
	}
	pc := promConfig{
		Global: promGlobal{
			ScrapeInterval: duration(m.ScrapeInterval), EvaluationInterval: duration(m.EvaluationInterval),
			ExternalLabels: map[string]string{"monitor": "opsdeck"},
		},
		RuleFiles: []string{ruleFile},
	}
	am, err := alertmanagerTarget(cfg.Alertmanager.URL)
	if err != nil {
		return promConfig{}, err
	}
	pc.Alerting.Alertmanagers = []amConfig{am}
	pc.ScrapeConfigs = []scrapeConfig{
		{JobName: JobPrometheus, StaticConfigs: []staticConfig{{Targets: []string{"localhost:9090"}}}},
		{
			JobName:             JobAPI,
			KubernetesSDConfigs: []kubeSD{{Role: "pod", Namespaces: ns}},
			RelabelConfigs: append([]relabelConfig{
				{SourceLabels: []string{"__meta_kubernetes_pod_label_app"}, Regex: "api", Action: "keep"},
				{SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "Running", Action: "keep"},
				// prometheus.io/path and prometheus.io/port annotations, when set.
				{SourceLabels: []string{"__meta_kubernetes_pod_annotation_prometheus_io_path"}, Regex: "(.+)", TargetLabel: "__metrics_path__"},
				{
					SourceLabels: []string{"__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"},
					Regex:        `([^:]+)(?::\d+)?;(\d+)`, Replacement: "$1:$2", TargetLabel: "__address__",
				},
			}, podLabels...),
		},
		{
			JobName:             JobPostgres,
			KubernetesSDConfigs: []kubeSD{{Role: "endpoints", Namespaces: ns}},
			RelabelConfigs:      append([]relabelConfig{keepService(JobPostgres)}, podLabels...),
		},
		{
			JobName:             JobRedis,
			KubernetesSDConfigs: []kubeSD{{Role: "endpoints", Namespaces: ns}},
			RelabelConfigs:      append([]relabelConfig{keepService(JobRedis)}, podLabels...),
		},
		{
			// kube-state-metrics usually runs in kube-system or monitoring.
			JobName:             JobKubeState,
			KubernetesSDConfigs: []kubeSD{{Role: "endpoints"}},
			RelabelConfigs:      []relabelConfig{keepService(JobKubeState)},
		},
		{
			// Node exporter on every node, port 9100; its textfile collector
			// also serves the backup metrics.
			JobName:             JobNode,
			KubernetesSDConfigs: []kubeSD{{Role: "node"}},
			RelabelConfigs: []relabelConfig{
				{SourceLabels: []string{"__meta_kubernetes_node_address_InternalIP"}, Regex: "(.+)", Replacement: "$1:9100", TargetLabel: "__address__"},
				{SourceLabels: []string{"__meta_kubernetes_node_name"}, TargetLabel: "instance"},
				{Regex: "__meta_kubernetes_node_label_(.+)", Action: "labelmap"},
			},
		},
	}
	return pc, nil
}

// alertmanagerTarget points Prometheus at the configured Alertmanager, or
// at the Service named alertmanager found by service discovery.
func alertmanagerTarget(raw string) (amConfig, error) {
	if raw == "" {
		return amConfig{
			KubernetesSDConfigs: []kubeSD{{Role: "endpoints"}},
			RelabelConfigs:      []relabelConfig{keepService("alertmanager"), {SourceLabels: []string{"__meta_kubernetes_endpoint_port_name"}, Regex: "web|http", Action: "keep"}},
		}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return amConfig{}, fmt.Errorf("alertmanager.url %q is not a URL: fix it in the config", raw)
	}
	if u.User != nil {
		return amConfig{}, fmt.Errorf("alertmanager.url has credentials: they would be written into prometheus.yml — use a URL without them and configure Prometheus's basic_auth by hand")
	}
	am := amConfig{StaticConfigs: []staticConfig{{Targets: []string{u.Host}}}}
	if u.Scheme == "https" {
		am.Scheme = "https"
	}
	if p := u.EscapedPath(); p != "" && p != "/" {
		am.PathPrefix = p
	}
	return am, nil
}
