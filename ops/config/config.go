// Package config loads, validates and redacts opsdeck's configuration: the
// targets it watches (PostgreSQL, Redis, Kubernetes, Prometheus, Alertmanager),
// the backup store and the thresholds shared by checks, metrics and alert rules.
package config

import "time"

// Config is the whole configuration file after defaults and environment
// overrides have been applied.
type Config struct {
	// Path is the file the configuration was read from ("" when built in code).
	Path string `yaml:"-" json:"-"`

	// ReadOnly hides and refuses every action that changes anything.
	ReadOnly bool `yaml:"read_only" json:"read_only"`
	// StateDir holds logs, the audit log and other local state.
	// Default: $XDG_STATE_HOME/opsdeck (~/.local/state/opsdeck).
	StateDir string `yaml:"state_dir" json:"state_dir"`
	// Theme is the cockpit's palette: "auto" (the terminal's background
	// decides; dark when it does not say), "dark" or "light". --theme wins.
	Theme string `yaml:"theme" json:"theme"`

	Postgres     PostgresConfig   `yaml:"postgres" json:"postgres"`
	Redis        RedisConfig      `yaml:"redis" json:"redis"`
	Kubernetes   KubeConfig       `yaml:"kubernetes" json:"kubernetes"`
	Prometheus   EndpointConfig   `yaml:"prometheus" json:"prometheus"`
	Alertmanager EndpointConfig   `yaml:"alertmanager" json:"alertmanager"`
	Backup       BackupConfig     `yaml:"backup" json:"backup"`
	Thresholds   Thresholds       `yaml:"thresholds" json:"thresholds"`
	Timeouts     Timeouts         `yaml:"timeouts" json:"timeouts"`
	Metrics      MetricsConfig    `yaml:"metrics" json:"metrics"`
	Runbooks     RunbooksConfig   `yaml:"runbooks" json:"runbooks"`
	Monitoring   MonitoringConfig `yaml:"monitoring" json:"monitoring"`
	// Maintenance drives `opsdeck maintain` and the Maintenance tab.
	Maintenance MaintenanceConfig `yaml:"maintenance" json:"maintenance"`
	// Restore drives `opsdeck restore` and the Restore tab.
	Restore RestoreConfig `yaml:"restore" json:"restore"`
	// Drill drives `opsdeck drill` and the check's drill lines.
	Drill DrillConfig `yaml:"drill" json:"drill"`
	// Incident drives incident mode: levels, response times, the timeline.
	Incident IncidentConfig `yaml:"incident" json:"incident"`
	// Checks are `opsdeck check deploy`'s smoke and migrations checks.
	Checks ChecksConfig `yaml:"checks" json:"checks"`
	// Bundle drives the incident's diagnostic bundle.
	Bundle BundleConfig `yaml:"bundle" json:"bundle"`

	// meta records where values came from (file positions, environment
	// variables); Load fills it and Validate uses it to locate problems.
	meta *meta
	// envs are the named environments of the file (environments.go);
	// envName and colour are set on the configuration ForEnv returns,
	// base is the top level it was made from.
	envs    []environment
	envName string
	colour  string
	base    *Config
}

// PostgresConfig names the database to watch. An empty DSN falls back to
// DATABASE_URL, then to libpq's PG* environment variables.
type PostgresConfig struct {
	DSN string `yaml:"dsn" json:"dsn"`
	// Env names the variables of LibpqServerEnv that name the server
	// when DSN is empty (set by ApplyEnv). The DSN is then "": pgx reads
	// libpq's environment when it parses it, and pg_dump, pg_restore and
	// psql inherit the same environment.
	Env []string `yaml:"-" json:"-"`
	// WAL is the continuous archive of the cluster's WAL (ops/wal).
	WAL WALConfig `yaml:"wal" json:"wal"`
	// Service, "namespace/name", is a Kubernetes Service the server runs
	// behind: opsdeck reaches it through a port-forward over the API server
	// to a ready pod of it, in place of the DSN's host and port (the DSN
	// still names the user, the database and the options).
	Service string `yaml:"service" json:"service"`
	// Port is the Service's port; 0 is DefaultPostgresPort.
	Port int `yaml:"port" json:"port"`
	// PasswordSecret, "namespace/name#key", is a Kubernetes Secret's key
	// holding the password, read when opsdeck connects; it replaces the DSN's.
	PasswordSecret string `yaml:"password_secret" json:"password_secret"`
}

