// Package metrics is `opsdeck metrics`: the live metrics of every
// configured source judged against the thresholds, and the firing alerts,
// once or continuously.
package metrics

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
)

// sources are the names --source accepts.
var sources = []string{"postgres", "redis", "kubernetes", "prometheus", "business"}

// Command returns `opsdeck metrics`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		out   cli.Output
		watch bool
		only  []string
	)
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Live metrics and alerts of Postgres, Redis, Kubernetes, Prometheus and the business queries",
		Long: `Samples every configured source twice, metrics.interval apart (rates need
two readings), and prints each series with its state against the thresholds,
then the firing alerts: Alertmanager's when alertmanager.url is set, else the
same threshold rules evaluated by opsdeck.

With --watch it keeps sampling and prints a fresh report every interval
(one JSON object per line with -o json, a YAML document after each ---
line with -o yaml) until Ctrl-C.

Exit codes follow the Nagios convention: 0 ok · 1 warn · 2 crit · 3 unknown.`,
		Example: `  opsdeck metrics
  opsdeck metrics -o json | jq '.series[] | select(.state != "ok")'
  opsdeck metrics --watch --source postgres,redis`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			for _, s := range only {
				if !slices.Contains(sources, s) {
					return cli.Exit(3, fmt.Errorf("unknown source %q: choose from %s", s, strings.Join(sources, ", ")))
				}
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r, err := newRunner(cfg, only)
			if err != nil {
				return cli.Exit(3, err)
			}
			defer r.close()
			p := g.Printer(cmd, out)
			if watch {
				return r.watch(ctx, p)
			}
			rep := r.once(ctx)
			if ctx.Err() != nil {
				return cli.Exit(130, fmt.Errorf("interrupted"))
			}
			if err := r.print(p, rep); err != nil {
				return err
			}
			if code := rep.Status.ExitCode(); code != 0 {
				return cli.ExitSilently(code)
			}
			return nil
		},
	}
	out.Register(cmd)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep sampling and print a report every metrics.interval until Ctrl-C")
	cmd.Flags().StringSliceVar(&only, "source", nil, "show only these sources: "+strings.Join(sources, ","))
	cli.FlagWords(cmd, "source", sources...)
	return cmd
}

// Report is what one print shows; -o json writes it.
type Report struct {
	At     time.Time      `json:"at"`
	Status health.Status  `json:"status"`
	Series []SeriesReport `json:"series"`
	// Sources are the samplers' health; Absent the sources not configured.
	Sources []opmetrics.SourceStatus `json:"sources"`
	Absent  []string                 `json:"absent,omitempty"`
	Alerts  []alerts.Alert           `json:"alerts"`
	// AlertsFrom is "alertmanager" or "opsdeck"; AlertsError says why
	// Alertmanager could not be read.
	AlertsFrom  string `json:"alerts_from"`
	AlertsError string `json:"alerts_error,omitempty"`
}

// SeriesReport is one series without its history.
type SeriesReport struct {
	ID        string              `json:"id"`
	Source    string              `json:"source"`
	Level     opmetrics.Level     `json:"level"`
	Title     string              `json:"title"`
	Unit      opmetrics.Unit      `json:"unit"`
	Value     *float64            `json:"value"`
	State     health.Status       `json:"state"`
	Threshold opmetrics.Threshold `json:"threshold"`
	Min       *float64            `json:"min,omitempty"`
	Max       *float64            `json:"max,omitempty"`
	Detail    string              `json:"detail,omitempty"`
	Error     string              `json:"error,omitempty"`
}

type runner struct {
	cfg      *config.Config
	setup    *opmetrics.Setup
	am       *alerts.Client
	only     []string
	cancel   context.CancelFunc
	watching bool
}

