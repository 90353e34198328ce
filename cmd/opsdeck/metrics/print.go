package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
)

var colours = map[health.Status]string{
	health.OK: "\x1b[32m", health.Warn: "\x1b[33m", health.Crit: "\x1b[1;31m", health.Unknown: "\x1b[36m",
}

func (r *runner) print(w io.Writer, rep Report, out cli.Output, colour bool) error {
	if out.JSON() {
		if r.watching {
			return printLine(w, rep)
		}
		return cli.PrintJSON(w, rep)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSERIES\tVALUE\tSTATUS\tMIN\tMAX\tTHRESHOLD\tDETAIL")
	for _, s := range rep.Series {
		st := strings.ToUpper(s.State.String())
		if colour {
			st = colours[s.State] + fmt.Sprintf("%-7s", st) + "\x1b[0m"
		}
		detail := s.Detail
		if s.Error != "" {
			detail = s.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Source, s.Title, val(s.Value, s.Unit), st,
			val(s.Min, s.Unit), val(s.Max, s.Unit), s.Threshold.Format(s.Unit), clip(detail, 90))
	}
	if err := tw.Flush(); err != nil {
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
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tALERT\tSTATE\tSINCE\tSUMMARY\tLABELS")
		for _, a := range rep.Alerts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Severity, a.Name, a.State, since(rep.At, a.Since), clip(a.Summary, 80), clip(alerts.LabelString(a.Labels), 60))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%s at %s\n", summary(rep), rep.At.Format("15:04:05"))
	return err
}

// printLine writes the report as one line of JSON (--watch into a pipe).
func printLine(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
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

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func summary(rep Report) string {
	counts := map[health.Status]int{}
	for _, s := range rep.Series {
		counts[s.State]++
	}
	return fmt.Sprintf("%s: %d ok, %d warn, %d crit, %d unknown; %d alerts",
		strings.ToUpper(rep.Status.String()), counts[health.OK], counts[health.Warn], counts[health.Crit], counts[health.Unknown], len(rep.Alerts))
}
