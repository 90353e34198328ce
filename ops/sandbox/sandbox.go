package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Options configures a whole sandbox.
type Options struct {
	// Scale is the size of the seeded Postgres data: 0 tiny, 1 (default for
	// the demo) about 300,000 daily price rows.
	Scale int
	// Nodes and ExtraPods size the cluster (defaults: 6 nodes, no extra pods).
	Nodes, ExtraPods int
	// Namespace of the application (default "stockapp").
	Namespace string
	// Progress, when set, is told each step as it starts.
	Progress func(step string)
	// Load runs the demo's load generator (see StartLoad) once seeded.
	Load bool
	// Monitoring starts Prometheus (scraping the load generator) and
	// Alertmanager when their Debian packages are installed, and points the
	// config at them; when they are not, MonitoringErr says so.
	Monitoring bool
}

// Sandbox is a running set of throwaway servers, seeded, with an opsdeck
// config that points at them. Stop removes everything.
type Sandbox struct {
	// Dir holds the config, the state dir and the backup store.
	Dir        string
	ConfigPath string
	Config     *config.Config

	Postgres *PostgresServer
	Redis    *RedisServer
	Kube     *KubeServer

	PostgresSeed PostgresSeedStats
	KubeSeed     KubeSeedStats

	// Load and Monitoring run when Options asked for them.
	Load          *LoadGenerator
	Monitoring    *Monitoring
	MonitoringErr error

	stopDeployments func() // the Deployment controller's stand-in (deployments.go)
	stopFollow      func() // pauses the load while api is scaled to 0 (loadpause.go)
	stopAppLogs     func() // the application's log lines on the fake kubelet (applogs.go)

	stopOnce sync.Once
	stopErr  error
}

// Start starts PostgreSQL, Redis and the Kubernetes API server concurrently,
// seeds them, and writes the config. On any failure, or when ctx ends, it
// stops what it started and removes its files before returning the error.
func Start(ctx context.Context, opts Options) (sb *Sandbox, err error) {
	if opts.Namespace == "" {
		opts.Namespace = "stockapp"
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	// What a killed sandbox left goes first (the servers' own starts would
	// do it too, but this is where it can be told).
	if msg := CleanLeftovers(); msg != "" {
		progress(msg)
	}
	dir, err := mkTempDir("", "opsdeck-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: make temp dir: %w", err)
	}
	s := &Sandbox{Dir: dir}
	sb = s
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()

	progress("starting PostgreSQL, Redis and the Kubernetes API server")
	var wg sync.WaitGroup
	var pgErr, redisErr, kubeErr error
	wg.Go(func() { sb.Postgres, pgErr = StartPostgres(ctx, PostgresOptions{}) })
	wg.Go(func() { sb.Redis, redisErr = StartRedis(ctx, RedisOptions{}) })
	wg.Go(func() { sb.Kube, kubeErr = StartKube(ctx, KubeOptions{Namespace: opts.Namespace}) })
	wg.Wait()
	if err := errors.Join(pgErr, redisErr, kubeErr); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}

	progress("seeding the stock-analysis data")
	var seedPG, seedRedis, seedKube error
	wg.Go(func() { sb.PostgresSeed, seedPG = SeedPostgres(ctx, sb.Postgres.DSN(), opts.Scale) })
	wg.Go(func() { seedRedis = sb.seedRedis(ctx, opts.Scale) })
	wg.Go(func() {
		sb.KubeSeed, seedKube = SeedKube(ctx, sb.Kube.Config(), KubeSeedOptions{
			Namespace: opts.Namespace, Nodes: opts.Nodes, ExtraPods: opts.ExtraPods,
			KubeletPort: sb.Kube.Kubelet().Port(),
		})
	})
	wg.Wait()
	if err := errors.Join(seedPG, seedRedis, seedKube); err != nil {
		return nil, fmt.Errorf("sandbox: seed: %w", err)
	}
	if err := sb.playDeployments(ctx, opts.Namespace); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if sb.stopAppLogs, err = ServeAppLogs(context.WithoutCancel(ctx), sb.Kube.Config(), sb.Kube.Kubelet(), opts.Namespace); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}

	cfg := config.Default()
	if err := sb.startLoadAndMonitoring(ctx, opts, cfg, progress); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Postgres.DSN = sb.Postgres.DSN()
	cfg.Redis.URL = sb.Redis.URL()
	cfg.Kubernetes.Kubeconfig = sb.Kube.KubeconfigPath()
	cfg.Kubernetes.Namespaces = []string{opts.Namespace}
	cfg.Restore.Writers = []string{"api", "worker", "scheduler"} // the seeded Deployments that write to the database
	cfg.Backup.Dir = filepath.Join(dir, "backups")
	// A point-in-time restore runs its private PostgreSQL as the postgres
	// user (opsdeck runs as root here): it must reach the work directory
	// through the sandbox's, which others may cross but not list.
	cfg.Restore.WorkDir = filepath.Join(dir, "restore-work")
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sb.ConfigPath = filepath.Join(dir, "opsdeck.yaml")
	if err := cfg.Write(sb.ConfigPath); err != nil {
		return nil, fmt.Errorf("sandbox: write config: %w", err)
	}
	cfg.Path = sb.ConfigPath
	sb.Config = cfg
	return sb, nil
}

func (sb *Sandbox) seedRedis(ctx context.Context, scale int) error {
	opt, err := goredis.ParseURL(sb.Redis.URL())
	if err != nil {
		return fmt.Errorf("redis url: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 3*time.Second, 10*time.Second, 10*time.Second
	c := goredis.NewClient(opt)
	defer c.Close()
	_, err = SeedRedis(ctx, c, scale)
	return err
}

// Stop stops every server and removes the sandbox's files. It is safe to
// call more than once and on a partly started sandbox.
func (sb *Sandbox) Stop() error {
	sb.stopOnce.Do(func() {
		var errs []error
		errs = append(errs, sb.stopLoadAndMonitoring())
		if sb.stopDeployments != nil {
			sb.stopDeployments()
		}
		if sb.stopAppLogs != nil {
			sb.stopAppLogs()
		}
		if sb.Kube != nil {
			errs = append(errs, sb.Kube.Stop())
		}
		if sb.Redis != nil {
			errs = append(errs, sb.Redis.Stop())
		}
		if sb.Postgres != nil {
			errs = append(errs, sb.Postgres.Stop())
		}
		if sb.Dir != "" {
			errs = append(errs, removeDir(sb.Dir))
		}
		sb.stopErr = errors.Join(errs...)
	})
	return sb.stopErr
}
