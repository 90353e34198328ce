package sandbox

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/proc"
)

// The names StartPostgres gives the sandbox's roles and database.
const (
	PostgresSuperuser = "opsdeck"
	PostgresAppUser   = "stockapp"
	PostgresDatabase  = "stockdb"
)

// PostgresOptions tune StartPostgres. The zero value is ready to use.
type PostgresOptions struct {
	// BinDir holds initdb and postgres (default: PostgresBinDir()).
	BinDir string
	// BaseDir is where the temporary directory is made (default: os.TempDir()).
	// When running as root it must be traversable by the postgres user.
	BaseDir string
	// Port to listen on (default: a free port).
	Port int
	// Settings are extra server settings, passed as -c name=value.
	Settings map[string]string
	// WALSegmentMB is the cluster's WAL segment size in MiB (initdb
	// --wal-segsize; default 16). Tests of the WAL archive use 1.
	WALSegmentMB int
	// StartTimeout bounds initdb plus startup (default 60s).
	StartTimeout time.Duration
}

// PostgresServer is a throwaway PostgreSQL server on 127.0.0.1 with a
// superuser (PostgresSuperuser), an ordinary application role
// (PostgresAppUser) that may read and write the tables the superuser creates
// in public, and an empty database (PostgresDatabase). It runs on an
// ops/pgtemp instance.
type PostgresServer struct {
	Port int
	// Dir is the temporary directory: data/, the socket and postgres.log.
	Dir string
	// DataDir is the cluster's data directory, inside Dir.
	DataDir string
	BinDir  string
	// Password and AppPassword are generated for each server (a standby
	// has its primary's).
	Password    string
	AppPassword string

	baseDir string
	inst    *pgtemp.Instance

	// A standby's primary and the slot it created there, which Stop drops.
	primary     *PostgresServer
	createdSlot string

	mu      sync.Mutex
	removed bool
}

// postgresSettings are the sandbox's server settings: quick and unsafe
// (nothing here must survive a crash of the machine), and room for
// physical replication: WAL streaming and standbys through slots, whose
// retained WAL is capped.
var postgresSettings = map[string]string{
	"fsync":                  "off",
	"synchronous_commit":     "off",
	"full_page_writes":       "off",
	"max_wal_size":           "2GB",
	"log_min_messages":       "warning",
	"wal_level":              "replica",
	"max_wal_senders":        "10",
	"max_replication_slots":  "10",
	"max_slot_wal_keep_size": "1GB",
	"wal_keep_size":          "0",
}

