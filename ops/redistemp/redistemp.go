// Package redistemp runs temporary redis-server instances on loopback,
// loaded from an RDB file, for restore drills: the server listens on
// 127.0.0.1 and a free port with a generated password, keeps its config,
// log and data in a new work directory (0700), persists nothing (no
// snapshots, no AOF), and allows DEBUG from loopback only
// (enable-debug-command local) so that DEBUG DIGEST can prove what it
// loaded.
//
// The server runs through ops/proc: it leads its own process group and
// gets a parent-death signal (SIGKILL), so it dies with opsdeck even on
// kill -9; its directory stays then, and Hooks let a caller journal the
// directory and pid so that the next run removes them.
//
// A master skips the keys whose TTL has passed when it loads an RDB;
// with KeepExpired the server starts as the replica of a stand-in master
// (a loopback listener of this process that hangs up on every
// connection), and a replica loads and keeps every key of the file, as
// the backup recorded it.
package redistemp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/proc"
)

// ErrNotInstalled is returned when no redis-server binary is found.
var ErrNotInstalled = errors.New("redis-server is not installed")

// Options tune Start. The zero value starts an empty server.
type Options struct {
	// Path is the redis-server binary (default: ServerPath("")).
	Path string
	// BaseDir is where the work directory is made (default os.TempDir()).
	BaseDir string
	// RDB, when set, is copied to the work directory's dump.rdb before the
	// server starts, which then loads it.
	RDB io.Reader
	// Databases is the number of databases (default 16): at least one
	// more than the highest database number in the RDB.
	Databases int
	// KeepExpired loads the keys whose TTL has passed too (see the
	// package doc).
	KeepExpired bool
	// StartTimeout bounds the start, loading the RDB included (default
	// 10m).
	StartTimeout time.Duration
	// Hooks are told what the instance leaves on the machine.
	Hooks Hooks
}

// Hooks is the seam for a journal. Each is optional; an error from Dir
// stops the start (and removes the directory).
type Hooks struct {
	// Dir is called once the work directory exists.
	Dir func(dir string) error
	// Started is called with the server's pid once it runs.
	Started func(pid int)
}

// Instance is a running temporary redis-server.
type Instance struct {
	Port     int
	Dir      string
	Password string

	srv   *proc.Server
	stand net.Listener
}

// ServerPath finds redis-server: path when set, else $OPSDECK_REDIS_SERVER,
// else PATH and /usr/bin.
func ServerPath(path string) (string, error) {
	if path == "" {
		path = os.Getenv("OPSDECK_REDIS_SERVER")
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%s: %w", path, ErrNotInstalled)
		}
		return path, nil
	}
	for _, name := range []string{"redis-server", "/usr/bin/redis-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("redis-server not found on PATH: install the redis-server package (%w)", ErrNotInstalled)
}

// Start makes the work directory, writes the RDB and the config, starts
// the server and waits until it has loaded the data and answers PING. A
// failed start removes everything it made.
func Start(ctx context.Context, opts Options) (inst *Instance, err error) {
	path, err := ServerPath(opts.Path)
	if err != nil {
		return nil, err
	}
	if opts.Databases <= 0 {
		opts.Databases = 16
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Minute
	}
	base := opts.BaseDir
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("temporary redis-server: %w", err)
	}
	dir, err := os.MkdirTemp(base, "opsdeck-redis-")
	if err != nil {
		return nil, fmt.Errorf("temporary redis-server: make its directory: %w", err)
	}
	inst = &Instance{Dir: dir}
	defer func() {
		if err != nil {
			_ = inst.Remove()
		}
	}()
	if opts.Hooks.Dir != nil {
		if err := opts.Hooks.Dir(dir); err != nil {
			return nil, err
		}
	}
	if opts.RDB != nil {
		if err := writeFile(filepath.Join(dir, "dump.rdb"), opts.RDB); err != nil {
			return nil, fmt.Errorf("temporary redis-server: write dump.rdb: %w", err)
		}
	}
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	inst.Password = hex.EncodeToString(pw)
	if inst.Port, err = freePort(); err != nil {
		return nil, err
	}
	lines := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(inst.Port),
		"daemonize no",
		"dir " + dir,
		"dbfilename dump.rdb",
		`save ""`,
		"appendonly no",
		"databases " + strconv.Itoa(opts.Databases),
		"requirepass " + inst.Password,
		"enable-debug-command local",
		"protected-mode yes",
		`logfile ""`,
		"loglevel notice",
	}
	if opts.KeepExpired {
		if inst.stand, err = standIn(); err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(inst.stand.Addr().String())
		lines = append(lines, "replicaof 127.0.0.1 "+port, "replica-serve-stale-data yes", "replica-read-only yes")
	}
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("temporary redis-server: write redis.conf: %w", err)
	}
	inst.srv, err = proc.StartServer(proc.ServerSpec{
		Name: "redis-server", Path: path, Args: []string{conf}, Dir: dir, LogName: "redis.log",
		OnStart: opts.Hooks.Started,
	})
	if err != nil {
		return nil, err
	}
	client := inst.Client(0)
	defer client.Close()
	if err := inst.srv.WaitReady(ctx, opts.StartTimeout, func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", inst.Addr())
		if err != nil {
			return err
		}
		conn.Close()
		return client.Ping(ctx).Err() // LOADING while it reads the RDB
	}); err != nil {
		return nil, fmt.Errorf("temporary redis-server did not start: %w\n%s", err, inst.srv.LogTail(10))
	}
	return inst, nil
}

// Addr is "127.0.0.1:port".
func (i *Instance) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(i.Port)) }

// URL is the redis:// URL of database db, with the password: never log it.
func (i *Instance) URL(db int) string {
	u := url.URL{Scheme: "redis", Host: i.Addr(), Path: "/" + strconv.Itoa(db), User: url.UserPassword("", i.Password)}
	return u.String()
}

// Client is a client of database db; the caller closes it.
func (i *Instance) Client(db int) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: i.Addr(), Password: i.Password, DB: db,
		DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute, MaxRetries: -1})
}

// PID is the server's process id (0 when not running).
func (i *Instance) PID() int {
	if i == nil || i.srv == nil {
		return 0
	}
	return i.srv.PID
}

// LogTail is the server log's last n lines.
func (i *Instance) LogTail(n int) string {
	return proc.TailFile(filepath.Join(i.Dir, "redis.log"), n)
}

// Remove kills the server (nothing in it needs to survive) and removes
// its directory. It is safe to call more than once.
func (i *Instance) Remove() error {
	if i == nil {
		return nil
	}
	var errs []error
	if i.srv != nil {
		if err := i.srv.Kill(); err != nil {
			errs = append(errs, err)
		}
		<-i.srv.Done()
		i.srv = nil
	}
	if i.stand != nil {
		i.stand.Close()
		i.stand = nil
	}
	if i.Dir != "" {
		if err := os.RemoveAll(i.Dir); err != nil {
			errs = append(errs, err)
		} else {
			i.Dir = ""
		}
	}
	return errors.Join(errs...)
}

// standIn is the stand-in master: it hangs up on every connection, so
// the replica keeps what it loaded and never syncs.
func standIn() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("temporary redis-server: listen for its stand-in master: %w", err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
