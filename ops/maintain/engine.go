package maintain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// Engine runs maintenance for one configuration. It connects lazily and
// keeps its connections until Close; the CLI uses one per command, the
// cockpit one per session. It is safe for concurrent use.
type Engine struct {
	Config *config.Config
	// Audit records every action (nil: actions are refused, since they
	// could not be audited).
	Audit *audit.Log
	// Version is opsdeck's version, for the backup engine.
	Version string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Kube builds the Kubernetes client (default: from the config).
	Kube func() (*kube.Client, error)
	// Backup builds the backup engine (default: backup.New), for cleanup,
	// capacity and the backup checks.
	Backup func() (*backup.Engine, error)

	auditErr error
	// log is the audit log as opened, usable or not: the backup engine
	// built for cleanup gets it and refuses with the same reason.
	log *audit.Log

	mu  sync.Mutex
	pg  *pgxpool.Pool
	rc  *goredis.Client
	kc  *kube.Client
	bk  *backup.Engine
	ran map[Mode]LastRun
}

// New returns an Engine for cfg recording into log, the process's audit
// log (config.OpenAudit). A log that cannot be written still allows
// reading: every action is then refused.
func New(cfg *config.Config, version string, log *audit.Log) *Engine {
	e := &Engine{Config: cfg, Version: version, log: log}
	if e.auditErr = log.Err(); e.auditErr == nil {
		e.Audit = log
	}
	return e
}

// Close closes the connections; the audit log is its opener's to close.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pg != nil {
		e.pg.Close()
		e.pg = nil
	}
	var errs []error
	if e.rc != nil {
		errs = append(errs, e.rc.Close())
		e.rc = nil
	}
	e.bk = nil
	return errors.Join(errs...)
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// errNotConfigured marks a target the configuration does not name.
var errNotConfigured = errors.New("not configured")

// pool returns the Postgres pool, connecting on first use. Within a run,
// a server that could not be reached is not tried again.
func (e *Engine) pool(ctx context.Context) (*pgxpool.Pool, error) {
	if err := knownDown(ctx, "postgres"); err != nil {
		return nil, err
	}
	p, err := e.connectPool(ctx)
	markDown(ctx, "postgres", err)
	return p, err
}

func (e *Engine) connectPool(ctx context.Context) (*pgxpool.Pool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pg != nil {
		return e.pg, nil
	}
	if !e.Config.Postgres.Configured() {
		return nil, fmt.Errorf("postgres: %w — set postgres.dsn (or DATABASE_URL)", errNotConfigured)
	}
	p, err := postgres.Connect(ctx, e.Config.Postgres.DSN, e.Config.Timeouts.Connect)
	if err != nil {
		return nil, err
	}
	e.pg = p
	return p, nil
}

// redisUp returns the Redis client once it has answered a PING in this
// run; a server that did not is not tried again within the run.
func (e *Engine) redisUp(ctx context.Context) (*goredis.Client, error) {
	if err := knownDown(ctx, "redis"); err != nil {
		return nil, err
	}
	c, err := e.redis()
	if err != nil {
		return nil, err
	}
	if markUp(ctx, "redis") {
		return c, nil
	}
	pctx, cancel := context.WithTimeout(ctx, e.Config.Timeouts.Check)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		err = redis.Wrap(c, err)
		markDown(ctx, "redis", err)
		return nil, err
	}
	return c, nil
}

// redis returns the Redis client, built on first use (it connects lazily).
func (e *Engine) redis() (*goredis.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rc != nil {
		return e.rc, nil
	}
	if e.Config.Redis.URL == "" {
		return nil, fmt.Errorf("redis: %w — set redis.url (or REDIS_URL)", errNotConfigured)
	}
	c, err := redis.NewClient(e.Config.Redis.URL, e.Config.Timeouts.Connect)
	if err != nil {
		return nil, err
	}
	// Keyspace batches and MEMORY USAGE of big keys take longer than a ping.
	c.Options().ReadTimeout = max(c.Options().ReadTimeout, 30*time.Second)
	e.rc = c
	return c, nil
}

// kube returns the Kubernetes client.
func (e *Engine) kube() (*kube.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kc != nil {
		return e.kc, nil
	}
	var c *kube.Client
	var err error
	if e.Kube != nil {
		c, err = e.Kube()
	} else {
		c, err = kube.NewClient(e.Config.Kubernetes, e.Config.Timeouts.Check)
	}
	if err != nil {
		return nil, err
	}
	e.kc = c
	return c, nil
}

// backupEngine returns the backup engine. It is only built when the local
// store exists (building it creates the directory, and a read-only check
// must not create anything); ok is false otherwise.
func (e *Engine) backupEngine() (eng *backup.Engine, ok bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bk != nil {
		return e.bk, true, nil
	}
	if e.Config.Backup.S3.Bucket == "" {
		if _, err := os.Stat(e.Config.Backup.Dir); errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
	}
	if e.Backup != nil {
		eng, err = e.Backup()
	} else {
		eng, err = backup.New(e.Config, e.Version, e.log)
	}
	if err != nil {
		return nil, false, err
	}
	e.bk = eng
	return eng, true, nil
}

// statementTimeout bounds expensive reads.
func (e *Engine) statementTimeout() time.Duration {
	if d := e.Config.Maintenance.StatementTimeout; d > 0 {
		return d
	}
	return 30 * time.Second
}

// stateDir is where the history, checkpoints and last runs live.
func (e *Engine) stateDir() string { return filepath.Join(e.Config.StateDir, "maintain") }

// logErr logs a failure that does not stop the run.
func logErr(msg string, err error) {
	if err != nil {
		slog.Warn(msg, logging.Err(err))
	}
}
