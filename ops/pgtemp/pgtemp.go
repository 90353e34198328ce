// Package pgtemp runs temporary PostgreSQL instances on loopback: a new
// cluster (initdb) or an existing data directory such as a restored base
// backup, optionally in archive recovery or as a standby.
//
// An instance listens on 127.0.0.1 and a free port, keeps its socket, log
// and files in a work directory (0700), and runs as the postgres user when
// opsdeck runs as root (initdb and postgres refuse root). The server gets a
// parent-death signal (ops/proc): should opsdeck die, even by kill -9, the
// kernel sends it SIGQUIT, PostgreSQL's immediate shutdown, which ends the
// backends and releases shared memory. Its files stay then: Hooks let a
// caller journal the work directory and the server's pid so that the next
// run can remove them.
package pgtemp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/proc"
)

// Options tune Start. The zero value starts a new cluster of the highest
// installed major version in a new directory under os.TempDir().
type Options struct {
	// BinDir holds initdb and postgres (default: DefaultBinDir(Major)).
	BinDir string
	// Major is the PostgreSQL major version whose binaries to use when
	// BinDir is empty (default: the data directory's PG_VERSION, for a new
	// cluster the highest installed). A BinDir or Major that does not match
	// an existing data directory is refused.
	Major int

	// BaseDir is where the work directory is made (default os.TempDir()).
	// When running as root the service user must be able to traverse it.
	BaseDir string
	// Dir is an existing, empty or prepared, work directory to use instead
	// of making one; Remove deletes it all the same. A failed Start leaves
	// it (and removes only what it made).
	Dir string
	// DataDir is an existing data directory to run (a restored base
	// backup, a standby's copy); empty: initdb a new cluster in Dir/data.
	// When running as root it is given to the service user. Remove deletes
	// it only when it is inside the work directory.
	DataDir string

	// Port to listen on (default: a free port).
	Port int
	// Superuser is the role Start's checks and Connect use (default
	// "postgres"); a new cluster's bootstrap superuser.
	Superuser string
	// Password is the superuser's password for a new cluster (default:
	// generated), or the one to give DSN for an existing one.
	Password string
	// WALSegmentMB is a new cluster's WAL segment size in MiB (initdb
	// --wal-segsize; a power of two from 1 to 1024; default 16).
	WALSegmentMB int

	// Settings are extra server settings, passed as -c name=value; they
	// win over the defaults Start passes. Values with secrets belong in
	// Recovery (a file), not here (the command line is public).
	Settings map[string]string
	// Recovery, for an existing data directory, writes recovery.signal (or
	// standby.signal) and the recovery settings.
	Recovery *Recovery

	// User is the account the server runs as when opsdeck runs as root
	// (default "postgres"). Running as another user, the server runs as
	// that user.
	User string
	// StartTimeout bounds initdb plus startup (default 60s). For an archive
	// recovery, startup ends when the server runs: WaitRecovery waits for
	// the recovery.
	StartTimeout time.Duration

	// Hooks are told what the instance leaves on the machine.
	Hooks Hooks
}

// Hooks is the seam for a journal: the server dies with opsdeck (its
// parent-death signal), but its work directory stays after a kill -9, and
// a journal of these events lets the next run remove it. Each hook may be
// nil.
type Hooks struct {
	// Dir is called with the work directory Start made, before anything
	// is written into it; an error fails the start (the directory is
	// removed). Not called for Options.Dir.
	Dir func(dir string) error
	// Started is called with the server's pid each time it starts (Start,
	// Restart) and Exited once that process has exited.
	Started func(pid int)
	Exited  func(pid int)
	// Removed is called once Remove has deleted the work directory.
	Removed func(dir string)
}

// Instance is a temporary PostgreSQL server.
type Instance struct {
	// Dir is the work directory: the socket, postgres.log, the
	// configuration files of an existing data directory, and data/ for a
	// new cluster.
	Dir     string
	DataDir string
	BinDir  string
	Port    int
	// Superuser and Password are what DSN and Connect use.
	Superuser string
	Password  string
	// Account is the user the server runs as.
	Account proc.Account

	existing bool
	settings map[string]string
	hooks    Hooks
	timeout  time.Duration

	mu      sync.Mutex
	srv     *proc.Server
	removed bool
}

