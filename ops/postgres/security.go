package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Facts of the security report.
const (
	FactRoles        Fact = "roles"
	FactPasswords    Fact = "passwords"
	FactHBA          Fact = "hba"
	FactServerConfig Fact = "server_config"
	FactPublicSchema Fact = "public_schema"
)

// Security is what `maintain security` needs to know about a server: who is
// superuser, how passwords are stored, whether connections are encrypted
// and who may create objects in the public schema. Facts that could not be
// read (pg_authid and pg_hba_file_rules are for superusers) are listed in
// Missing.
type Security struct {
	CollectedAt time.Time `json:"collected_at"`
	// Database is the connected database and Owner its owner.
	Database string `json:"database"`
	Owner    string `json:"owner"`
	// Bootstrap is the role initdb created (oid 10), superuser by nature.
	Bootstrap string `json:"bootstrap"`
	// Superusers are all roles with rolsuper.
	Superusers []string `json:"superusers"`
	// PasswordEncryption is the setting new passwords are stored with.
	PasswordEncryption string `json:"password_encryption"`
	// SSL is the ssl setting.
	SSL bool `json:"ssl"`
	// MD5Roles have a password stored as MD5 (needs superuser to read).
	MD5Roles []string `json:"md5_roles"`
	// NoPasswordRoles can log in and have no password (needs superuser).
	NoPasswordRoles []string `json:"no_password_roles"`
	// TrustRules are the pg_hba.conf lines with auth method trust.
	TrustRules []HBARule `json:"trust_rules"`
	// PublicCreate means PUBLIC may create objects in schema public.
	PublicCreate bool `json:"public_create"`
	// PublicCreateRoles are other roles (not the schema's owner) granted
	// CREATE on schema public.
	PublicCreateRoles []string `json:"public_create_roles"`

	Missing []MissingFact `json:"missing,omitempty"`
}

// Has reports whether fact f was read.
func (s Security) Has(f Fact) bool {
	for _, m := range s.Missing {
		if m.Fact == f {
			return false
		}
	}
	return true
}

// HBARule is one line of pg_hba.conf.
type HBARule struct {
	Line     int      `json:"line"`
	Type     string   `json:"type"`
	Database []string `json:"database"`
	User     []string `json:"user"`
	Address  string   `json:"address,omitempty"`
	Method   string   `json:"method"`
}

// ReadSecurity reads the security facts, each in its own read-only
// transaction under statement_timeout (timeout, or DefaultStatementTimeout).
func ReadSecurity(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) (Security, error) {
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	s := Security{CollectedAt: time.Now()}
	missing, err := readEachFact(ctx, pool, timeout, []namedRead{
		{FactRoles, func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `
SELECT current_database(), pg_get_userbyid(d.datdba)::text, (SELECT rolname::text FROM pg_roles WHERE oid = 10),
       coalesce((SELECT array_agg(rolname::text ORDER BY rolname) FROM pg_roles WHERE rolsuper), '{}')
  FROM pg_database d WHERE d.datname = current_database()`).Scan(&s.Database, &s.Owner, &s.Bootstrap, &s.Superusers)
		}},
		{FactServerConfig, func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT current_setting('password_encryption'), current_setting('ssl') = 'on'`).
				Scan(&s.PasswordEncryption, &s.SSL)
		}},
		{FactPasswords, func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `
SELECT coalesce(array_agg(rolname::text ORDER BY rolname) FILTER (WHERE rolpassword LIKE 'md5%'), '{}'),
       coalesce(array_agg(rolname::text ORDER BY rolname) FILTER (WHERE rolcanlogin AND rolpassword IS NULL), '{}')
  FROM pg_authid`).Scan(&s.MD5Roles, &s.NoPasswordRoles)
		}},
		{FactHBA, func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
SELECT line_number, coalesce(type, ''), coalesce(database, '{}'), coalesce(user_name, '{}'), coalesce(address, ''), coalesce(auth_method, '')
  FROM pg_hba_file_rules WHERE auth_method = 'trust' AND error IS NULL ORDER BY line_number`)
			if err != nil {
				return err
			}
			defer rows.Close()
			s.TrustRules = []HBARule{}
			for rows.Next() {
				var r HBARule
				if err := rows.Scan(&r.Line, &r.Type, &r.Database, &r.User, &r.Address, &r.Method); err != nil {
					return err
				}
				s.TrustRules = append(s.TrustRules, r)
			}
			return rows.Err()
		}},
		{FactPublicSchema, func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `
SELECT coalesce(bool_or(a.grantee = 0), false),
       coalesce(array_agg(DISTINCT pg_get_userbyid(a.grantee)::text) FILTER (WHERE a.grantee <> 0 AND a.grantee <> n.nspowner), '{}')
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE'`).Scan(&s.PublicCreate, &s.PublicCreateRoles)
		}},
	})
	s.Missing = missing
	return s, err
}
