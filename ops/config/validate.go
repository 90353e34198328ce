package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/redact"
)

// Validate checks the whole configuration and returns every problem at once
// (joined with errors.Join; each is a [*FieldError] naming the field and,
// when the value came from the file, its line). Secrets never appear in the
// messages. A nil error means the configuration is usable; absent targets
// (empty DSN or URL) are not errors.
func (c *Config) Validate() error {
	var errs []error
	add := func(fe *FieldError) { errs = append(errs, fe) }
	one := func(path, reason, hint string, err error) { add(c.fieldError([]string{path}, reason, hint, err)) }

	if c.StateDir == "" {
		one("state_dir", "is empty", "set it to a writable directory, e.g. ~/.local/state/opsdeck", nil)
	}
	if err := checkDSN(c.Postgres.DSN, len(c.Postgres.Env) > 0); err != nil {
		hint := `use "postgres://user:password@host:5432/dbname?sslmode=disable" or "host=... user=... dbname=..."`
		if c.Postgres.DSN == "" {
			hint = "check libpq's variables ($" + strings.Join(c.Postgres.Env, ", $") + ") and the service and password files they name"
		}
		one("postgres.dsn", err.Error(), hint, err)
	}
	if err := checkRedisURL(c.Redis.URL); err != nil {
		one("redis.url", err.Error(), `use "redis://[:password@]host:6379/0", or rediss:// for TLS`, err)
	}
	for _, ep := range []struct {
		path, url, example string
	}{
		{"prometheus.url", c.Prometheus.URL, "http://prometheus:9090"},
		{"alertmanager.url", c.Alertmanager.URL, "http://alertmanager:9093"},
	} {
		if err := checkHTTPURL(ep.url); err != nil {
			one(ep.path, err.Error(), fmt.Sprintf("use an http(s) URL such as %q, or leave it empty", ep.example), err)
		}
	}
	c.validateTheme(one)
	c.validateKube(one)
	c.validateInCluster(one)
	c.validateRestore(one)
	c.validateDrill(one)
	c.validateIncident(one)
	c.validateChecks(one)
	c.validateBundle(one)
	c.validateBackup(one)
	c.validateBackupPolicy(one)
	c.validateWAL(one)
	errs = append(errs, c.validateThresholds()...)
	errs = append(errs, c.validateMetrics()...)
	errs = append(errs, c.validateMonitoring()...)
	errs = append(errs, c.validateMaintenance()...)

	if c.Timeouts.Check <= 0 {
		one("timeouts.check", fmt.Sprintf("must be positive, got %v", c.Timeouts.Check), `use e.g. "5s"`, nil)
	}
	if c.Timeouts.Connect <= 0 {
		one("timeouts.connect", fmt.Sprintf("must be positive, got %v", c.Timeouts.Connect), `use e.g. "3s"`, nil)
	}
	if c.Timeouts.Check > 0 && c.Timeouts.Connect > c.Timeouts.Check {
		add(c.fieldError([]string{"timeouts.connect", "timeouts.check"},
			fmt.Sprintf("connect timeout %v exceeds the check timeout %v that contains it", c.Timeouts.Connect, c.Timeouts.Check),
			"lower timeouts.connect or raise timeouts.check", nil))
	}
	errs = append(errs, c.validateEnvironments(errs)...)
	return errors.Join(errs...)
}

// checkDSN parses a PostgreSQL DSN as pgx will, with libpq's
// environment; "" is fine (no database configured) unless fromEnv says
// the environment names the server (a service missing from its file).
func checkDSN(dsn string, fromEnv bool) error {
	if dsn == "" && !fromEnv {
		return nil
	}
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		// pgconn quotes the DSN in its errors; keep only redacted text.
		return errors.New("cannot parse DSN: " + redact.String(err.Error(), redact.Passwords(dsn)...))
	}
	return nil
}

