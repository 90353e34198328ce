package maintain

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// rbSecurity is the runbook section of the security audit.
const rbSecurity = "maintenance.md#monthly"

// runSecurity checks Postgres, Redis, Kubernetes and the backup store.
func (e *Engine) runSecurity(ctx context.Context, explicit bool) []Finding {
	var fs []Finding
	if pool, err := e.pool(ctx); err != nil {
		fs = append(fs, targetFailure(AreaSecurity, "postgres", err, explicit && e.Config.Postgres.Configured()))
	} else if s, err := postgres.ReadSecurity(ctx, pool, e.statementTimeout()); err != nil {
		fs = append(fs, targetFailure(AreaSecurity, "postgres", err, true))
	} else {
		fs = append(fs, PostgresSecurityFindings(s, e.Config.Maintenance)...)
	}
	if client, err := e.redisUp(ctx); err != nil {
		fs = append(fs, targetFailure(AreaSecurity, "redis", err, explicit && e.Config.Redis.URL != ""))
	} else if s, err := redis.ReadSecurity(ctx, client); err != nil {
		fs = append(fs, targetFailure(AreaSecurity, "redis", err, true))
	} else {
		fs = append(fs, RedisSecurityFindings(s)...)
	}
	fs = append(fs, e.kubeSecurity(ctx)...)
	fs = append(fs, e.storeSecurity(ctx)...)
	return fs
}

// PostgresSecurityFindings judges the server's security facts.
func PostgresSecurityFindings(s postgres.Security, m config.MaintenanceConfig) []Finding {
	var fs []Finding
	add := func(f Finding) {
		f.Area, f.Runbook = AreaSecurity, rbSecurity
		fs = append(fs, f)
	}
	for _, mf := range s.Missing {
		fs = append(fs, na(AreaSecurity, "postgres "+string(mf.Fact), "postgres", mf.Reason))
	}
	if s.Has(postgres.FactRoles) {
		for _, su := range s.Superusers {
			if su == s.Bootstrap || su == s.Owner || slices.Contains(m.AllowedSuperusers, su) {
				continue
			}
			add(Finding{Check: "postgres superuser", Status: health.Crit, Object: "role " + su,
				Summary:    fmt.Sprintf("%s is a superuser besides the bootstrap role %s and the owner %s of %s", su, s.Bootstrap, s.Owner, s.Database),
				Evidence:   []string{"superusers: " + strings.Join(s.Superusers, ", ")},
				Why:        "a superuser bypasses every permission, can read any file the server can and run programs as its user",
				Suggestion: fmt.Sprintf("ALTER ROLE %s NOSUPERUSER; grant it only what it needs (or list it in maintenance.allowed_superusers if it must stay)", pgx.Identifier{su}.Sanitize())})
		}
	}
	if s.Has(postgres.FactServerConfig) {
		if s.PasswordEncryption == "md5" {
			add(Finding{Check: "postgres password encryption", Status: health.Warn, Object: "password_encryption",
				Summary:    "new passwords are stored as MD5",
				Why:        "an MD5 hash is the password's equivalent for logging in and is cheap to brute-force",
				Suggestion: "ALTER SYSTEM SET password_encryption = 'scram-sha-256'; SELECT pg_reload_conf(); then reset each role's password"})
		}
		if !s.SSL {
			add(Finding{Check: "postgres ssl", Status: health.Warn, Object: "ssl",
				Summary:    "ssl is off: connections are not encrypted",
				Why:        "passwords (with md5) and every query and result cross the network in clear text",
				Suggestion: "set ssl = on with a certificate, and hostssl lines in pg_hba.conf; inside a cluster, a service mesh with mTLS also does"})
		}
	}
	if s.Has(postgres.FactPasswords) {
		for _, r := range s.MD5Roles {
			add(Finding{Check: "postgres md5 password", Status: health.Warn, Object: "role " + r,
				Summary:    r + " has its password stored as MD5",
				Why:        "the stored hash is enough to log in as the role where md5 authentication is allowed",
				Suggestion: fmt.Sprintf("with password_encryption = 'scram-sha-256': ALTER ROLE %s PASSWORD '...';", pgx.Identifier{r}.Sanitize())})
		}
		for _, r := range s.NoPasswordRoles {
			add(Finding{Check: "postgres login without password", Status: health.Warn, Object: "role " + r,
				Summary:    r + " can log in and has no password",
				Evidence:   []string{"it can connect wherever pg_hba.conf allows trust or peer authentication for it"},
				Why:        "a role without a password relies on pg_hba.conf alone; one trust line opens it to anyone who can reach the server",
				Suggestion: fmt.Sprintf("ALTER ROLE %s PASSWORD '...'; or NOLOGIN if it is a group role", pgx.Identifier{r}.Sanitize())})
		}
	}
	if s.Has(postgres.FactHBA) {
		for _, r := range s.TrustRules {
			add(Finding{Check: "postgres trust authentication", Status: health.Crit, Object: fmt.Sprintf("pg_hba.conf line %d", r.Line),
				Summary:    fmt.Sprintf("%s %s %s %s trust", r.Type, strings.Join(r.Database, ","), strings.Join(r.User, ","), r.Address),
				Why:        "trust lets anyone matching the line connect as any of its users without a password",
				Suggestion: "replace trust with scram-sha-256 (or peer for local admin access) and reload"})
		}
	}
	if s.Has(postgres.FactPublicSchema) {
		if s.PublicCreate {
			add(Finding{Check: "postgres CREATE on public", Status: health.Warn, Object: "schema public",
				Summary:    "every role may create objects in schema public",
				Why:        "any user can plant a function or operator that another role's query resolves to (CVE-2018-1058)",
				Suggestion: "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"})
		}
		for _, r := range s.PublicCreateRoles {
			add(Finding{Check: "postgres CREATE on public", Status: health.Warn, Object: "role " + r,
				Summary:    r + " may create objects in schema public",
				Why:        "an application role that can create objects can be made to shadow functions other roles use",
				Suggestion: fmt.Sprintf("REVOKE CREATE ON SCHEMA public FROM %s; create its objects as the owner in migrations", pgx.Identifier{r}.Sanitize())})
		}
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Area: AreaSecurity, Check: "postgres", Status: health.OK, Object: "postgres", Runbook: rbSecurity,
			Summary: fmt.Sprintf("superusers %s, %s passwords, ssl %s, schema public closed", strings.Join(s.Superusers, ", "), s.PasswordEncryption, onOff(s.SSL))})
	}
	return fs
}