// Configured reports whether a PostgreSQL server is named, by the DSN or
// by libpq's environment (Env).
func (p PostgresConfig) Configured() bool { return p.DSN != "" || len(p.Env) > 0 }

// RedisConfig names the Redis server to watch. An empty URL falls back to REDIS_URL.
type RedisConfig struct {
	URL string `yaml:"url" json:"url"`
	// Service, Port (0 is DefaultRedisPort) and PasswordSecret are
	// PostgresConfig's: the server behind a Kubernetes Service, reached
	// through a port-forward, its password in a Secret.
	Service        string `yaml:"service" json:"service"`
	Port           int    `yaml:"port" json:"port"`
	PasswordSecret string `yaml:"password_secret" json:"password_secret"`
}

// KubeConfig selects the cluster with kubectl's loading rules (KUBECONFIG,
// ~/.kube/config) or the in-cluster configuration inside a pod.
type KubeConfig struct {
	Kubeconfig string   `yaml:"kubeconfig" json:"kubeconfig"`
	Context    string   `yaml:"context" json:"context"`
	Namespaces []string `yaml:"namespaces" json:"namespaces"`
	// LogLines is how many lines of a pod's log the cockpit's log view
	// keeps (the last ones; older lines are dropped as new ones arrive);
	// 0 is DefaultLogLines.
	LogLines int `yaml:"log_lines" json:"log_lines"`
}

// EndpointConfig is an optional HTTP endpoint; an empty URL means absent.
type EndpointConfig struct {
	URL string `yaml:"url" json:"url"`
}

// BackupConfig describes where backup sets are kept.
type BackupConfig struct {
	// Dir is the local store. Default: $XDG_DATA_HOME/opsdeck/backups.
	Dir string `yaml:"dir" json:"dir"`
	// S3, when its bucket is set, replaces the local store.
	S3 S3Config `yaml:"s3" json:"s3"`
	// CompressionLevel is the zstd level of every file (default 3).
	CompressionLevel int `yaml:"compression_level" json:"compression_level"`
	// Encryption, when it has recipients, encrypts every file with age.
	Encryption BackupEncryption `yaml:"encryption" json:"encryption"`
	// Retention is the days each component's sets are kept (30/30/90/7).
	Retention BackupRetention `yaml:"retention_days" json:"retention_days"`
	// RetentionBy keeps sets by count and age: the base backups
	// (backup.retention.base), and with them the WAL they need.
	RetentionBy RetentionPolicy `yaml:"retention" json:"retention"`
	// Every is each component's schedule: the check warns when the newest
	// verified set is older than it plus BackupScheduleMargin.
	Every BackupEvery `yaml:"every" json:"every"`
	// LogsWindow is how far back the logs component reaches (default 24h).
	LogsWindow time.Duration `yaml:"logs_window" json:"logs_window"`
	// WebhookURL, when set, gets a Slack-compatible message after each run.
	WebhookURL string `yaml:"webhook_url" json:"webhook_url"`
	// MetricsDir, when set, gets opsdeck_backup.prom for node exporter's
	// textfile collector after each run.
	MetricsDir string `yaml:"metrics_dir" json:"metrics_dir"`
	// PgBinDir holds pg_dump and pg_restore; empty means PATH.
	PgBinDir string `yaml:"pg_bin_dir" json:"pg_bin_dir"`
}

// S3Config is an S3-compatible object store.
type S3Config struct {
	Endpoint  string `yaml:"endpoint" json:"endpoint"`
	Bucket    string `yaml:"bucket" json:"bucket"`
	Prefix    string `yaml:"prefix" json:"prefix"`
	Region    string `yaml:"region" json:"region"`
	AccessKey string `yaml:"access_key" json:"access_key"`
	SecretKey string `yaml:"secret_key" json:"secret_key"`
	Insecure  bool   `yaml:"insecure" json:"insecure"`
}

// Limit is a pair of levels for one metric. For "higher is worse" metrics a
// value at or above Warn is a warning and at or above Crit is critical; for
// "lower is worse" metrics (cache hit ratio) the comparison is reversed.
type Limit struct {
	Warn float64 `yaml:"warn" json:"warn"`
	Crit float64 `yaml:"crit" json:"crit"`
}

// DurationLimit is a Limit on a duration.
type DurationLimit struct {
	Warn time.Duration `yaml:"warn" json:"warn"`
	Crit time.Duration `yaml:"crit" json:"crit"`
}