// StartPostgres creates a cluster in a new temporary directory (0700, owned
// by the postgres user when running as root, since initdb and postgres
// refuse root), with scram-sha-256 authentication and fsync off, starts it
// on a loopback port, and creates the database and the application role. A
// failed start removes everything it made.
func StartPostgres(ctx context.Context, opts PostgresOptions) (srv *PostgresServer, err error) {
	if opts.BinDir == "" {
		if opts.BinDir, err = PostgresBinDir(); err != nil {
			return nil, err
		}
	}
	for _, bin := range []string{"initdb", "postgres"} {
		if _, statErr := os.Stat(filepath.Join(opts.BinDir, bin)); statErr != nil {
			return nil, fmt.Errorf("no %s in %s: %w", bin, opts.BinDir, ErrNotInstalled)
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	dir, err := makePostgresDir(opts.BaseDir)
	if err != nil {
		return nil, err
	}
	s := &PostgresServer{Dir: dir, BinDir: opts.BinDir, baseDir: opts.BaseDir, AppPassword: pgtemp.NewPassword()}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	settings := maps.Clone(postgresSettings)
	maps.Copy(settings, opts.Settings)
	inst, err := pgtemp.Start(ctx, pgtemp.Options{
		BinDir:       opts.BinDir,
		Dir:          dir,
		Port:         opts.Port,
		Superuser:    PostgresSuperuser,
		WALSegmentMB: opts.WALSegmentMB,
		Settings:     settings,
		StartTimeout: opts.StartTimeout,
		Hooks:        postgresHooks(),
	})
	if err != nil {
		return nil, err
	}
	s.setInstance(inst)
	if err := s.createDatabaseAndRoles(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// makePostgresDir makes a server's temporary directory under base, after
// checking that the postgres user (when running as root) can reach it, and
// records it among this process's leftovers.
func makePostgresDir(base string) (string, error) {
	acct, err := proc.ServiceAccount("postgres")
	if err != nil {
		return "", err
	}
	reach := base
	if reach == "" {
		reach = os.TempDir()
	}
	if err := acct.CheckReachable(reach); err != nil {
		return "", err
	}
	dir, err := mkTempDir(base, "opsdeck-pg-")
	if err != nil {
		return "", fmt.Errorf("create PostgreSQL temp dir: %w", err)
	}
	return dir, nil
}

// postgresHooks keep the server in this process's leftover record.
func postgresHooks() pgtemp.Hooks {
	started, exited := trackHooks("postgres", nil, nil)
	return pgtemp.Hooks{Started: started, Exited: exited}
}

func (s *PostgresServer) setInstance(inst *pgtemp.Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inst = inst
	s.Port = inst.Port
	s.DataDir = inst.DataDir
	s.Password = inst.Password
}

func (s *PostgresServer) instance() *pgtemp.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inst
}

// createDatabaseAndRoles makes the database and the application role.
func (s *PostgresServer) createDatabaseAndRoles(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.dsn(PostgresSuperuser, s.Password, "postgres"))
	if err != nil {
		return fmt.Errorf("connect to the new PostgreSQL server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	stmts := []string{
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", PostgresDatabase, PostgresSuperuser),
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", PostgresAppUser, s.AppPassword),
	}
	for _, sql := range stmts {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("prepare the sandbox database: %w", err)
		}
	}
	db, err := pgx.Connect(ctx, s.DSN())
	if err != nil {
		return fmt.Errorf("connect to %s: %w", PostgresDatabase, err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	grants := fmt.Sprintf(`
GRANT CONNECT, TEMPORARY ON DATABASE %[1]s TO %[2]s;
GRANT USAGE ON SCHEMA public TO %[2]s;
ALTER DEFAULT PRIVILEGES FOR ROLE %[3]s IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %[2]s;
ALTER DEFAULT PRIVILEGES FOR ROLE %[3]s IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %[2]s;`,
		PostgresDatabase, PostgresAppUser, PostgresSuperuser)
	if _, err := db.Exec(ctx, grants); err != nil {
		return fmt.Errorf("grant the application role: %w", err)
	}
	return nil
}

// DSN is the superuser's URL for PostgresDatabase. It holds the password:
// never log it.
func (s *PostgresServer) DSN() string {
	return s.dsn(PostgresSuperuser, s.Password, PostgresDatabase)
}

// AppDSN is the application role's URL for PostgresDatabase.
func (s *PostgresServer) AppDSN() string {
	return s.dsn(PostgresAppUser, s.AppPassword, PostgresDatabase)
}

// DSNFor is the superuser's URL for another database on this server.
func (s *PostgresServer) DSNFor(database string) string {
	return s.dsn(PostgresSuperuser, s.Password, database)
}

func (s *PostgresServer) dsn(user, password, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// LogPath is the server log.
func (s *PostgresServer) LogPath() string { return filepath.Join(s.Dir, "postgres.log") }

// PID is the server's process id, 0 when not running.
func (s *PostgresServer) PID() int {
	if inst := s.instance(); inst != nil {
		return inst.PID()
	}
	return 0
}

// Kill stops the server with SIGKILL, like a crash, and keeps its files so
// that Restart can bring it back.
func (s *PostgresServer) Kill() error {
	if inst := s.instance(); inst != nil {
		return inst.Kill()
	}
	return nil
}

// Restart starts the server again on the same port and data directory
// after Kill (or stops it first if it is running).
func (s *PostgresServer) Restart(ctx context.Context) error {
	s.mu.Lock()
	inst, removed := s.inst, s.removed
	s.mu.Unlock()
	if removed || inst == nil {
		return errors.New("restart PostgreSQL: the server was stopped and its files removed — start a new one")
	}
	return inst.Restart(ctx)
}

// Stop shuts the server down (fast shutdown, SIGKILL after 5s) and removes
// its temporary directory; a standby's Stop also drops the slot it created
// on its primary. It is safe to call more than once.
func (s *PostgresServer) Stop() error {
	var errs []error
	if inst := s.instance(); inst != nil {
		errs = append(errs, inst.Stop())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.removed {
		if err := removeDir(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.Dir, err))
		} else {
			s.removed = true
		}
	}
	if s.createdSlot != "" && s.primary != nil {
		if err := s.primary.dropSlot(s.createdSlot); err != nil {
			errs = append(errs, err)
		} else {
			s.createdSlot = ""
		}
	}
	return errors.Join(errs...)
}