// RedisSecurityFindings judges the Redis server's security facts.
func RedisSecurityFindings(s redis.Security) []Finding {
	var fs []Finding
	add := func(f Finding) {
		f.Area, f.Runbook, f.Object = AreaSecurity, rbSecurity, "redis"
		fs = append(fs, f)
	}
	for _, fact := range []string{"acl", "config", "commands"} {
		if reason, ok := s.Missing[fact]; ok {
			fs = append(fs, na(AreaSecurity, "redis "+fact, "redis", reason))
		}
	}
	if u := s.DefaultUser; u != nil && u.Enabled && u.NoPass {
		add(Finding{Check: "redis default user without password", Status: health.Crit,
			Summary:    "clients connect as the default user without a password",
			Evidence:   []string{"ACL GETUSER default: on, nopass"},
			Why:        "anyone who can reach the port can read and change every key",
			Suggestion: "ACL SETUSER default on >'long-random-password' (or requirepass), and give the application its own ACL user"})
	}
	if s.ProtectedMode == "no" {
		add(Finding{Check: "redis protected mode", Status: health.Warn,
			Summary:    "protected-mode is off",
			Evidence:   []string{"bind: " + s.Bind},
			Why:        "with no password and a public bind address Redis then serves anyone; protected mode would refuse them",
			Suggestion: "CONFIG SET protected-mode yes (and in redis.conf), unless every client is authenticated"})
	}
	if len(s.Dangerous) > 0 {
		how := "exist on the server (no ACL DRYRUN here to tell who may run them)"
		if s.DangerousChecked {
			how = "may be run by the default user"
		}
		add(Finding{Check: "redis dangerous commands", Status: health.Warn,
			Summary:    strings.Join(s.Dangerous, ", ") + " " + how,
			Why:        "one FLUSHALL empties the cache, CONFIG can rewrite files, DEBUG can crash the server, KEYS blocks it on a big keyspace",
			Suggestion: "ACL SETUSER <app user> -flushall -flushdb -config -debug -keys (or rename-command in redis.conf)"})
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Area: AreaSecurity, Check: "redis", Status: health.OK, Object: "redis", Runbook: rbSecurity,
			Summary: "default user has a password, protected mode on, no dangerous command open"})
	}
	return fs
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