// checkRedisURL checks a redis:// or rediss:// URL; "" is fine.
func checkRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL: " + redact.String(err.Error(), redact.Passwords(raw)...))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("scheme %q is not redis or rediss", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return fmt.Errorf("database %q is not a number >= 0", db)
		}
	}
	return nil
}

// checkHTTPURL checks an optional http(s) endpoint URL.
func checkHTTPURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL: " + redact.String(err.Error(), redact.Passwords(raw)...))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

// dns1123Label is a Kubernetes namespace name.
var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (c *Config) validateKube(one func(path, reason, hint string, err error)) {
	seen := map[string]bool{}
	for i, ns := range c.Kubernetes.Namespaces {
		path := fmt.Sprintf("kubernetes.namespaces[%d]", i)
		switch {
		case len(ns) > 63 || !dns1123Label.MatchString(ns):
			one(path, fmt.Sprintf("%q is not a valid namespace name", ns), "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", nil)
		case seen[ns]:
			one(path, fmt.Sprintf("namespace %q is listed twice", ns), "remove the duplicate", nil)
		}
		seen[ns] = true
	}
	if n := c.Kubernetes.LogLines; n != 0 && (n < MinLogLines || n > MaxLogLines) {
		one("kubernetes.log_lines", fmt.Sprintf("%d is not between %d and %d", n, MinLogLines, MaxLogLines), fmt.Sprintf("use e.g. %d (each line takes up to 16 KiB)", DefaultLogLines), nil)
	}
}

// The bounds of kubernetes.log_lines: the log view keeps DefaultLogLines
// lines of a pod's log unless told, at least MinLogLines and at most
// MaxLogLines (a line takes up to 16 KiB).
const (
	DefaultLogLines = 10_000
	MinLogLines     = 100
	MaxLogLines     = 1_000_000
)

