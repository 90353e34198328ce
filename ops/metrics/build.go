package metrics

import (
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Setup is an Engine built from a config, with the connections its
// samplers share.
type Setup struct {
	Engine *Engine
	// Absent names the sources left out because the config has no address
	// for them, with the setting that would add them.
	Absent []string

	closers []func()
}

// Close stops the engine and closes the connections.
func (s *Setup) Close() {
	s.Engine.Stop()
	for _, c := range s.closers {
		c()
	}
}

// Build makes the samplers the config asks for: Postgres (counters every
// metrics.interval, size and business queries every metrics.slow_interval)
// when postgres.dsn is set, Redis when redis.url is set, Prometheus panels
// when prometheus.url is set and there are panels, and Kubernetes from kube
// when it is not nil. Each sample is bounded by timeouts.check.
func Build(cfg *config.Config, kube *KubeSource) (*Setup, error) {
	m, th := cfg.Metrics, cfg.Thresholds
	s := &Setup{}
	var samplers []Sampler
	if cfg.Postgres.Configured() {
		conn := NewPostgresConn(cfg.Postgres.DSN, cfg.Timeouts.Connect)
		s.closers = append(s.closers, conn.Close)
		samplers = append(samplers, NewPostgresSampler(conn, m.Interval, th), NewPostgresSizeSampler(conn, m.SlowInterval, th))
		if len(m.Business) > 0 {
			samplers = append(samplers, NewBusinessSampler(conn, m.SlowInterval, m.Business, th))
		}
	} else {
		s.Absent = append(s.Absent, "postgres and business: set postgres.dsn (or DATABASE_URL)")
	}
	if cfg.Redis.URL != "" {
		r := NewRedisSampler(cfg.Redis.URL, cfg.Timeouts.Connect, m.Interval, th)
		s.closers = append(s.closers, r.Close)
		samplers = append(samplers, r)
	} else {
		s.Absent = append(s.Absent, "redis: set redis.url (or REDIS_URL)")
	}
	if kube != nil {
		samplers = append(samplers, NewKubeSampler(*kube, m.Interval, th))
	}
	switch {
	case cfg.Prometheus.URL == "":
		s.Absent = append(s.Absent, "prometheus: set prometheus.url")
	case len(m.Prometheus) == 0:
		s.Absent = append(s.Absent, "prometheus: metrics.prometheus lists no panel")
	default:
		p, err := NewPrometheusSampler(cfg.Prometheus.URL, cfg.Timeouts.Connect, m.Interval, m.Prometheus, th)
		if err != nil {
			for _, c := range s.closers {
				c()
			}
			return nil, fmt.Errorf("metrics: %w", err)
		}
		samplers = append(samplers, p)
	}
	timeout := cfg.Timeouts.Check
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	s.Engine = NewEngine(Options{Window: m.Window, Timeout: timeout}, samplers...)
	return s, nil
}
