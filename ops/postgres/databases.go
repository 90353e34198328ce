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
