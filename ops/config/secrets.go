package config

import (
	"net/url"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// Env is the environment this configuration describes, as access sees it:
// its name (EnvName) and whether it is read-only.
func (c *Config) Env() access.Env {
	return access.Env{Name: c.EnvName(), ReadOnly: c.ReadOnly}
}

// Secrets returns every secret value the configuration holds — the
// passwords inside the PostgreSQL DSN and the Redis, Prometheus,
// Alertmanager and smoke checks' URLs, the S3 secret key, and the webhook URLs (whose path is
// the credential) with their secret parts — for the audit log and the
// output filters to remove. It is the one list: a new secret field is added
// here and in Redacted.
func (c *Config) Secrets() []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	add(redact.Passwords(c.Postgres.DSN)...)
	add(redact.Passwords(c.Postgres.WAL.DSN)...)
	add(c.Postgres.resolvedPasswords()...)
	for _, u := range []string{c.Redis.URL, c.Prometheus.URL, c.Alertmanager.URL} {
		add(redact.Passwords(u)...)
	}
	for _, h := range c.Checks.HTTP {
		add(redact.Passwords(h.URL)...)
	}
	add(c.Backup.S3.SecretKey)
	add(webhookSecrets(c.Backup.WebhookURL)...)
	for _, r := range c.Monitoring.Alertmanager.Receivers {
		add(webhookSecrets(r.WebhookURL)...)
	}
	add(redact.Registered()...) // read at run time: password_secret
	return out
}

// resolvedPasswords are the passwords pgx connects with, wherever it found
// them: the DSN, PGPASSWORD, a service file or a password file (PGPASSFILE,
// ~/.pgpass). They are secrets even when no DSN holds them.
func (p PostgresConfig) resolvedPasswords() []string {
	var out []string
	add := func(dsn string) {
		if pc, err := pgconn.ParseConfig(dsn); err == nil && pc.Password != "" {
			out = append(out, pc.Password)
		}
	}
	if p.Configured() {
		add(p.DSN)
	}
	if p.WAL.DSN != "" {
		add(p.WAL.DSN)
	}
	return out
}

// webhookSecrets are the parts of a webhook URL that grant access: the whole
// URL, its path and query (a Slack hook's token lives there) and any password.
func webhookSecrets(raw string) []string {
	if raw == "" {
		return nil
	}
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if len(u.Path) > 1 {
		out = append(out, u.Path)
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
	}
	return append(out, redact.Passwords(raw)...)
}

// OpenAudit opens the audit log under the state dir, with every secret of
// the configuration registered so none reaches a record. It is called once
// per process (the CLI's setup, the cockpit's sources) and the log handed
// down; when the file cannot be opened it returns an unavailable log that
// refuses writes with the reason.
func (c *Config) OpenAudit() *audit.Log {
	path := audit.PathIn(c.StateDir)
	l, err := audit.Open(path)
	if err != nil {
		return audit.Unavailable(path, err)
	}
	l.AddSecrets(c.Secrets()...)
	return l
}