// Start starts a temporary PostgreSQL instance (see Options) and waits
// until it accepts connections, or, in archive recovery, until it runs. A
// failed start stops the server and removes what it made, and its error
// holds the end of the server's log.
func Start(ctx context.Context, opts Options) (inst *Instance, err error) {
	if opts.Superuser == "" {
		opts.Superuser = "postgres"
	}
	if opts.User == "" {
		opts.User = "postgres"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	existing := opts.DataDir != ""
	if !existing && opts.Recovery != nil {
		return nil, errors.New("pgtemp: recovery needs an existing data directory (Options.DataDir)")
	}
	if existing && opts.WALSegmentMB != 0 {
		return nil, errors.New("pgtemp: the WAL segment size is chosen by initdb: not for an existing data directory")
	}
	if err := opts.Recovery.validate(); err != nil {
		return nil, err
	}
	if opts.BinDir, err = resolveBinDir(opts); err != nil {
		return nil, err
	}
	need := []string{"postgres"}
	if !existing {
		need = append(need, "initdb")
	}
	if err := checkBinaries(opts.BinDir, opts.Major, need...); err != nil {
		return nil, err
	}
	acct, err := proc.ServiceAccount(opts.User)
	if err != nil {
		return nil, err
	}
	if opts.Port == 0 {
		if opts.Port, err = freePort(); err != nil {
			return nil, err
		}
	}

	ownDir := opts.Dir == ""
	dir := opts.Dir
	if ownDir {
		base := opts.BaseDir
		if base == "" {
			base = os.TempDir()
		}
		if err := acct.CheckReachable(base); err != nil {
			return nil, err
		}
		if dir, err = os.MkdirTemp(base, "opsdeck-pg-"); err != nil {
			return nil, fmt.Errorf("create the PostgreSQL work directory: %w", err)
		}
		if abs, absErr := filepath.Abs(dir); absErr == nil {
			dir = abs
		}
		if opts.Hooks.Dir != nil {
			if err := opts.Hooks.Dir(dir); err != nil {
				_ = os.RemoveAll(dir)
				return nil, err
			}
		}
	} else {
		if dir, err = filepath.Abs(dir); err != nil {
			return nil, err
		}
		if err := acct.CheckReachable(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	i := &Instance{
		Dir:       dir,
		DataDir:   filepath.Join(dir, "data"),
		BinDir:    opts.BinDir,
		Port:      opts.Port,
		Superuser: opts.Superuser,
		Password:  opts.Password,
		Account:   acct,
		existing:  existing,
		hooks:     opts.Hooks,
		timeout:   opts.StartTimeout,
	}
	if existing {
		if i.DataDir, err = filepath.Abs(opts.DataDir); err != nil {
			return nil, err
		}
	} else if i.Password == "" {
		i.Password = NewPassword()
	}
	defer func() {
		if err == nil {
			return
		}
		_ = i.Stop()
		if ownDir {
			_ = i.Remove()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("protect %s: %w", dir, err)
	}
	if err := acct.Chown(dir); err != nil {
		return nil, fmt.Errorf("give %s to the %s user: %w", dir, acct.Name, err)
	}
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": dir,
		"logging_collector":       "off",
		"archive_mode":            "off",
	}
	if existing {
		extra, err := i.prepareDataDir(ctx, opts.Recovery)
		if err != nil {
			return nil, err
		}
		maps.Copy(settings, extra)
	} else if err := i.initdb(ctx, opts.WALSegmentMB); err != nil {
		return nil, err
	}
	maps.Copy(settings, opts.Settings)
	i.settings = settings
	if err := i.start(ctx); err != nil {
		return nil, err
	}
	return i, nil
}

// resolveBinDir picks the binaries: Options.BinDir, else Major's, else the
// data directory's version, else the highest installed; and refuses
// binaries of another major version than an existing data directory's.
func resolveBinDir(opts Options) (string, error) {
	want := opts.Major
	if opts.DataDir != "" {
		major, err := dataMajor(opts.DataDir)
		if err != nil {
			return "", err
		}
		if want != 0 && want != major {
			return "", fmt.Errorf("the data directory %s is PostgreSQL %d's, not %d's", opts.DataDir, major, want)
		}
		want = major
	}
	if opts.BinDir == "" {
		return BinDir(want)
	}
	if want != 0 {
		if err := checkBinaries(opts.BinDir, want, "postgres"); err != nil {
			return "", err
		}
		got, err := binMajor(opts.BinDir)
		if err != nil {
			return "", err
		}
		if got != want {
			return "", fmt.Errorf("%s holds PostgreSQL %d, but PostgreSQL %d is needed "+
				"(install the postgresql-%d package and use %s): %w",
				opts.BinDir, got, want, want, DefaultBinDir(want), ErrNotInstalled)
		}
	}
	return opts.BinDir, nil
}

// initdb creates a new cluster with the superuser's password.
func (i *Instance) initdb(ctx context.Context, walSegMB int) error {
	pwfile := filepath.Join(i.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(i.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb's password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := i.Account.Chown(pwfile); err != nil {
		return fmt.Errorf("give initdb's password file to the %s user: %w", i.Account.Name, err)
	}
	args := []string{
		"--pgdata=" + i.DataDir,
		"--username=" + i.Superuser,
		"--pwfile=" + pwfile,
		"--auth=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
		"--no-instructions",
	}
	if walSegMB != 0 {
		args = append(args, "--wal-segsize="+strconv.Itoa(walSegMB))
	}
	return i.runTool(ctx, "initdb", args...)
}

// runTool runs one of the binaries as the instance's account, its output
// in <name>.log in the work directory; a failure quotes that log's end.
func (i *Instance) runTool(ctx context.Context, name string, args ...string) error {
	logPath := filepath.Join(i.Dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create %s's log: %w", name, err)
	}
	defer logFile.Close()
	cmd := i.Command(ctx, name, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := proc.Run(cmd); err != nil {
		return fmt.Errorf("%s failed (%w); its log ends:\n%s", name, err, proc.TailFile(logPath, 15))
	}
	return nil
}

// start runs postgres and waits until it is ready (see ready).
func (i *Instance) start(ctx context.Context) error {
	args := []string{"-D", i.DataDir, "-p", strconv.Itoa(i.Port)}
	for _, k := range slices.Sorted(maps.Keys(i.settings)) {
		args = append(args, "-c", k+"="+i.settings[k])
	}
	srv, err := proc.StartServer(proc.ServerSpec{
		Name:       "postgres",
		Path:       filepath.Join(i.BinDir, "postgres"),
		Args:       args,
		Dir:        i.Dir,
		Env:        proc.Env("PG"),
		Credential: i.Account.Cred,
		StopSignal: syscall.SIGINT, // fast shutdown: disconnect clients, checkpoint, exit
		// Should opsdeck die first: immediate shutdown, which ends the
		// backends at once and removes the shared memory segment and lock
		// files (SIGKILL would leave the System V segment behind, and
		// backends until they notice).
		DeathSignal: syscall.SIGQUIT,
		OnStart:     i.hooks.Started,
		OnExit:      i.hooks.Exited,
	})
	if err != nil {
		return err
	}
	i.mu.Lock()
	i.srv = srv
	i.mu.Unlock()
	archive := i.inArchiveRecovery()
	return srv.WaitReady(ctx, time.Until(deadlineOr(ctx, i.timeout)), func(context.Context) error {
		status, err := i.status(srv.PID)
		switch {
		case err != nil:
			return err
		case status == statusReady || status == statusStandby:
			return nil
		case archive && status == statusStarting:
			return nil // running: WaitRecovery waits for the rest
		}
		return fmt.Errorf("server is %s", status)
	})
}

// The postmaster's states in postmaster.pid's eighth line.
const (
	statusStarting = "starting"
	statusStopping = "stopping"
	statusReady    = "ready"
	statusStandby  = "standby"
)

// status reads the server's state from postmaster.pid, written by the
// postmaster with pid (an earlier server's file says nothing).
func (i *Instance) status(pid int) (string, error) {
	data, err := os.ReadFile(filepath.Join(i.DataDir, "postmaster.pid"))
	if err != nil {
		return "", fmt.Errorf("no postmaster.pid yet: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[0]) != strconv.Itoa(pid) {
		return "", errors.New("postmaster.pid not written yet")
	}
	return strings.TrimSpace(lines[7]), nil
}

// inArchiveRecovery reports whether the data directory asks for archive
// recovery that is not a standby's (recovery.signal alone): such a server
// accepts no connections until it is done.
func (i *Instance) inArchiveRecovery() bool {
	_, recErr := os.Stat(filepath.Join(i.DataDir, "recovery.signal"))
	_, sbErr := os.Stat(filepath.Join(i.DataDir, "standby.signal"))
	return recErr == nil && sbErr != nil
}

// DSN is the superuser's URL for database over TCP, with the password:
// never log it.
func (i *Instance) DSN(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(i.Superuser, i.Password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(i.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	if i.Password == "" {
		u.User = url.User(i.Superuser)
	}
	return u.String()
}

// ConnConfig is the superuser's connection to database through the
// instance's socket (in the work directory, which only the server's user
// and root can reach: an existing data directory's instance trusts it).
func (i *Instance) ConnConfig(database string) (*pgx.ConnConfig, error) {
	kv := []string{
		"host=" + quoteConnValue(i.Dir),
		"port=" + strconv.Itoa(i.Port),
		"user=" + quoteConnValue(i.Superuser),
		"dbname=" + quoteConnValue(database),
		"sslmode=disable",
		"connect_timeout=10",
	}
	if i.Password != "" {
		kv = append(kv, "password="+quoteConnValue(i.Password))
	}
	return pgx.ParseConfig(strings.Join(kv, " "))
}

// Connect opens the superuser's connection to database (see ConnConfig).
func (i *Instance) Connect(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := i.ConnConfig(database)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

func quoteConnValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// LogPath is the server's log.
func (i *Instance) LogPath() string { return filepath.Join(i.Dir, "postgres.log") }

// LogTail returns the last n lines of the server's log, indented.
func (i *Instance) LogTail(n int) string { return proc.TailFile(i.LogPath(), n) }

// PID is the postmaster's process id, 0 when it does not run.
func (i *Instance) PID() int {
	srv := i.server()
	if srv == nil || srv.Exited() {
		return 0
	}
	return srv.PID
}

// Done is closed when the server that runs now (or ran last) has exited.
func (i *Instance) Done() <-chan struct{} {
	if srv := i.server(); srv != nil {
		return srv.Done()
	}
	closed := make(chan struct{})
	close(closed)
	return closed
}

func (i *Instance) server() *proc.Server {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.srv
}

// Stop shuts the server down (fast shutdown; SIGKILL to all its processes
// after 5s) and keeps its files. It is safe to call more than once.
func (i *Instance) Stop() error {
	if srv := i.server(); srv != nil {
		return srv.Stop()
	}
	return nil
}

// Kill ends the server and all its processes with SIGKILL, like a crash,
// and keeps its files: Restart brings it back through crash recovery.
func (i *Instance) Kill() error {
	if srv := i.server(); srv != nil {
		return srv.Kill()
	}
	return nil
}

// Restart stops the server if it runs and starts it again on the same
// port and data directory, and waits as Start does.
func (i *Instance) Restart(ctx context.Context) error {
	i.mu.Lock()
	removed := i.removed
	i.mu.Unlock()
	if removed {
		return errors.New("restart PostgreSQL: the instance was removed — start a new one")
	}
	if err := i.Stop(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	return i.start(ctx)
}

// Remove stops the server and deletes the work directory (and the data
// directory, when it is inside). It is safe to call more than once.
func (i *Instance) Remove() error {
	var errs []error
	errs = append(errs, i.Stop())
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.removed {
		if err := os.RemoveAll(i.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", i.Dir, err))
		} else {
			i.removed = true
			if i.hooks.Removed != nil {
				i.hooks.Removed(i.Dir)
			}
		}
	}
	return errors.Join(errs...)
}

// NewPassword returns 24 random hex characters, safe in URLs, SQL and
// configuration files.
func NewPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// deadlineOr returns ctx's deadline, or now + d without one.
func deadlineOr(ctx context.Context, d time.Duration) time.Time {
	if t, ok := ctx.Deadline(); ok {
		return t
	}
	return time.Now().Add(d)
}
