package maintain

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/health"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// output prints the report as JSON, once the actions are done.
func output(w io.Writer, rep *opmaintain.Report, f *flags) error {
	if f.report == "-" || !f.out.JSON() {
		return nil // the Markdown report, or the text already printed
	}
	return cli.PrintJSON(w, rep)
}

// maxCell keeps one long value from pushing the table off the screen; -o
// json and --report carry it whole.
const maxCell = 70

// printText prints one line per finding, then the details of those that
// need attention (all of them with verbose), the actions and a summary.
func printText(w io.Writer, rep *opmaintain.Report, quiet, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AREA\tCHECK\tSTATUS\tOBJECT\tFINDING")
	shown := 0
	for _, f := range rep.Findings {
		if quiet && f.Status == health.OK && !f.NA {
			continue
		}
		shown++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Area, f.Check, strings.ToUpper(f.StatusText()), clip(f.Object, 40), clip(f.Summary, maxCell))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if shown == 0 {
		fmt.Fprintln(w, "(nothing that is not ok)")
	}
	for _, f := range rep.Findings {
		if !verbose && (f.Status == health.OK || f.NA) && f.Done == "" {
			continue
		}
		if quiet && f.Status == health.OK && f.Done == "" {
			continue
		}
		fmt.Fprintf(w, "\n%s  %s %s", strings.ToUpper(f.StatusText()), f.Area, f.Check)
		if f.Object != "" {
			fmt.Fprintf(w, ": %s", f.Object)
		}
		fmt.Fprintf(w, "\n    %s\n", f.Summary)
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "    · %s\n", e)
		}
		if f.Why != "" {
			fmt.Fprintf(w, "    why: %s\n", f.Why)
		}
		if f.Suggestion != "" {
			fmt.Fprintf(w, "    do: %s\n", f.Suggestion)
		}
		if f.Done != "" {
			fmt.Fprintf(w, "    done: %s\n", f.Done)
		}
		if f.Runbook != "" {
			fmt.Fprintf(w, "    runbook: %s\n", f.Runbook)
		}
	}
	for _, a := range rep.Areas {
		for _, n := range a.Notes {
			fmt.Fprintf(w, "\nnote (%s): %s\n", a.Area, n)
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", summary(rep))
	return err
}

// printActions prints what the actions did and the status after them.
func printActions(w io.Writer, rep *opmaintain.Report) error {
	if len(rep.Actions) > 0 {
		fmt.Fprintln(w, "\nactions:")
		for _, a := range rep.Actions {
			switch {
			case a.OK:
				fmt.Fprintf(w, "  ok       %s: %s\n", a.Action.Label, a.Detail)
			case a.Refused:
				fmt.Fprintf(w, "  refused  %s: %s\n", a.Action.Label, a.Error)
			default:
				fmt.Fprintf(w, "  FAILED   %s: %s\n", a.Action.Label, a.Error)
			}
		}
	}
	_, err := fmt.Fprintf(w, "\nafter the actions: %s\n", summary(rep))
	return err
}

// summary is the last line: the status and the counts, as `opsdeck check`.
func summary(rep *opmaintain.Report) string {
	c := rep.Counts()
	s := fmt.Sprintf("%s: %d ok, %d warn, %d crit, %d unknown, %d n/a in %s",
		strings.ToUpper(rep.Status.String()), c["ok"], c["warn"], c["crit"], c["unknown"], c["n/a"], rep.Took.Round(time.Millisecond))
	if rep.DryRun {
		s += " (dry run)"
	}
	if rep.ReadOnly {
		s += " (read-only)"
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// progressPrinter prints the run's progress to w on a terminal: a line
// per area, and the keyspace and vacuum progress at most every second.
func progressPrinter(w io.Writer, on bool) progress.Func {
	if !on {
		return nil
	}
	var last time.Time
	return func(e progress.Event) {
		switch e.Kind {
		case progress.Advance:
			if time.Since(last) < time.Second {
				return
			}
			last = time.Now()
			line := fmt.Sprintf("%s %s", e.Op, e.Step)
			if e.Total > 0 {
				line += fmt.Sprintf(" %.0f%% (%d/%d)", 100*float64(e.Done)/float64(e.Total), e.Done, e.Total)
			}
			if e.Message != "" {
				line += " " + e.Message
			}
			fmt.Fprintf(w, "%s %s\n", e.At.Format("15:04:05"), line)
		default:
			fmt.Fprintf(w, "%s %s\n", e.At.Format("15:04:05"), e.String())
		}
	}
}