// Thresholds are the levels shared by the checks, the metrics and the
// generated alert rules. Defaults follow the reference system.
type Thresholds struct {
	CPUPercent           Limit         `yaml:"cpu_percent" json:"cpu_percent"`                         // warn 80, crit 90
	MemoryPercent        Limit         `yaml:"memory_percent" json:"memory_percent"`                   // warn 85, crit 90
	DiskPercent          Limit         `yaml:"disk_percent" json:"disk_percent"`                       // warn 90, crit 95
	APIP95               DurationLimit `yaml:"api_p95" json:"api_p95"`                                 // warn 2s, crit 5s
	APIErrorRatePercent  Limit         `yaml:"api_error_rate_percent" json:"api_error_rate_percent"`   // warn 1, crit 5
	DBConnectionsPercent Limit         `yaml:"db_connections_percent" json:"db_connections_percent"`   // warn 80, crit 95
	CacheHitRatioPercent Limit         `yaml:"cache_hit_ratio_percent" json:"cache_hit_ratio_percent"` // lower is worse: warn 90, crit 80
	RedisMemoryPercent   Limit         `yaml:"redis_memory_percent" json:"redis_memory_percent"`       // warn 90, crit 95
	RedisHitRatePercent  Limit         `yaml:"redis_hit_rate_percent" json:"redis_hit_rate_percent"`   // lower is worse: warn 90, crit 80
	LongestTransaction   DurationLimit `yaml:"longest_transaction" json:"longest_transaction"`         // warn 5m, crit 30m
	ReplicationLag       DurationLimit `yaml:"replication_lag" json:"replication_lag"`                 // warn 30s, crit 5m
	PodRestarts          Limit         `yaml:"pod_restarts" json:"pod_restarts"`                       // warn 3, crit 10 (per container)
	// WALArchiveLag is how far the WAL archive is behind the server's
	// current position, in time (warn 1m, crit 5m).
	WALArchiveLag DurationLimit `yaml:"wal_archive_lag" json:"wal_archive_lag"`
	// SlotRetainedBytes is the WAL a replication slot keeps on the
	// server, in bytes (warn 1 GiB, crit 4 GiB).
	SlotRetainedBytes Limit `yaml:"slot_retained_bytes" json:"slot_retained_bytes"`

	// Levels of the live metrics (ops/metrics); see DefaultThresholds.
	DBTransactionsPerSec   Limit `yaml:"db_transactions_per_sec" json:"db_transactions_per_sec"`
	DBTuplesPerSec         Limit `yaml:"db_tuples_per_sec" json:"db_tuples_per_sec"`
	DBDeadlocksPerMinute   Limit `yaml:"db_deadlocks_per_minute" json:"db_deadlocks_per_minute"`
	DBTempMiBPerSec        Limit `yaml:"db_temp_mib_per_sec" json:"db_temp_mib_per_sec"`
	DBSizeGiB              Limit `yaml:"db_size_gib" json:"db_size_gib"`
	RedisOpsPerSec         Limit `yaml:"redis_ops_per_sec" json:"redis_ops_per_sec"`
	RedisClientsPercent    Limit `yaml:"redis_clients_percent" json:"redis_clients_percent"` // of maxclients
	RedisEvictionsPerSec   Limit `yaml:"redis_evictions_per_sec" json:"redis_evictions_per_sec"`
	RedisKeys              Limit `yaml:"redis_keys" json:"redis_keys"`
	NodesNotReady          Limit `yaml:"nodes_not_ready" json:"nodes_not_ready"`
	PodsNotReady           Limit `yaml:"pods_not_ready" json:"pods_not_ready"`
	APIRequestsPerSec      Limit `yaml:"api_requests_per_sec" json:"api_requests_per_sec"`
	ActiveUsers            Limit `yaml:"active_users" json:"active_users"`                           // lower is worse
	DataUpdatesPerMinute   Limit `yaml:"data_updates_per_minute" json:"data_updates_per_minute"`     // lower is worse
	TaskSuccessRatePercent Limit `yaml:"task_success_rate_percent" json:"task_success_rate_percent"` // lower is worse
	DataQualityPercent     Limit `yaml:"data_quality_percent" json:"data_quality_percent"`           // lower is worse
}

// Timeouts bound every network call.
type Timeouts struct {
	// Check bounds one target's whole check (default 5s).
	Check time.Duration `yaml:"check" json:"check"`
	// Connect bounds establishing a connection (default 3s).
	Connect time.Duration `yaml:"connect" json:"connect"`
}
