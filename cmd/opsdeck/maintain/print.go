package maintain

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/health"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
)

// maxCell keeps one long value from pushing the table off the screen; -o
// json and --report carry it whole.
const maxCell = 70

// printText prints one line per finding, then the details of those that
// need attention (all of them with verbose), the actions and a summary.
func printText(p *cli.Printer, rep *opmaintain.Report, quiet, verbose bool) error {
	w := p.Out
	t := p.Table("AREA", "CHECK", "STATUS", "OBJECT", "FINDING")
	shown := 0
	for _, f := range rep.Findings {
		if quiet && f.Status == health.OK && !f.NA {
			continue
		}
		shown++
		t.Row(string(f.Area), f.Check, strings.ToUpper(f.StatusText()), cli.Clip(f.Object, 40), cli.Clip(f.Summary, maxCell))
	}
	if err := t.Flush(); err != nil {
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
func printActions(p *cli.Printer, rep *opmaintain.Report) error {
	w := p.Out
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
