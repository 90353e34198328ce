package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"k8s.io/client-go/kubernetes"
)

// PrometheusPath returns the prometheus binary (Debian's prometheus
// package): $OPSDECK_PROMETHEUS, else prometheus on PATH.
func PrometheusPath() (string, error) {
	return findBinary("OPSDECK_PROMETHEUS", "prometheus", "prometheus", "prometheus")
}

// AlertmanagerPath returns the Alertmanager binary (Debian's
// prometheus-alertmanager package): $OPSDECK_ALERTMANAGER, else
// prometheus-alertmanager or alertmanager on PATH.
func AlertmanagerPath() (string, error) {
	return findBinary("OPSDECK_ALERTMANAGER", "prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
}

func findBinary(env, pkg string, names ...string) (string, error) {
	if path := os.Getenv(env); path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, path, ErrNotInstalled)
		}
		return path, nil
	}
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH (install the %s package or set %s): %w", names[0], pkg, env, ErrNotInstalled)
}

// PrometheusOptions configure a throwaway Prometheus.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped at /metrics as job "stockapp-api".
	Targets []string
	// ScrapeInterval is also the rule evaluation interval (default 2s).
	ScrapeInterval time.Duration
	// Alertmanager is the host:port alerts are sent to ("" for none).
	Alertmanager string
	// Thresholds, when set, writes the API alert rules with these levels
	// (HighAPIErrorRate warning and critical, HighAPIResponseTime).
	Thresholds *config.Thresholds
	// StartTimeout bounds startup (default 30s).
	StartTimeout time.Duration
}

// PrometheusServer is a Prometheus on a loopback port with its data in a
// temporary directory.
type PrometheusServer struct {
	Port int
	Dir  string
	proc *Process
}

// URL is the server's base URL.
func (s *PrometheusServer) URL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
}

// Stop stops the server and removes its directory. Safe to call more than once.
func (s *PrometheusServer) Stop() error { return stopAndRemove(s.proc, s.Dir) }

// StartPrometheus writes a configuration scraping opts.Targets, starts
// Prometheus on a free loopback port and waits until it is ready. A failed
// start removes everything it made.
func StartPrometheus(ctx context.Context, opts PrometheusOptions) (srv *PrometheusServer, err error) {
	path, err := PrometheusPath()
	if err != nil {
		return nil, err
	}
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = 2 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := mkTempDir("", "opsdeck-prometheus-")
	if err != nil {
		return nil, fmt.Errorf("create Prometheus temp dir: %w", err)
	}
	s := &PrometheusServer{Port: port, Dir: dir}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(prometheusConfig(opts)), 0o600); err != nil {
		return nil, fmt.Errorf("write prometheus.yml: %w", err)
	}
	if opts.Thresholds != nil {
		if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(prometheusRules(*opts.Thresholds)), 0o600); err != nil {
			return nil, fmt.Errorf("write rules.yml: %w", err)
		}
	}
	s.proc, err = StartProcess(ProcessSpec{
		Name: "prometheus",
		Path: path,
		Args: []string{
			"--config.file=" + filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--storage.tsdb.retention.time=2h",
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
			"--log.level=warn",
		},
		Dir: dir,
		Env: childEnv(),
	})
	if err != nil {
		return nil, err
	}
	if err := s.proc.WaitReady(ctx, opts.StartTimeout, httpReady(s.URL()+"/-/ready")); err != nil {
		return nil, err
	}
	return s, nil
}

func prometheusConfig(opts PrometheusOptions) string {
	var b strings.Builder
	iv := opts.ScrapeInterval.String()
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", iv, iv)
	if opts.Thresholds != nil {
		b.WriteString("rule_files: [rules.yml]\n")
	}
	if opts.Alertmanager != "" {
		fmt.Fprintf(&b, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", opts.Alertmanager)
	}
	b.WriteString("scrape_configs:\n  - job_name: stockapp-api\n    static_configs:\n      - targets: [")
	for i, t := range opts.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", t)
	}
	b.WriteString("]\n")
	return b.String()
}

// prometheusRules are the reference system's API alerts with the levels
// of th (the same PromQL as the default panels).
func prometheusRules(th config.Thresholds) string {
	errRate := `100 * sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))`
	p95 := `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))`
	rule := func(name, expr, sev, summary string) string {
		return fmt.Sprintf("      - alert: %s\n        expr: %q\n        for: 10s\n        labels: {severity: %s, team: backend}\n        annotations:\n          summary: %q\n",
			name, expr, sev, summary)
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: stockapp-api\n    rules:\n")
	b.WriteString(rule("HighAPIErrorRate", fmt.Sprintf("%s > %g", errRate, th.APIErrorRatePercent.Crit), "critical",
		fmt.Sprintf("API error rate {{ $value | printf \"%%.1f\" }}%% is above %g%%", th.APIErrorRatePercent.Crit)))
	b.WriteString(rule("HighAPIErrorRate", fmt.Sprintf("%s > %g <= %g", errRate, th.APIErrorRatePercent.Warn, th.APIErrorRatePercent.Crit), "warning",
		fmt.Sprintf("API error rate {{ $value | printf \"%%.1f\" }}%% is above %g%%", th.APIErrorRatePercent.Warn)))
	b.WriteString(rule("HighAPIResponseTime", fmt.Sprintf("%s > %g", p95, th.APIP95.Warn.Seconds()), "warning",
		fmt.Sprintf("API P95 latency {{ $value | humanizeDuration }} is above %s", th.APIP95.Warn)))
	return b.String()
}

// AlertmanagerServer is an Alertmanager on a loopback port, clustering off,
// with a receiver that sends nothing.
type AlertmanagerServer struct {
	Port int
	Dir  string
	proc *Process
}

// URL is the server's base URL.
func (s *AlertmanagerServer) URL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
}