// s3Bucket is an S3 bucket name (the common subset of the naming rules).
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$`)

func (c *Config) validateBackup(one func(path, reason, hint string, err error)) {
	s3 := c.Backup.S3
	if s3.Bucket == "" {
		if c.Backup.Dir == "" {
			one("backup.dir", "is empty and no S3 bucket is set", "set backup.dir to a local directory or configure backup.s3", nil)
		}
		for _, f := range []struct{ path, v string }{
			{"backup.s3.endpoint", s3.Endpoint}, {"backup.s3.access_key", s3.AccessKey},
			{"backup.s3.secret_key", s3.SecretKey}, {"backup.s3.prefix", s3.Prefix}, {"backup.s3.region", s3.Region},
		} {
			if f.v != "" {
				one(f.path, "is set but backup.s3.bucket is empty", "set backup.s3.bucket, or remove the s3 section to use backup.dir", nil)
				break
			}
		}
		return
	}
	if !s3Bucket.MatchString(s3.Bucket) {
		one("backup.s3.bucket", fmt.Sprintf("%q is not a valid bucket name", s3.Bucket), "use 3–63 lowercase letters, digits, '.' and '-'", nil)
	}
	switch {
	case s3.Endpoint == "":
		one("backup.s3.endpoint", "is required when backup.s3.bucket is set", `give host[:port], e.g. "s3.eu-west-1.amazonaws.com" or "minio:9000"`, nil)
	case strings.Contains(s3.Endpoint, "://"):
		one("backup.s3.endpoint", fmt.Sprintf("%q has a scheme", s3.Endpoint), "give host[:port] only; set insecure: true for plain http", nil)
	case strings.ContainsAny(s3.Endpoint, "/ "):
		one("backup.s3.endpoint", fmt.Sprintf("%q is not host[:port]", s3.Endpoint), `give host[:port], e.g. "minio:9000"`, nil)
	}
	if s3.AccessKey == "" {
		one("backup.s3.access_key", "is required when backup.s3.bucket is set", "set the access key id of a user allowed to write the bucket", nil)
	}
	if s3.SecretKey == "" {
		one("backup.s3.secret_key", "is required when backup.s3.bucket is set", "set the secret key that goes with access_key", nil)
	}
}

// limitRule describes how one threshold pair is checked.
type limitRule struct {
	name    string
	limit   Limit
	lower   bool // lower is worse
	percent bool // bounded to 0..100
	whole   bool // a count
}

func (c *Config) validateThresholds() []error {
	t := c.Thresholds
	rules := []limitRule{
		{name: "cpu_percent", limit: t.CPUPercent, percent: true},
		{name: "memory_percent", limit: t.MemoryPercent, percent: true},
		{name: "disk_percent", limit: t.DiskPercent, percent: true},
		{name: "api_error_rate_percent", limit: t.APIErrorRatePercent, percent: true},
		{name: "db_connections_percent", limit: t.DBConnectionsPercent, percent: true},
		{name: "cache_hit_ratio_percent", limit: t.CacheHitRatioPercent, percent: true, lower: true},
		{name: "redis_memory_percent", limit: t.RedisMemoryPercent, percent: true},
		{name: "redis_hit_rate_percent", limit: t.RedisHitRatePercent, percent: true, lower: true},
		{name: "pod_restarts", limit: t.PodRestarts, whole: true},
		{name: "slot_retained_bytes", limit: t.SlotRetainedBytes, whole: true},
	}
	rules = append(rules, metricLimitRules(t)...)
	var errs []error
	for _, r := range rules {
		base := "thresholds." + r.name
		warn, crit := base+".warn", base+".crit"
		bad := false
		for _, lv := range []struct {
			path string
			v    float64
		}{{warn, r.limit.Warn}, {crit, r.limit.Crit}} {
			switch {
			case math.IsNaN(lv.v) || math.IsInf(lv.v, 0):
				errs = append(errs, c.fieldError([]string{lv.path}, "is not a finite number", "write a plain number", nil))
				bad = true
			case r.percent && (lv.v < 0 || lv.v > 100):
				errs = append(errs, c.fieldError([]string{lv.path}, fmt.Sprintf("%g is not a percentage", lv.v), "use a value from 0 to 100", nil))
				bad = true
			case r.whole && (lv.v < 0 || lv.v != math.Trunc(lv.v)):
				errs = append(errs, c.fieldError([]string{lv.path}, fmt.Sprintf("%g is not a whole count", lv.v), "use a whole number >= 0", nil))
				bad = true
			}
		}
		if bad {
			continue
		}
		if r.lower && r.limit.Warn <= r.limit.Crit {
			errs = append(errs, c.fieldError([]string{warn, crit},
				fmt.Sprintf("warn (%g) must be above crit (%g): lower values are worse here", r.limit.Warn, r.limit.Crit),
				"swap them, e.g. warn: 90, crit: 80", nil))
		}
		if !r.lower && r.limit.Warn >= r.limit.Crit {
			errs = append(errs, c.fieldError([]string{warn, crit},
				fmt.Sprintf("warn (%g) must be below crit (%g)", r.limit.Warn, r.limit.Crit),
				"swap them or raise crit", nil))
		}
	}
	for _, d := range []struct {
		name  string
		limit DurationLimit
	}{
		{"api_p95", t.APIP95},
		{"longest_transaction", t.LongestTransaction},
		{"replication_lag", t.ReplicationLag},
		{"wal_archive_lag", t.WALArchiveLag},
	} {
		base := "thresholds." + d.name
		warn, crit := base+".warn", base+".crit"
		if d.limit.Warn <= 0 || d.limit.Crit <= 0 {
			p := warn
			if d.limit.Warn > 0 {
				p = crit
			}
			errs = append(errs, c.fieldError([]string{p}, "must be a positive duration", `use e.g. "30s" or "5m"`, nil))
			continue
		}
		if d.limit.Warn >= d.limit.Crit {
			errs = append(errs, c.fieldError([]string{warn, crit},
				fmt.Sprintf("warn (%v) must be shorter than crit (%v)", d.limit.Warn, d.limit.Crit),
				"swap them or raise crit", nil))
		}
	}
	return errs
}
