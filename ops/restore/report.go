package restore

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// ReportDir is where restore reports are written: state_dir/reports.
func ReportDir(stateDir string) string { return filepath.Join(stateDir, "reports") }

// writeReport writes the run's Markdown report and returns its path.
func (e *Engine) writeReport(rep *Report) (string, error) {
	dir := ReportDir(e.cfg().StateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("report directory: %w", err)
	}
	prefix := "restore"
	if rep.Drill != nil {
		prefix = "drill"
	}
	name := fmt.Sprintf("%s-%s-%s.md", prefix, rep.Plan.Options.Kind, rep.Start.UTC().Format("20060102_150405"))
	path := filepath.Join(dir, name)
	var b bytes.Buffer
	if err := WriteMarkdown(&b, rep); err != nil {
		return "", err
	}
	return path, safefile.Write(path, b.Bytes(), 0o600)
}

// WriteMarkdown renders a restore report: what was restored from which
// set, by whom, each step with its time and findings, the preflight.
func WriteMarkdown(w io.Writer, rep *Report) error {
	p := rep.Plan
	var b strings.Builder
	outcome := "succeeded"
	switch {
	case !rep.OK && rep.Undone:
		outcome = "FAILED — undone, the original data is serving"
	case !rep.OK:
		outcome = "FAILED — the undo did not finish"
	}
	if d := rep.Drill; d != nil {
		outcome = strings.ToUpper(d.Outcome)
		if d.Outcome == Proven {
			outcome = "proven"
		}
		fmt.Fprintf(&b, "# Drill %s from %s: %s\n\n", p.Options.Kind, p.SetID, outcome)
	} else {
		fmt.Fprintf(&b, "# Restore %s from %s: %s\n\n", p.Options.Kind, p.SetID, outcome)
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Set | %s (taken %s, %s, by %s) |\n", p.SetID, p.Set.Start.UTC().Format(time.RFC3339), progress.Bytes(p.Set.Size()), cell(p.Set.User))
	fmt.Fprintf(&b, "| Components | %s |\n", strings.Join(p.Components, ", "))
	if pt := p.PointInTime; pt != nil {
		fmt.Fprintf(&b, "| Point in time | %s (chosen: %s); base backup %s and the WAL to %s |\n", cell(pt.Target.String()), cell(pt.Target.How), pt.Set.ID, pt.Until)
	}
	fmt.Fprintf(&b, "| Target | %s |\n", cell(p.describeTarget()))
	fmt.Fprintf(&b, "| Who | %s |\n", cell(rep.Who))
	fmt.Fprintf(&b, "| opsdeck | %s |\n", cell(rep.OpsdeckVersion))
	fmt.Fprintf(&b, "| Started | %s |\n", rep.Start.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "| Took | %v |\n", rep.End.Sub(rep.Start).Round(time.Millisecond))
	if d := rep.Drill; d != nil {
		writeDrill(&b, d)
	} else if rep.SafetyBackup != "" {
		fmt.Fprintf(&b, "| Safety backup | %s |\n", rep.SafetyBackup)
	} else {
		fmt.Fprintf(&b, "| Safety backup | none |\n")
	}
	if rep.Err != "" {
		fmt.Fprintf(&b, "\n**Error:** %s\n", rep.Err)
	}
	b.WriteString("\n## Steps\n\n| Step | State | Took | Details |\n|---|---|---|---|\n")
	for _, s := range rep.Steps {
		details := s.Notes
		if s.Err != "" {
			details = append(details, "error: "+s.Err)
		}
		if s.UndoErr != "" {
			details = append(details, "undo failed: "+s.UndoErr)
		}
		fmt.Fprintf(&b, "| %s | %s | %v | %s |\n", s.Name, s.State, s.Took.Round(time.Millisecond), cell(strings.Join(details, "<br>")))
	}
	b.WriteString("\n## Preflight\n\n| Component | Check | Status | Detail |\n|---|---|---|---|\n")
	for _, c := range p.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Component, c.Name, c.Status, cell(c.Detail))
	}
	writeMerges(&b, p)
	if len(p.Objects) > 0 {
		b.WriteString("\n## Kubernetes objects\n\n| Object | Action | Fields |\n|---|---|---|\n")
		for _, o := range p.Objects {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(o.Ref()), o.Action, cell(o.Detail()))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMerges lists a merge's tables in the order merged, with the
// counts its preflight found (the step's notes say what it did).
func writeMerges(b *strings.Builder, p *Plan) {
	if len(p.Merges) == 0 {
		return
	}
	changed := "left as they are"
	if p.Options.Overwrite {
		changed = "overwritten"
	}
	fmt.Fprintf(b, "\n## Merge, parents first\n\n| Table | Copy | Key | Missing rows | Changed rows (%s) |\n|---|---|---|---|---|\n", changed)
	for _, m := range p.Merges {
		fmt.Fprintf(b, "| %s | %s | %s | %d | %d |\n", cell(m.Table), cell(m.Side), cell(strings.Join(m.Key, ", ")), m.Missing, m.Changed)
	}
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// writeDrill adds a drill's proof, recovery time and the set's age.
func writeDrill(b *strings.Builder, d *DrillResult) {
	if len(d.Parts) == 0 {
		fmt.Fprintf(b, "| Proof | %s |\n", cell(ProofText(d)))
	}
	for _, c := range slices.Sorted(maps.Keys(d.Parts)) {
		fmt.Fprintf(b, "| Proof (%s) | %s |\n", c, cell(ProofText(d.Parts[c])))
	}
	if len(d.Differ) > 0 {
		fmt.Fprintf(b, "| Differ | %s |\n", cell(strings.Join(d.Differ, ", ")))
	}
	if len(d.Missing) > 0 {
		fmt.Fprintf(b, "| Namespaces missing | %s |\n", cell(strings.Join(d.Missing, ", ")))
	}
	fmt.Fprintf(b, "| RTO (to the proof) | %v |\n", d.RTO.Round(time.Second))
	fmt.Fprintf(b, "| RPO (%s) | %v |\n", RPOSource(d), d.RPO.Round(time.Minute))
	cleaned := "yes: the temporary servers and files were removed"
	if !d.Cleaned {
		cleaned = "NO: the next drill removes what is left"
	}
	fmt.Fprintf(b, "| Cleaned up | %s |\n", cleaned)
}

// RPOSource says what a drill's RPO measures: the set's age, or for a
// PITR drill the age of the archive's last write.
func RPOSource(d *DrillResult) string {
	if d.Proof == ProofRecovery {
		return "since the archive's last write"
	}
	return "the set's age"
}

// ProofText says what a drill's (or a full drill part's) proof covered.
func ProofText(d *DrillResult) string {
	proof := "none (it did not get that far)"
	switch d.Proof {
	case ProofFingerprints:
		proof = fmt.Sprintf("every table's fingerprint recomputed from the restored copy (%d tables, %d rows)", d.Tables, d.Rows)
	case ProofCounts:
		proof = fmt.Sprintf("row counts only: the set was taken before opsdeck recorded fingerprints (%d tables, %d rows)", d.Tables, d.Rows)
	case ProofDigest:
		proof = fmt.Sprintf("the loaded server's DEBUG DIGEST equals the one computed from the RDB at backup time (%d databases, %d keys)", d.Tables, d.Rows)
	case ProofDryRun:
		proof = fmt.Sprintf("server-side dry run of every object on the live API server (%d objects, %d accepted)", d.Tables, d.Rows)
	case ProofRecovery:
		proof = fmt.Sprintf("the unpacked base backup held against its backup_manifest (pg_verifybackup); replay ended at %s, past the archive's last record at %s; pg_amcheck clean on %d relations of %d databases", d.Reached, d.Head, d.Tables, d.Databases)
	case ProofKeyCounts:
		proof = fmt.Sprintf("key counts per database only: the set records no digest it can be compared with (%d databases, %d keys)", d.Tables, d.Rows)
	}
	return proof
}