// Addr is "127.0.0.1:port", for Prometheus' alerting section.
func (s *AlertmanagerServer) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
}

// Stop stops the server and removes its directory. Safe to call more than once.
func (s *AlertmanagerServer) Stop() error { return stopAndRemove(s.proc, s.Dir) }

// alertmanagerConfig routes everything to a receiver that notifies no one.
const alertmanagerConfig = `route:
  receiver: sandbox-null
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: sandbox-null
`

// StartAlertmanager starts Alertmanager on a free loopback port (no
// cluster listener) and waits until it is ready. A failed start removes
// everything it made.
func StartAlertmanager(ctx context.Context) (srv *AlertmanagerServer, err error) {
	path, err := AlertmanagerPath()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := mkTempDir("", "opsdeck-alertmanager-")
	if err != nil {
		return nil, fmt.Errorf("create Alertmanager temp dir: %w", err)
	}
	s := &AlertmanagerServer{Port: port, Dir: dir}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(alertmanagerConfig), 0o600); err != nil {
		return nil, fmt.Errorf("write alertmanager.yml: %w", err)
	}
	s.proc, err = StartProcess(ProcessSpec{
		Name: "alertmanager",
		Path: path,
		Args: []string{
			"--config.file=" + filepath.Join(dir, "alertmanager.yml"),
			"--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
			"--cluster.listen-address=",
			"--log.level=warn",
		},
		Dir: dir,
		Env: childEnv(),
	})
	if err != nil {
		return nil, err
	}
	if err := s.proc.WaitReady(ctx, 30*time.Second, httpReady(s.URL()+"/-/ready")); err != nil {
		return nil, err
	}
	return s, nil
}

// httpReady is a WaitReady probe: GET url answers 200.
func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	}
}

func stopAndRemove(p *Process, dir string) error {
	var errs []error
	if p != nil {
		errs = append(errs, p.Stop())
	}
	if dir != "" {
		errs = append(errs, removeDir(dir))
	}
	return errors.Join(errs...)
}

// Monitoring is a running Prometheus and Alertmanager for the sandbox.
type Monitoring struct {
	Prometheus   *PrometheusServer
	Alertmanager *AlertmanagerServer
}

// StartMonitoring starts Alertmanager, then Prometheus scraping targets and
// sending it the API alerts judged with th. Either binary missing is
// ErrNotInstalled (wrapped) and starts nothing.
func StartMonitoring(ctx context.Context, targets []string, th config.Thresholds) (*Monitoring, error) {
	if _, err := PrometheusPath(); err != nil {
		return nil, err
	}
	if _, err := AlertmanagerPath(); err != nil {
		return nil, err
	}
	am, err := StartAlertmanager(ctx)
	if err != nil {
		return nil, err
	}
	prom, err := StartPrometheus(ctx, PrometheusOptions{Targets: targets, Alertmanager: am.Addr(), Thresholds: &th})
	if err != nil {
		_ = am.Stop()
		return nil, err
	}
	return &Monitoring{Prometheus: prom, Alertmanager: am}, nil
}

// Stop stops Prometheus, then Alertmanager.
func (m *Monitoring) Stop() error {
	if m == nil {
		return nil
	}
	return errors.Join(m.Prometheus.Stop(), m.Alertmanager.Stop())
}

// startLoadAndMonitoring runs the steps Options.Load and Options.Monitoring
// ask for and points cfg at Prometheus and Alertmanager. Missing monitoring
// binaries are not an error: MonitoringErr records them.
func (sb *Sandbox) startLoadAndMonitoring(ctx context.Context, opts Options, cfg *config.Config, progress func(string)) error {
	var targets []string
	if opts.Load {
		progress("starting the load generator")
		l, err := StartLoad(ctx, LoadOptions{PostgresDSN: sb.Postgres.DSN(), RedisURL: sb.Redis.URL()})
		if err != nil {
			return err
		}
		sb.Load = l
		targets = append(targets, l.MetricsAddr)
		if sb.Kube != nil {
			cs, err := kubernetes.NewForConfig(sb.Kube.Config())
			if err != nil {
				return err
			}
			sb.stopFollow = followWriters(cs, opts.Namespace, l)
		}
	}
	if !opts.Monitoring {
		return nil
	}
	progress("starting Prometheus and Alertmanager")
	m, err := StartMonitoring(ctx, targets, cfg.Thresholds)
	switch {
	case errors.Is(err, ErrNotInstalled):
		sb.MonitoringErr = err
		progress("skipping Prometheus and Alertmanager: " + err.Error())
		return nil
	case err != nil:
		return err
	}
	sb.Monitoring = m
	cfg.Prometheus.URL = m.Prometheus.URL()
	cfg.Alertmanager.URL = m.Alertmanager.URL()
	return nil
}

func (sb *Sandbox) stopLoadAndMonitoring() error {
	var errs []error
	if sb.stopFollow != nil {
		sb.stopFollow()
	}
	if sb.Load != nil {
		errs = append(errs, sb.Load.Stop())
	}
	errs = append(errs, sb.Monitoring.Stop())
	return errors.Join(errs...)
}
