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

// LibpqServerEnv are libpq's environment variables that name a server to
// connect to: with one of them set and no DSN, PostgreSQL is configured
// by the environment. The others (PGPASSFILE, PGSERVICEFILE, PGSSLMODE,
// PGSSLROOTCERT, PGCONNECT_TIMEOUT, PGAPPNAME, PGTARGETSESSIONATTRS…)
// only shape a connection; pgx reads all of them when it parses the DSN.
var LibpqServerEnv = []string{"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE"}

// ApplyEnv fills settings the file left empty from the environment:
//
//   - postgres.dsn from DATABASE_URL; else, when one of LibpqServerEnv is
//     set, the DSN stays empty and postgres.Env names them: libpq's
//     environment is not copied into the DSN but read by pgx itself when
//     it parses the DSN (pgconn.ParseConfig: PGSERVICE with
//     PGSERVICEFILE, PGPASSFILE, PGSSL*, PGCONNECT_TIMEOUT, PGAPPNAME,
//     PGTARGETSESSIONATTRS…), so the DSN's own parameters win over the
//     service file, which wins over the other variables, as in libpq;
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
		} else if vars := libpqServerVars(); len(vars) > 0 {
			c.Postgres.Env = vars
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

// libpqServerVars returns those of LibpqServerEnv that are set.
func libpqServerVars() []string {
	var vars []string
	for _, name := range LibpqServerEnv {
		if os.Getenv(name) != "" {
			vars = append(vars, name)
		}
	}
	return vars
}
