package restore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// printPlan prints the set, the target, the preflight and the steps.
func printPlan(w io.Writer, p *oprestore.Plan) {
	m := p.Set
	if p.Options.Kind == oprestore.Merge {
		what := "insert the rows they lack"
		if p.Options.Overwrite {
			what += " and overwrite the rows that differ"
		}
		fmt.Fprintf(w, "merge %s back into %s: %s\n", plainNames(p.Options.From), plainNames(p.Options.Tables), what)
	} else {
		fmt.Fprintf(w, "restore %s from set %s (taken %s, %s, %s)\n", p.Options.Kind, p.SetID,
			m.Start.Local().Format("2006-01-02 15:04"), progress.Bytes(m.Size()), strings.Join(m.ComponentNames(), "+"))
	}
	if pt := p.PointInTime; pt != nil {
		fmt.Fprintf(w, "  to       %s\n", pt.Target)
		if !pt.Target.Time.IsZero() {
			fmt.Fprintf(w, "           = %s\n", pt.Target.Time.UTC().Format("2006-01-02 15:04:05.999999 UTC"))
		}
		fmt.Fprintf(w, "  from     base backup %s (ended %s) and %s of WAL to %s\n", pt.Set.ID,
			pt.Base.At.Local().Format("2006-01-02 15:04:05 -07:00"), progress.Bytes(pt.WALBytes), pt.Until)
		fmt.Fprintf(w, "  archive  can recover to %s\n", pitr.SpansString(pt.Covered))
	}
	t := p.Target
	if t.Database != "" {
		fmt.Fprintf(w, "  database %s on %s\n", t.Database, t.Postgres)
	}
	if t.Redis != "" {
		fmt.Fprintf(w, "  redis    %s (flushed, then refilled)\n", t.Redis)
	}
	if len(t.Namespaces) > 0 {
		fmt.Fprintf(w, "  config   namespaces %s\n", strings.Join(t.Namespaces, ", "))
	}
	printMerges(w, p)
	fmt.Fprintln(w, "\npreflight:")
	for _, c := range p.Checks {
		fmt.Fprintf(w, "  %-4s %-8s %-13s %s\n", statusWord(c.Status), c.Component, c.Name, c.Detail)
	}
	if len(p.Objects) > 0 {
		fmt.Fprintln(w, "\nobjects:")
		for _, o := range p.Objects {
			if o.Action == oprestore.ObjectUnchanged {
				continue
			}
			fmt.Fprintf(w, "  %-9s %s  %s\n", o.Action, o.Ref(), o.Detail())
		}
	}
	fmt.Fprintln(w, "\nplan:")
	for i, s := range p.Steps {
		fmt.Fprintf(w, "  %d. %-16s %s\n", i+1, s.Name, s.Title)
		if s.Undo != "" {
			fmt.Fprintf(w, "     %-16s undo: %s\n", "", s.Undo)
		}
	}
	if p.ConfirmOverwrite != "" {
		fmt.Fprintf(w, "the overwrite asks a second confirmation: %q\n", p.ConfirmOverwrite)
	}
	fmt.Fprintln(w)
}

// printMerges prints what a merge does to each table, in its order, with
// the preview of the changed rows.
func printMerges(w io.Writer, p *oprestore.Plan) {
	if len(p.Merges) == 0 {
		return
	}
	changed := "left as they are"
	if p.Options.Overwrite {
		changed = "overwritten"
	}
	fmt.Fprintln(w, "\nmerge, parents first:")
	for _, m := range p.Merges {
		fmt.Fprintf(w, "  %s <- %s (key %s): %d missing row(s) inserted, %d changed row(s) %s\n",
			oprestore.PlainName(m.Table), oprestore.PlainName(m.Side), strings.Join(m.Key, ", "), m.Missing, m.Changed, changed)
		for _, r := range m.Preview {
			var cols []string
			for _, c := range r.Columns {
				cols = append(cols, fmt.Sprintf("%s %s -> %s", c.Name, value(c.Live), value(c.Copy)))
			}
			if r.More > 0 {
				cols = append(cols, fmt.Sprintf("and %d more column(s)", r.More))
			}
			fmt.Fprintf(w, "      (%s)  %s\n", r.Key, strings.Join(cols, ", "))
		}
		if more := m.Changed - int64(len(m.Preview)); len(m.Preview) > 0 && more > 0 {
			fmt.Fprintf(w, "      and %d more changed row(s)\n", more)
		}
	}
}

// value is a preview's value: NULL, or quoted (live -> copy).
func value(v *string) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *v)
}

func statusWord(s health.Status) string {
	switch s {
	case health.OK:
		return "ok"
	case health.Warn:
		return "WARN"
	case health.Crit:
		return "CRIT"
	}
	return s.String()
}

// printReport prints how the run went.
func printReport(w io.Writer, r *oprestore.Report) {
	fmt.Fprintln(w)
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  %-11s %-16s %8v", s.State, s.Name, s.Took.Round(time.Millisecond))
		if s.Err != "" {
			fmt.Fprintf(w, "  %s", s.Err)
		}
		fmt.Fprintln(w)
		if s.UndoErr != "" {
			fmt.Fprintf(w, "  %-11s %-16s undo failed: %s\n", "", "", s.UndoErr)
		}
	}
	took := r.End.Sub(r.Start).Round(time.Millisecond)
	switch {
	case r.OK && r.Undone:
		fmt.Fprintf(w, "\nok: the interrupted restore of %s from %s is undone (%v)\n", r.Plan.Options.Kind, r.Plan.SetID, took)
	case r.OK:
		fmt.Fprintf(w, "\nok: restored %s from %s in %v\n", r.Plan.Options.Kind, r.Plan.SetID, took)
	case r.Undone:
		fmt.Fprintf(w, "\nFAILED after %v; every step done was undone — the original data is serving\n", took)
	default:
		fmt.Fprintf(w, "\nFAILED after %v and the undo did not finish — read the report and the restore runbook\n", took)
	}
	if r.SafetyBackup != "" {
		fmt.Fprintf(w, "safety backup: %s\n", r.SafetyBackup)
	}
	if r.Path != "" {
		fmt.Fprintf(w, "report: %s\n", r.Path)
	}
}

// printMergeHints says, for each table copied, what a merge would insert
// and overwrite, and the one command that merges them all.
func printMergeHints(ctx context.Context, w io.Writer, eng *oprestore.Engine, plan *oprestore.Plan) {
	fmt.Fprintln(w)
	var missing, changed int64
	for i, t := range plan.Copied {
		side := plan.Copies[i]
		st, err := eng.Compare(ctx, t, side)
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", side, err)
			continue
		}
		fmt.Fprintf(w, "%s: %d row(s) that %s lacks, %d with the same key (%s) and other values\n", oprestore.PlainName(st.Side), st.Missing, oprestore.PlainName(st.Table), st.Changed, strings.Join(st.Key, ", "))
		missing, changed = missing+st.Missing, changed+st.Changed
	}
	if missing+changed == 0 {
		return
	}
	fmt.Fprintf(w, "  put them back: %s\n", plan.MergeCommand())
	if changed > 0 {
		fmt.Fprintln(w, "  (add --overwrite to give the changed rows the copies' values too; it asks a second confirmation)")
	}
}

// plainNames is oprestore.PlainName of each, comma-separated.
func plainNames(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = oprestore.PlainName(n)
	}
	return strings.Join(out, ", ")
}
