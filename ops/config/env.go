package config

import (
	"os"
	"strings"
)

// Environment variables read by [Config.ApplyEnv].
const (
	EnvDatabaseURL = "DATABASE_URL"
	EnvRedisURL    = "REDIS_URL"
	EnvReadOnly    = "OPSDECK_READ_ONLY"
	// The S3 store's keys, under the names every S3 client reads: a
	// Kubernetes Secret of store credentials becomes these variables.
	EnvS3AccessKey = "AWS_ACCESS_KEY_ID"
	EnvS3SecretKey = "AWS_SECRET_ACCESS_KEY"
)

// libpqEnv maps libpq's environment variables to keyword DSN keys, in the
// order they are written.
var libpqEnv = []struct{ env, key string }{
	{"PGHOST", "host"},
	{"PGPORT", "port"},
	{"PGUSER", "user"},
	{"PGPASSWORD", "password"},
	{"PGDATABASE", "dbname"},
	{"PGSSLMODE", "sslmode"},
}

// ApplyEnv fills settings the file left empty from the environment:
//
//   - postgres.dsn from DATABASE_URL, else a keyword DSN built from
//     PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (and PGSSLMODE) when
//     any of the first five is set;
//   - redis.url from REDIS_URL;
//   - backup.s3.access_key and secret_key from AWS_ACCESS_KEY_ID and
//     AWS_SECRET_ACCESS_KEY;
//   - read_only from OPSDECK_READ_ONLY: any value but "", 0, false, no or
//     off turns read-only on (a typo must not turn safety off). It never
//     turns read-only off.
//
// KUBECONFIG is left to client-go's loading rules. Load calls ApplyEnv.
func (c *Config) ApplyEnv() {
	m := c.ensureMeta()
	if c.Postgres.DSN == "" {
		if v := os.Getenv(EnvDatabaseURL); v != "" {
			c.Postgres.DSN = v
			m.env["postgres.dsn"] = EnvDatabaseURL
		} else if dsn, vars := libpqDSN(); dsn != "" {
			c.Postgres.DSN = dsn
			m.env["postgres.dsn"] = strings.Join(vars, ", $")
		}
	}
	if c.Redis.URL == "" {
		if v := os.Getenv(EnvRedisURL); v != "" {
			c.Redis.URL = v
			m.env["redis.url"] = EnvRedisURL
		}
	}
	for _, e := range []struct {
		field *string
		key   string
		env   string
	}{
		{&c.Backup.S3.AccessKey, "backup.s3.access_key", EnvS3AccessKey},
		{&c.Backup.S3.SecretKey, "backup.s3.secret_key", EnvS3SecretKey},
	} {
		if v := os.Getenv(e.env); *e.field == "" && v != "" {
			*e.field = v
			m.env[e.key] = e.env
		}
	}
	if v := strings.TrimSpace(os.Getenv(EnvReadOnly)); v != "" && !c.ReadOnly {
		switch strings.ToLower(v) {
		case "0", "false", "no", "off":
		default:
			c.ReadOnly = true
			m.env["read_only"] = EnvReadOnly
		}
	}
}

// libpqDSN builds a keyword DSN from libpq's environment variables and
// returns the names of those it used; "" when none of the connection
// variables is set.
func libpqDSN() (string, []string) {
	var parts, vars []string
	found := false
	for _, e := range libpqEnv {
		v := os.Getenv(e.env)
		if v == "" {
			continue
		}
		if e.env != "PGSSLMODE" {
			found = true
		}
		parts = append(parts, e.key+"="+quoteDSNValue(v))
		vars = append(vars, e.env)
	}
	if !found {
		return "", nil
	}
	return strings.Join(parts, " "), vars
}

// quoteDSNValue quotes a keyword DSN value when libpq requires it.
func quoteDSNValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
