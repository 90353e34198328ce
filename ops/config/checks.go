package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of an HTTP smoke check's fields left at zero.
const (
	// DefaultSmokeRequests is how many requests a smoke check sends.
	DefaultSmokeRequests = 20
	// DefaultSmokeStatus is the status a smoke check expects.
	DefaultSmokeStatus = 200
	// MaxSmokeRequests bounds requests: a smoke check is not a load test.
	MaxSmokeRequests = 1000
)

// Defaults of the migrations check.
const (
	DefaultMigrationsTable  = "schema_migrations"
	DefaultMigrationsColumn = "version"
)

// ChecksConfig drives `opsdeck check deploy`'s checks of the application
// itself, beside the cluster's view of the rollout.
type ChecksConfig struct {
	// HTTP are smoke checks: each URL is requested a number of times and
	// judged on its status and its p95 latency.
	HTTP []HTTPCheck `yaml:"http,omitempty" json:"http"`
	// Migrations, when Expected is set, checks the application's
	// migrations table on postgres.dsn's server.
	Migrations MigrationsCheck `yaml:"migrations" json:"migrations"`
}

// HTTPCheck is one smoke check: Requests GETs of URL, each expected to
// answer ExpectStatus, their p95 latency at most MaxLatency.
type HTTPCheck struct {
	// Name names the check in the report.
	Name string `yaml:"name" json:"name"`
	// URL is requested with GET; redirects are not followed. A password
	// in it is a secret (never printed).
	URL string `yaml:"url" json:"url"`
	// ExpectStatus is the HTTP status every answer should have (0: 200).
	ExpectStatus int `yaml:"expect_status" json:"expect_status"`
	// MaxLatency is the most the p95 of the answers' latencies may be
	// (0: thresholds.api_p95.warn).
	MaxLatency time.Duration `yaml:"max_latency" json:"max_latency"`
	// Requests is how many requests are sent (0: 20).
	Requests int `yaml:"requests" json:"requests"`
}

// WithDefaults returns h with its zero fields set: 20 requests, status
// 200, and th's api_p95 warning level as the latency bound.
func (h HTTPCheck) WithDefaults(th Thresholds) HTTPCheck {
	if h.Requests == 0 {
		h.Requests = DefaultSmokeRequests
	}
	if h.ExpectStatus == 0 {
		h.ExpectStatus = DefaultSmokeStatus
	}
	if h.MaxLatency == 0 {
		h.MaxLatency = th.APIP95.Warn
	}
	return h
}

// MigrationsCheck names the table where the application records its
// schema migrations and the version the deployed release expects.
type MigrationsCheck struct {
	// Database is the database on postgres.dsn's server that holds the
	// table ("": postgres.dsn's own).
	Database string `yaml:"database" json:"database"`
	// Table is the migrations table, optionally schema-qualified
	// (default schema_migrations).
	Table string `yaml:"table" json:"table"`
	// Column holds the versions (default version); the newest applied
	// version is the greatest value.
	Column string `yaml:"column" json:"column"`
	// Expected is the version the deployed release needs; "" turns the
	// check off.
	Expected string `yaml:"expected" json:"expected"`
}

// Configured reports whether the migrations check is on.
func (m MigrationsCheck) Configured() bool { return m.Expected != "" }

// DefaultChecks returns the checks' defaults: no smoke check, the
// migrations check off with golang-migrate's and Rails' table and column.
func DefaultChecks() ChecksConfig {
	return ChecksConfig{Migrations: MigrationsCheck{Table: DefaultMigrationsTable, Column: DefaultMigrationsColumn}}
}

func (c ChecksConfig) clone() ChecksConfig {
	c.HTTP = slices.Clone(c.HTTP)
	return c
}

// checkName is a smoke check's name.
var checkName = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)

// sqlName is a table or column name: letters, digits, '_' and '$', not
// starting with a digit (quoted when used, so this only keeps typos out).
var sqlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

// validateChecks checks the checks section.
func (c *Config) validateChecks(one func(path, reason, hint string, cause error)) {
	seen := map[string]string{}
	for i, h := range c.Checks.HTTP {
		path := fmt.Sprintf("checks.http[%d]", i)
		switch prev, dup := seen[h.Name]; {
		case !checkName.MatchString(h.Name):
			one(path+".name", fmt.Sprintf("%q is not a valid name", h.Name), "use lower-case letters, digits, '.', '-' and '_', starting with a letter", nil)
		case dup:
			one(path+".name", fmt.Sprintf("%q is already used by %s", h.Name, prev), "give every check its own name", nil)
		default:
			seen[h.Name] = path
		}
		switch err := checkHTTPURL(h.URL); {
		case h.URL == "":
			one(path+".url", "is empty", `give the URL to request, e.g. "https://api.example.com/healthz"`, nil)
		case err != nil:
			one(path+".url", err.Error(), `use an http(s) URL such as "https://api.example.com/healthz"`, err)
		}
		if h.ExpectStatus != 0 && (h.ExpectStatus < 100 || h.ExpectStatus > 599) {
			one(path+".expect_status", fmt.Sprintf("%d is not an HTTP status", h.ExpectStatus), "use a status from 100 to 599, e.g. 200", nil)
		}
		if h.MaxLatency < 0 {
			one(path+".max_latency", fmt.Sprintf("%v is negative", h.MaxLatency), `use e.g. "500ms", or 0 for thresholds.api_p95.warn`, nil)
		}
		if h.Requests < 0 || h.Requests > MaxSmokeRequests {
			one(path+".requests", fmt.Sprintf("%d is not from 1 to %d", h.Requests, MaxSmokeRequests), "use e.g. 20 (0 is the default, 20)", nil)
		}
	}
	m := c.Checks.Migrations
	if !m.Configured() {
		return
	}
	schema, table, qualified := strings.Cut(m.Table, ".")
	if !qualified {
		schema, table = "", m.Table
	}
	if !sqlName.MatchString(table) || (qualified && !sqlName.MatchString(schema)) {
		one("checks.migrations.table", fmt.Sprintf("%q is not a table name", m.Table), `use "table" or "schema.table", e.g. "schema_migrations"`, nil)
	}
	if !sqlName.MatchString(m.Column) {
		one("checks.migrations.column", fmt.Sprintf("%q is not a column name", m.Column), `use e.g. "version"`, nil)
	}
}