func newRunner(cfg *config.Config, only []string) (*runner, error) {
	var ks *opmetrics.KubeSource
	if len(only) == 0 || slices.Contains(only, "kubernetes") {
		src := kubeSource(cfg)
		ks = &src
	}
	setup, err := opmetrics.Build(cfg, ks)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, setup: setup, only: only}
	if cfg.Alertmanager.URL != "" {
		if r.am, err = alerts.NewClient(cfg.Alertmanager.URL, cfg.Timeouts.Check); err != nil {
			setup.Close()
			return nil, err
		}
	}
	return r, nil
}

// kubeSource reads the cluster with one-shot lists; a cluster that cannot
// even be configured shows its error in the Kubernetes series.
func kubeSource(cfg *config.Config) opmetrics.KubeSource {
	client, err := kube.NewClient(cfg.Kubernetes, cfg.Timeouts.Check)
	if err != nil {
		return opmetrics.KubeSource{Usage: func(context.Context) (kube.Usage, error) { return kube.Usage{}, err }}
	}
	return opmetrics.KubeFromClient(client)
}

func (r *runner) close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.setup.Close()
}

// once samples twice, an interval apart, and reports.
func (r *runner) once(ctx context.Context) Report {
	e := r.setup.Engine
	e.SampleOnce(ctx)
	select {
	case <-ctx.Done():
	case <-time.After(e.Interval()):
	}
	e.SampleOnce(ctx)
	return r.report(ctx)
}

func (r *runner) watch(ctx context.Context, p *cli.Printer) error {
	r.watching = true
	e := r.setup.Engine
	e.Start(ctx)
	tick := time.NewTicker(e.Interval())
	defer tick.Stop()
	// The first report waits for the second sample, so that rates show.
	first := time.After(e.Interval() + e.Interval()/2)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-first:
		case <-tick.C:
			if first != nil {
				continue
			}
		}
		first = nil
		rep := r.report(ctx)
		if p.Terminal && !p.Structured() {
			fmt.Fprint(p.Out, "\x1b[H\x1b[2J") // a terminal: each report on a clean screen
		}
		if err := r.print(p, rep); err != nil {
			return err
		}
	}
}

func (r *runner) report(ctx context.Context) Report {
	snap := r.setup.Engine.Snapshot(0)
	rep := Report{At: snap.At, Absent: r.setup.Absent, Status: health.OK}
	for _, s := range snap.Sources {
		if r.wants(s.Name) {
			rep.Sources = append(rep.Sources, s)
		}
	}
	for _, s := range snap.Series {
		if !r.wants(s.Source) {
			continue
		}
		sr := SeriesReport{ID: s.ID, Source: s.Source, Level: s.Level, Title: s.Title, Unit: s.Unit, State: s.State,
			Threshold: s.Threshold, Detail: s.Detail, Error: s.Err, Value: finite(s.Value), Min: finite(s.Min), Max: finite(s.Max)}
		if s.Waiting {
			sr.Detail = "no reading yet"
		}
		if sr.State.Worse(rep.Status) {
			rep.Status = sr.State
		}
		rep.Series = append(rep.Series, sr)
	}
	if r.am != nil {
		rep.AlertsFrom = alerts.SourceAlertmanager
		actx, cancel := context.WithTimeout(ctx, r.cfg.Timeouts.Check)
		as, err := r.am.Alerts(actx)
		cancel()
		if err != nil {
			rep.AlertsError = err.Error()
		}
		rep.Alerts = as
	} else {
		rep.AlertsFrom = alerts.SourceOpsdeck
		rep.Alerts = alerts.Evaluate(snap)
	}
	if rep.Alerts == nil {
		rep.Alerts = []alerts.Alert{}
	}
	return rep
}

func (r *runner) wants(source string) bool {
	if len(r.only) == 0 {
		return true
	}
	source = strings.TrimSuffix(source, " size")
	return slices.Contains(r.only, source)
}

func finite(v float64) *float64 {
	if v != v || v > 1e300 || v < -1e300 {
		return nil
	}
	return &v
}
