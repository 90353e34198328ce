package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DatabaseInfo is one database of the server.
type DatabaseInfo struct {
	Name  string `json:"name"`
	Owner string `json:"owner"`
	Bytes int64  `json:"bytes"`
	// Sessions counts the sessions connected to it.
	Sessions int `json:"sessions"`
}

// ListDatabases returns the databases whose names start with prefix
// (matched literally, not as a pattern), largest first. Templates are left out.
func ListDatabases(ctx context.Context, pool *pgxpool.Pool, prefix string) ([]DatabaseInfo, error) {
	t := targetOf(pool.Config().ConnConfig.Config)
	rows, err := pool.Query(ctx, `
SELECT d.datname::text, pg_get_userbyid(d.datdba)::text,
       CASE WHEN has_database_privilege(d.datname, 'CONNECT') THEN pg_database_size(d.oid) ELSE -1 END,
       (SELECT count(*)::int FROM pg_stat_activity a WHERE a.datid = d.oid)
  FROM pg_database d
 WHERE NOT d.datistemplate AND left(d.datname, length($1)) = $1
 ORDER BY 3 DESC, 1`, prefix)
	if err != nil {
		return nil, wrapErr(err, t, DefaultStatementTimeout)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DatabaseInfo, error) {
		var d DatabaseInfo
		err := r.Scan(&d.Name, &d.Owner, &d.Bytes, &d.Sessions)
		return d, err
	})
	if err != nil {
		return nil, wrapErr(err, t, DefaultStatementTimeout)
	}
	return out, nil
}

// DropDatabase drops database name. It refuses the database the pool is
// connected to, and never forces: a database with sessions is not dropped
// and the error says so.
func DropDatabase(ctx context.Context, pool *pgxpool.Pool, name string) error {
	t := targetOf(pool.Config().ConnConfig.Config)
	if strings.TrimSpace(name) == "" {
		return errors.New("drop database: no name given")
	}
	if name == t.database {
		return fmt.Errorf("drop database %q: it is the database opsdeck is connected to, refusing", name)
	}
	_, err := pool.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pgErr) && pgErr.Code == "55006":
		return fmt.Errorf("drop database %q: other sessions are connected to it — end them first (opsdeck maintain db lists sessions): %s", name, pgErr.Message)
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		return fmt.Errorf("drop database %q: it no longer exists", name)
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		return fmt.Errorf("drop database %q: permission denied — only its owner or a superuser may drop it", name)
	}
	return fmt.Errorf("drop database %q: %w", name, wrapErr(err, t, DefaultStatementTimeout))
}

// DatabaseExists tells whether database name exists.
func DatabaseExists(ctx context.Context, q Querier, name string) (bool, error) {
	var n int
	err := q.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	return n > 0, err
}

// DatabaseOID returns the OID of database name: what tells a database
// apart through renames. A missing database is pgx.ErrNoRows.
func DatabaseOID(ctx context.Context, q Querier, name string) (uint32, error) {
	var oid uint32
	err := q.QueryRow(ctx, "SELECT oid FROM pg_database WHERE datname = $1", name).Scan(&oid)
	return oid, err
}

// DatabaseName returns the name database oid has now. A missing database
// is pgx.ErrNoRows.
func DatabaseName(ctx context.Context, q Querier, oid uint32) (string, error) {
	var name string
	err := q.QueryRow(ctx, "SELECT datname FROM pg_database WHERE oid = $1", oid).Scan(&name)
	return name, err
}

// DatabaseDetails are what it takes to make a database like another one,
// and how large it is.
type DatabaseDetails struct {
	OID   uint32
	Owner string
	// Encoding, Collate and CType as CREATE DATABASE takes them
	// (ENCODING, LC_COLLATE, LC_CTYPE).
	Encoding, Collate, CType string
	Bytes                    int64
}

// ReadDatabaseDetails reads database name's OID, owner, encoding,
// collation and size. A missing database is pgx.ErrNoRows.
func ReadDatabaseDetails(ctx context.Context, q Querier, name string) (DatabaseDetails, error) {
	var d DatabaseDetails
	err := q.QueryRow(ctx, `SELECT d.oid, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, pg_database_size(d.oid)
  FROM pg_database d WHERE d.datname = $1`, name).Scan(&d.OID, &d.Owner, &d.Encoding, &d.Collate, &d.CType, &d.Bytes)
	return d, err
}

// CreateOptions are the clauses of CREATE DATABASE; empty ones are left
// out. Encoding, when set, brings Collate and CType with it.
type CreateOptions struct {
	Template string
	Encoding string
	Collate  string
	CType    string
	Owner    string
}

// CreateDatabase creates database name (CREATE DATABASE, identifiers and
// literals quoted).
func CreateDatabase(ctx context.Context, q Querier, name string, o CreateOptions) error {
	_, err := q.Exec(ctx, createDatabaseSQL(name, o))
	return err
}

// createDatabaseSQL builds the CREATE DATABASE statement of CreateDatabase.
func createDatabaseSQL(name string, o CreateOptions) string {
	create := "CREATE DATABASE " + quoteIdent(name)
	if o.Template != "" {
		create += " TEMPLATE " + quoteIdent(o.Template)
	}
	if o.Encoding != "" {
		create += " ENCODING " + quoteLiteral(o.Encoding) + " LC_COLLATE " + quoteLiteral(o.Collate) + " LC_CTYPE " + quoteLiteral(o.CType)
	}
	if o.Owner != "" {
		create += " OWNER " + quoteIdent(o.Owner)
	}
	return create
}

// SetAllowConnections opens (on) or closes database name to new sessions
// (ALTER DATABASE ... WITH ALLOW_CONNECTIONS). Closing it ends no session:
// see TerminateSessions.
func SetAllowConnections(ctx context.Context, q Querier, name string, on bool) error {
	_, err := q.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH ALLOW_CONNECTIONS %t", quoteIdent(name), on))
	return err
}

// Rename is one database renamed: From becomes To.
type Rename struct{ From, To string }

// RenameDatabases renames the databases in one transaction: all of them
// or none. between, when not nil, runs inside the transaction before each
// rename but the first (a place for tests to fail); its error rolls the
// transaction back and is returned as it is. A rename the server refuses
// is returned as "rename <from> to <to>: <the server's error>"; a database
// with sessions is refused ("is being accessed by other users").
func RenameDatabases(ctx context.Context, pool *pgxpool.Pool, renames []Rename, between func() error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i, r := range renames {
			if i > 0 && between != nil {
				if err := between(); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, "ALTER DATABASE "+quoteIdent(r.From)+" RENAME TO "+quoteIdent(r.To)); err != nil {
				return fmt.Errorf("rename %s to %s: %w", r.From, r.To, err)
			}
		}
		return nil
	})
}
