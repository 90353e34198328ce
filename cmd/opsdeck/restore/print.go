package restore

import (
	"context"
	"fmt"
	"io"
	"regexp"
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
		fmt.Fprintf(w, "merge the rows of %s that %s lacks back into it\n", plainName(p.Options.From), plainName(p.Options.Tables[0]))
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
	fmt.Fprintln(w)
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
// and how to run it.
func printMergeHints(ctx context.Context, w io.Writer, eng *oprestore.Engine, plan *oprestore.Plan) {
	fmt.Fprintln(w)
	for i, t := range plan.Options.Tables {
		side := plan.Copies[i]
		st, err := eng.Compare(ctx, t, side)
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", side, err)
			continue
		}
		fmt.Fprintf(w, "%s: %d row(s) that %s lacks, %d with the same key (%s) and other values\n", plainName(st.Side), st.Missing, plainName(st.Table), st.Changed, strings.Join(st.Key, ", "))
		if st.Missing > 0 {
			fmt.Fprintf(w, "  put them back: opsdeck restore merge %s --from %s\n", t, plainName(side))
		}
	}
}

var simpleName = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`)

// plainName writes a quoted schema.name as typed: without the quotes
// when they are not needed, without public.
func plainName(q string) string {
	s := strings.ReplaceAll(q, `"`, "")
	if !simpleName.MatchString(s) {
		return "'" + q + "'"
	}
	return strings.TrimPrefix(s, "public.")
}
