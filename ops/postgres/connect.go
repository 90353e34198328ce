package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ApplicationName is what opsdeck's sessions show in pg_stat_activity.
const ApplicationName = "opsdeck"

// MaxConns bounds the pool: opsdeck watches, it does not carry traffic.
const MaxConns = 4

// DefaultConnectTimeout applies when Connect is given no timeout.
const DefaultConnectTimeout = 3 * time.Second

// Connect opens a small pool (at most MaxConns connections, application_name
// "opsdeck" by default) to the server named by dsn and checks it with one
// round trip. pgx parses dsn with libpq's environment: an empty dsn is the
// PG* variables alone (PGSERVICE and its service file, PGPASSFILE, PGSSL*…),
// and the DSN's own parameters win over them. connectTimeout bounds
// establishing each connection, including this first one, unless the DSN
// or PGCONNECT_TIMEOUT sets one (Defaults). Failures are *Error values; see
// Classify.
func Connect(ctx context.Context, dsn string, connectTimeout time.Duration) (*pgxpool.Pool, error) {
	return ConnectDatabase(ctx, dsn, "", connectTimeout)
}

// ConnectDatabase is Connect to database on dsn's server, as dsn's role
// ("" is dsn's own database).
func ConnectDatabase(ctx context.Context, dsn, database string, connectTimeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// Deliberately not wrapping the parse error: it carries the DSN.
		return nil, &Error{Kind: KindConfig, msg: message(KindConfig, "", target{}, 0)}
	}
	if database != "" {
		cfg.ConnConfig.Database = database
	}
	cfg.MaxConns = MaxConns
	cfg.MinConns = 0
	connectTimeout = Defaults(&cfg.ConnConfig.Config, ApplicationName, connectTimeout)
	Trace(cfg.ConnConfig)

	t := targetOf(cfg.ConnConfig.Config)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrapErr(err, t, connectTimeout)
	}
	pingCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, wrapErr(err, t, connectTimeout)
	}
	return pool, nil
}

// Defaults completes cfg, as pgx parsed it (the DSN over libpq's
// environment), with opsdeck's application name app and connectTimeout
// where neither the DSN nor the environment set them: application_name
// (PGAPPNAME) and a positive connect_timeout (PGCONNECT_TIMEOUT) win, as
// libpq lets them. A timeout <= 0 is DefaultConnectTimeout. It returns
// the connect timeout in force.
func Defaults(cfg *pgconn.Config, app string, connectTimeout time.Duration) time.Duration {
	if connectTimeout <= 0 {
		connectTimeout = DefaultConnectTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = app
	}
	return cfg.ConnectTimeout
}

// Describe returns "user@host:port/database" for pool, without the
// password, for logs and status lines.
func Describe(pool *pgxpool.Pool) string {
	t := targetOf(pool.Config().ConnConfig.Config)
	return fmt.Sprintf("%s@%s/%s", t.user, t.addr, t.database)
}

// targetOf describes the primary server of cfg for error messages.
func targetOf(cfg pgconn.Config) target {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		addr = fmt.Sprintf("%s/.s.PGSQL.%d", strings.TrimRight(cfg.Host, "/"), cfg.Port)
	}
	return target{addr: addr, user: cfg.User, database: cfg.Database, password: cfg.Password}
}
