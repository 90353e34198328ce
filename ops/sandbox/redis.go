package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisOptions tune StartRedis. The zero value is ready to use.
type RedisOptions struct {
	// Password, when set, is required of clients (requirepass).
	Password string
	// Path is the redis-server binary (default: RedisServerPath()).
	Path string
	// BaseDir is where the temporary directory is made (default: os.TempDir()).
	BaseDir string
	// Port to listen on (default: a free port).
	Port int
	// MaxMemory is the maxmemory setting (default "256mb"; policy allkeys-lru).
	MaxMemory string
	// StartTimeout bounds startup (default 20s).
	StartTimeout time.Duration
	// RDB, when set, is an RDB file copied into the server's directory
	// before it starts: the server loads it (and again on Restart).
	RDB string
	// Config holds more redis.conf lines, after the sandbox's own (a
	// later line wins), e.g. "enable-debug-command yes" for DEBUG DIGEST.
	Config []string
}

// RedisServer is a throwaway redis-server on 127.0.0.1 without persistence.
type RedisServer struct {
	Port     int
	Password string
	// Dir is the temporary directory: redis.conf and redis.log.
	Dir string

	path string
	opts RedisOptions

	server
}

// StartRedis starts redis-server on a loopback port with a config file in a
// new temporary directory (no RDB snapshots, no AOF, maxmemory with
// allkeys-lru so that used memory has a limit to be compared with) and
// waits until it answers PING. A failed start removes everything it made.
func StartRedis(ctx context.Context, opts RedisOptions) (srv *RedisServer, err error) {
	path := opts.Path
	if path == "" {
		if path, err = RedisServerPath(); err != nil {
			return nil, err
		}
	}
	if opts.MaxMemory == "" {
		opts.MaxMemory = "256mb"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 20 * time.Second
	}
	if opts.Port == 0 {
		if opts.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	dir, err := mkTempDir(opts.BaseDir, "opsdeck-redis-")
	if err != nil {
		return nil, fmt.Errorf("create Redis temp dir: %w", err)
	}
	s := &RedisServer{server: server{name: "Redis"}, Port: opts.Port, Password: opts.Password, Dir: dir, path: path, opts: opts}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	if opts.RDB != "" {
		if err := copyFile(opts.RDB, filepath.Join(dir, "dump.rdb")); err != nil {
			return nil, fmt.Errorf("start Redis: %w", err)
		}
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// writeConfig writes redis.conf (0600: it may hold the password, which is
// why it is not passed on the command line).
func (s *RedisServer) writeConfig() error {
	lines := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(s.Port),
		"daemonize no",
		"dir " + s.Dir,
		`save ""`,
		"appendonly no",
		"maxmemory " + s.opts.MaxMemory,
		"maxmemory-policy allkeys-lru",
		`logfile ""`,
		"loglevel warning",
		"databases 16",
		"dbfilename dump.rdb",
	}
	if s.Password != "" {
		if strings.ContainsAny(s.Password, " \t\r\n\"'") {
			return errors.New("start Redis: the password must not contain spaces or quotes")
		}
		lines = append(lines, "requirepass "+s.Password)
	}
	for _, l := range s.opts.Config {
		if strings.ContainsAny(l, "\r\n") {
			return errors.New("start Redis: a config line must not contain a line break")
		}
		lines = append(lines, l)
	}
	conf := filepath.Join(s.Dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write redis.conf: %w", err)
	}
	return nil
}

func (s *RedisServer) start(ctx context.Context) error {
	proc, err := StartProcess(ProcessSpec{
		Name: "redis",
		Path: s.path,
		Args: []string{filepath.Join(s.Dir, "redis.conf")},
		Dir:  s.Dir,
		Env:  childEnv("REDIS"),
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	client := goredis.NewClient(&goredis.Options{
		Addr:          s.Addr(),
		Password:      s.Password,
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    -1,
		DialerRetries: 1,
		PoolSize:      1,
	})
	defer client.Close()
	return proc.WaitReady(ctx, s.opts.StartTimeout, func(ctx context.Context) error {
		// Dial first: go-redis logs every failed dial to stderr.
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", s.Addr())
		if err != nil {
			return err
		}
		conn.Close()
		return client.Ping(ctx).Err()
	})
}

// copyFile copies the file src to dst (0600).
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o600)
}

// Addr is "127.0.0.1:port".
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the redis:// URL of database 0, with the password if there is
// one: never log it.
func (s *RedisServer) URL() string { return s.URLForDB(0) }

// URLForDB is the redis:// URL of database db.
func (s *RedisServer) URLForDB(db int) string {
	u := url.URL{Scheme: "redis", Host: s.Addr(), Path: "/" + strconv.Itoa(db)}
	if s.Password != "" {
		u.User = url.UserPassword("", s.Password)
	}
	return u.String()
}

// LogPath is the server log.
func (s *RedisServer) LogPath() string { return filepath.Join(s.Dir, "redis.log") }

// Restart starts the server again on the same port (empty: nothing is
// persisted), stopping it first if it runs.
func (s *RedisServer) Restart(ctx context.Context) error {
	return s.restart(ctx, s.start)
}

// Stop shuts the server down (SIGTERM, SIGKILL after 5s) and removes its
// temporary directory. It is safe to call more than once.
func (s *RedisServer) Stop() error {
	return s.stop(s.Dir)
}
