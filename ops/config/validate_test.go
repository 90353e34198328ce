package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // substrings; nil means valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"good targets", func(c *Config) {
			c.Postgres.DSN = "host=db user=app password=x dbname=stocks"
			c.Redis.URL = "rediss://:pw@cache:6380/3"
			c.Prometheus.URL = "http://prom:9090"
			c.Alertmanager.URL = "https://am.example.com"
			c.Kubernetes.Namespaces = []string{"stocks-prod", "monitoring"}
			c.Backup.S3 = S3Config{Endpoint: "minio:9000", Bucket: "opsdeck-backups", AccessKey: "a", SecretKey: "s"}
		}, nil},
		{"bad dsn", func(c *Config) { c.Postgres.DSN = "postgres://u:sekret@db:port/x" }, []string{"field postgres.dsn: cannot parse DSN"}},
		{"redis scheme", func(c *Config) { c.Redis.URL = "http://cache:6379" }, []string{`field redis.url: scheme "http" is not redis or rediss`}},
		{"redis db", func(c *Config) { c.Redis.URL = "redis://cache:6379/x" }, []string{`field redis.url: database "x" is not a number`}},
		{"redis no host", func(c *Config) { c.Redis.URL = "redis:///0" }, []string{"field redis.url: no host"}},
		{"prometheus scheme", func(c *Config) { c.Prometheus.URL = "prom:9090" }, []string{"field prometheus.url: scheme"}},
		{"alertmanager no host", func(c *Config) { c.Alertmanager.URL = "http://" }, []string{"field alertmanager.url: no host"}},
		{"namespace invalid", func(c *Config) { c.Kubernetes.Namespaces = []string{"ok", "Bad_NS"} }, []string{`field kubernetes.namespaces[1]: "Bad_NS" is not a valid namespace name`}},
		{"log lines", func(c *Config) { c.Kubernetes.LogLines = 50 }, []string{"field kubernetes.log_lines: 50 is not between 100 and 1000000"}},
		{"namespace duplicate", func(c *Config) { c.Kubernetes.Namespaces = []string{"a", "a"} }, []string{"listed twice"}},
		{"warn above crit", func(c *Config) { c.Thresholds.CPUPercent = Limit{95, 90} }, []string{"field thresholds.cpu_percent.warn: warn (95) must be below crit (90)"}},
		{"lower is worse reversed", func(c *Config) { c.Thresholds.CacheHitRatioPercent = Limit{80, 90} }, []string{"warn (80) must be above crit (90): lower values are worse"}},
		{"percent out of range", func(c *Config) { c.Thresholds.DiskPercent = Limit{90, 120} }, []string{"field thresholds.disk_percent.crit: 120 is not a percentage"}},
		{"negative percent", func(c *Config) { c.Thresholds.RedisHitRatePercent = Limit{-1, -5} }, []string{"thresholds.redis_hit_rate_percent.warn: -1 is not a percentage"}},
		{"fractional restarts", func(c *Config) { c.Thresholds.PodRestarts = Limit{2.5, 10} }, []string{"2.5 is not a whole count"}},
		{"duration order", func(c *Config) { c.Thresholds.ReplicationLag = DurationLimit{10 * time.Minute, time.Minute} }, []string{"warn (10m0s) must be shorter than crit (1m0s)"}},
		{"zero duration", func(c *Config) { c.Thresholds.APIP95.Crit = 0 }, []string{"field thresholds.api_p95.crit: must be a positive duration"}},
		{"timeouts", func(c *Config) { c.Timeouts = Timeouts{Check: 0, Connect: -time.Second} }, []string{"field timeouts.check: must be positive", "field timeouts.connect: must be positive"}},
		{"bundle", func(c *Config) {
			c.Bundle = BundleConfig{Timeout: 10 * time.Second, SourceTimeout: time.Minute, LogLines: 0}
		}, []string{"field bundle.source_timeout: 1m0s must be at least 1s and at most bundle.timeout (10s)", "field bundle.log_lines: 0 is out of range"}},
		{"bundle timeout", func(c *Config) { c.Bundle.Timeout = time.Millisecond }, []string{"field bundle.timeout: 1ms is too short"}},
		{"connect exceeds check", func(c *Config) { c.Timeouts = Timeouts{Check: time.Second, Connect: 2 * time.Second} }, []string{"connect timeout 2s exceeds the check timeout 1s"}},
		{"s3 incomplete", func(c *Config) { c.Backup.S3 = S3Config{Bucket: "b-b"} }, []string{"backup.s3.endpoint: is required", "backup.s3.access_key: is required", "backup.s3.secret_key: is required"}},
		{"s3 endpoint with scheme", func(c *Config) {
			c.Backup.S3 = S3Config{Bucket: "bucket", Endpoint: "https://s3", AccessKey: "a", SecretKey: "s"}
		}, []string{"has a scheme"}},
		{"s3 bad bucket", func(c *Config) {
			c.Backup.S3 = S3Config{Bucket: "B", Endpoint: "s3", AccessKey: "a", SecretKey: "s"}
		}, []string{`"B" is not a valid bucket name`}},
		{"s3 fields without bucket", func(c *Config) { c.Backup.S3.SecretKey = "s" }, []string{"backup.s3.secret_key: is set but backup.s3.bucket is empty"}},
		{"no state dir", func(c *Config) { c.StateDir = "" }, []string{"field state_dir: is empty"}},
		{"no backup dest", func(c *Config) { c.Backup.Dir = "" }, []string{"field backup.dir: is empty"}},
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
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sekret") {
				t.Errorf("password leaked: %v", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Hint == "" {
				t.Errorf("want a *FieldError with a hint, got %#v", err)
			}
		})
	}
}

func TestValidateReportsLinesAndAllProblems(t *testing.T) {
	cleanEnv(t)
	src := `postgres:
  dsn: "postgres://u:sekret@db:port/x"
kubernetes:
  namespaces:
    - good
    - Not_Good
thresholds:
  cpu_percent:
    warn: 95
    crit: 90
  cache_hit_ratio_percent: {warn: 70}
`
	cfg, err := Parse("opsdeck.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		"opsdeck.yaml:2:8: field postgres.dsn: cannot parse DSN",
		`opsdeck.yaml:6:7: field kubernetes.namespaces[1]: "Not_Good"`,
		"opsdeck.yaml:9:11: field thresholds.cpu_percent.warn: warn (95) must be below crit (90)",
		"opsdeck.yaml:11:35: field thresholds.cache_hit_ratio_percent.warn: warn (70) must be above crit (80)",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\ndoes not contain %q", err, w)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 4 {
		t.Errorf("got %d problems, want 4:\n%v", n, err)
	}
	if strings.Contains(err.Error(), "sekret") {
		t.Errorf("password leaked: %v", err)
	}
}
