package metrics

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
)

// schema is `opsdeck metrics -o json`, one document per report.
var schema = cli.NewSchema[Report]("opsdeck.metrics/v1", "metrics")

// print prints one report: JSON (one line of it while watching), or the
// series, the firing alerts and a summary.
func (r *runner) print(p *cli.Printer, rep Report) error {
	if p.Structured() && r.watching {
		return p.PrintStream(schema, rep)
	}
	return p.Result(schema, rep, func() error { return printText(p, rep) })
}

func printText(p *cli.Printer, rep Report) error {
	w := p.Out
	t := p.Table("SOURCE", "SERIES", "VALUE", "STATUS", "MIN", "MAX", "THRESHOLD", "DETAIL")
	for _, s := range rep.Series {
		detail := s.Detail
		if s.Error != "" {
			detail = s.Error
		}
		t.Row(s.Source, s.Title, val(s.Value, s.Unit), p.Status(s.State),
			val(s.Min, s.Unit), val(s.Max, s.Unit), s.Threshold.Format(s.Unit), cli.Clip(detail, 90))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, a := range rep.Absent {
		fmt.Fprintf(w, "not configured: %s\n", a)
	}
	fmt.Fprintln(w)
	switch {
	case rep.AlertsError != "":
		fmt.Fprintf(w, "Alerts: %s\n", rep.AlertsError)
	case len(rep.Alerts) == 0:
		fmt.Fprintf(w, "Alerts (%s): none firing\n", alertsFrom(rep.AlertsFrom))
	default:
		fmt.Fprintf(w, "Alerts (%s):\n", alertsFrom(rep.AlertsFrom))
		t := p.Table("SEVERITY", "ALERT", "STATE", "SINCE", "SUMMARY", "LABELS")
		for _, a := range rep.Alerts {
			t.Row(a.Severity, a.Name, a.State, since(rep.At, a.Since), cli.Clip(a.Summary, 80), cli.Clip(alerts.LabelString(a.Labels), 60))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%s at %s\n", summary(rep), rep.At.Format("15:04:05"))
	return err
}

func alertsFrom(s string) string {
	if s == alerts.SourceAlertmanager {
		return "Alertmanager"
	}
	return "threshold rules evaluated by opsdeck; no alertmanager.url"
}

func val(v *float64, u opmetrics.Unit) string {
	if v == nil {
		return "–"
	}
	return opmetrics.FormatValue(*v, u)
}

func since(now, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return health.ShortDuration(now.Sub(t).Round(time.Second))
}

func summary(rep Report) string {
	counts := map[health.Status]int{}
	for _, s := range rep.Series {
		counts[s.State]++
	}
	return fmt.Sprintf("%s: %d ok, %d warn, %d crit, %d unknown; %d alerts",
		strings.ToUpper(rep.Status.String()), counts[health.OK], counts[health.Warn], counts[health.Crit], counts[health.Unknown], len(rep.Alerts))
}
