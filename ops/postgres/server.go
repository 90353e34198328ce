package postgres

import "context"

// ServerVersion reads the server's version and the session's database:
// ServerInfo's Version ("15.18 (Debian ...)"), VersionNum (150018) and
// Database; the other fields are left zero (TakeSnapshot reads them all).
func ServerVersion(ctx context.Context, q Querier) (ServerInfo, error) {
	var s ServerInfo
	err := q.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_database()").
		Scan(&s.Version, &s.VersionNum, &s.Database)
	return s, err
}

// DataDirectory reads the server's data directory. A role without
// pg_read_all_settings (or superuser) reads "" or is refused.
func DataDirectory(ctx context.Context, q Querier) (string, error) {
	var dir string
	err := q.QueryRow(ctx, "SELECT setting FROM pg_settings WHERE name = 'data_directory'").Scan(&dir)
	return dir, err
}

// RolePrivileges are the attributes of a role that decide what a restore
// may do.
type RolePrivileges struct {
	Superuser bool
	// CreateDB is true when the role may create databases.
	CreateDB bool
}

// CurrentRolePrivileges reads the attributes of the session's role.
func CurrentRolePrivileges(ctx context.Context, q Querier) (RolePrivileges, error) {
	var p RolePrivileges
	err := q.QueryRow(ctx, "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user").Scan(&p.Superuser, &p.CreateDB)
	return p, err
}

// RoleMembership tells whether the session's role has role's privileges
// (usage: it inherits them) and whether it is a member of role (member:
// it may SET ROLE to it), directly or through other roles.
func RoleMembership(ctx context.Context, q Querier, role string) (usage, member bool, err error) {
	err = q.QueryRow(ctx, "SELECT pg_has_role(current_user, $1, 'USAGE'), pg_has_role(current_user, $1, 'MEMBER')", role).Scan(&usage, &member)
	return usage, member, err
}
