package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

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
	// StartTimeout bounds initdb plus startup (default 60s).
	StartTimeout time.Duration
}

// PostgresServer is a throwaway PostgreSQL server on 127.0.0.1 with a
// superuser (PostgresSuperuser), an ordinary application role
// (PostgresAppUser) that may read and write the tables the superuser creates
// in public, and an empty database (PostgresDatabase).
type PostgresServer struct {
	Port int
	// Dir is the temporary directory: data/, the socket and postgres.log.
	Dir string
	// DataDir is the cluster's data directory, inside Dir.
	DataDir string
	BinDir  string
	// Password and AppPassword are generated for each server.
	Password    string
	AppPassword string

	user     serviceUser
	settings map[string]string

	server
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
	if opts.Port == 0 {
		if opts.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	su, err := lookupServiceUser("postgres")
	if err != nil {
		return nil, err
	}
	if err := checkReachable(opts.BaseDir, su); err != nil {
		return nil, err
	}
	dir, err := mkTempDir(opts.BaseDir, "opsdeck-pg-")
	if err != nil {
		return nil, fmt.Errorf("create PostgreSQL temp dir: %w", err)
	}
	s := &PostgresServer{
		server:      server{name: "PostgreSQL"},
		Port:        opts.Port,
		Dir:         dir,
		DataDir:     filepath.Join(dir, "data"),
		BinDir:      opts.BinDir,
		Password:    randomSecret(),
		AppPassword: randomSecret(),
		user:        su,
		settings:    opts.Settings,
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	if err := os.Chown(dir, su.uid, su.gid); err != nil {
		return nil, fmt.Errorf("give %s to the postgres user: %w", dir, err)
	}
	if err := s.initdb(ctx); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	if err := s.createDatabaseAndRoles(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// initdb creates the cluster with the superuser's password.
func (s *PostgresServer) initdb(ctx context.Context) error {
	pwfile := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := os.Chown(pwfile, s.user.uid, s.user.gid); err != nil {
		return fmt.Errorf("give the password file to the postgres user: %w", err)
	}
	logPath := filepath.Join(s.Dir, "initdb.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create initdb log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(s.BinDir, "initdb"),
		"--pgdata="+s.DataDir,
		"--username="+PostgresSuperuser,
		"--pwfile="+pwfile,
		"--auth=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
		"--no-instructions",
	)
	cmd.Dir = s.Dir
	cmd.Env = childEnv("PG")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.user.cred}
	if err := proc.Run(cmd); err != nil {
		return fmt.Errorf("initdb failed (%w); its log ends:\n%s", err, tailFile(logPath, 15))
	}
	return nil
}

// start runs postgres on the data directory and waits until it accepts the
// superuser.
func (s *PostgresServer) start(ctx context.Context) error {
	args := []string{
		"-D", s.DataDir,
		"-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + s.Dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_wal_size=2GB",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
	}
	for k, v := range s.settings {
		args = append(args, "-c", k+"="+v)
	}
	proc, err := StartProcess(ProcessSpec{
		Name:       "postgres",
		Path:       filepath.Join(s.BinDir, "postgres"),
		Args:       args,
		Dir:        s.Dir,
		Env:        childEnv("PG"),
		Credential: s.user.cred,
		StopSignal: syscall.SIGINT, // fast shutdown: disconnect clients, checkpoint, exit
		// Should we die first: immediate shutdown, which ends the backends
		// at once and removes the shared memory segment and lock files
		// (SIGKILL would leave the System V segment behind, and backends
		// until they notice).
		DeathSignal: syscall.SIGQUIT,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	dsn := s.dsn(PostgresSuperuser, s.Password, "postgres")
	return proc.WaitReady(ctx, time.Until(deadlineOr(ctx, time.Minute)), func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
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

// Restart starts the server again on the same port and data directory
// after Kill (or stops it first if it is running).
func (s *PostgresServer) Restart(ctx context.Context) error {
	return s.restart(ctx, s.start)
}

// Stop shuts the server down (fast shutdown, SIGKILL after 5s) and removes
// its temporary directory. It is safe to call more than once.
func (s *PostgresServer) Stop() error {
	return s.stop(s.Dir)
}

// randomSecret returns 24 random hex characters, safe in URLs and SQL.
func randomSecret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}

// deadlineOr returns ctx's deadline, or now + d without one.
func deadlineOr(ctx context.Context, d time.Duration) time.Time {
	if t, ok := ctx.Deadline(); ok {
		return t
	}
	return time.Now().Add(d)
}

// checkReachable fails when the service user could not reach into base
// (a directory on the way is closed to others), which initdb would report
// only as "permission denied".
func checkReachable(base string, su serviceUser) error {
	if su.cred == nil {
		return nil
	}
	if base == "" {
		base = os.TempDir()
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", base, err)
	}
	for dir := abs; ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("check %s: %w", dir, err)
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if ok && int(st.Uid) != su.uid && info.Mode().Perm()&0o001 == 0 &&
			(int(st.Gid) != su.gid || info.Mode().Perm()&0o010 == 0) {
			return fmt.Errorf("the postgres user cannot reach %s (%s is mode %o): "+
				"choose a base directory every user can traverse, such as /tmp", abs, dir, info.Mode().Perm())
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}
