// Package backups is `opsdeck backups list|verify|prune`: the catalog of
// backup sets, checking them, and expiring them by retention.
package backups

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// The documents of -o json.
var (
	listSchema   = cli.NewSchema[[]Row]("opsdeck.backups.list/v1", "backups list")
	showSchema   = cli.NewSchema[backup.Set]("opsdeck.backups.show/v1", "backups show")
	verifySchema = cli.NewSchema[VerifyOutput]("opsdeck.backups.verify/v1", "backups verify")
	pruneSchema  = cli.NewSchema[backup.PruneResult]("opsdeck.backups.prune/v1", "backups prune")
)

// Command returns `opsdeck backups`.
func Command(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backups",
		Short: "List, verify and prune backup sets",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(listCommand(g), verifyCommand(g), pruneCommand(g), showCommand(g))
	return cmd
}

// Row is one set in `backups list -o json`.
type Row struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Status      string   `json:"status"`
	Components  []string `json:"components"`
	Size        int64    `json:"size"`
	AgeSeconds  int64    `json:"age_seconds"`
	VerifyState string   `json:"verify_state"`
	Tags        []string `json:"tags,omitempty"`
	Error       string   `json:"error,omitempty"`
	// Base is where a base backup starts in the WAL, for sets holding one.
	Base *BaseRow `json:"base,omitempty"`
}

// BaseRow is a base backup's start in `backups list`.
type BaseRow struct {
	StartLSN string `json:"start_lsn"`
	StopLSN  string `json:"stop_lsn"`
	Timeline uint32 `json:"timeline"`
	SystemID string `json:"system_identifier"`
}

// componentsCell is the COMPONENTS column: the names, a base backup with
// its start LSN and timeline.
func componentsCell(r Row) string {
	s := strings.Join(r.Components, ",")
	if r.Base != nil {
		s += fmt.Sprintf(" (start %s tl %d)", r.Base.StartLSN, r.Base.Timeline)
	}
	return s
}

func listCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List committed backup sets, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, ctx, done, err := g.BackupEngine(cmd, out)
			if err != nil {
				return err
			}
			defer done()
			sets, err := backup.List(ctx, eng.Store)
			if err != nil {
				return cli.Fail(err)
			}
			now := time.Now()
			rows := make([]Row, 0, len(sets))
			for _, s := range sets {
				r := Row{ID: s.ID, VerifyState: s.VerifyState(), Error: s.Err, AgeSeconds: int64(s.Age(now).Seconds())}
				if m := s.Manifest; m != nil {
					r.Kind, r.Status, r.Components, r.Size, r.Tags = m.Kind, m.Status, m.ComponentNames(), m.Size(), m.Tags
					if c, ok := m.Component(backup.Base); ok && c.Base != nil {
						r.Base = &BaseRow{StartLSN: c.Base.StartLSN.String(), StopLSN: c.Base.StopLSN.String(), Timeline: c.Base.Timeline,
							SystemID: strconv.FormatUint(c.Base.SystemID, 10)}
					}
				}
				rows = append(rows, r)
			}
			p := g.Printer(cmd, out)
			return p.Result(listSchema, rows, func() error {
				if len(rows) == 0 {
					fmt.Fprintf(p.Out, "no backup sets in %s — take one with: opsdeck backup database\n", eng.Store)
					return nil
				}
				t := p.Table("ID", "KIND", "STATUS", "COMPONENTS", "SIZE", "AGE", "VERIFY")
				for _, r := range rows {
					st := r.Status
					if r.Error != "" {
						st = "unreadable"
					}
					t.Row(r.ID, r.Kind, st, componentsCell(r),
						progress.Bytes(r.Size), Age(time.Duration(r.AgeSeconds)*time.Second), r.VerifyState)
				}
				if err := t.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(p.Out, "\n%d set(s) in %s\n", len(rows), eng.Store)
				printWALSummary(ctx, p, eng, sets)
				return nil
			})
		},
	}
	out.Register(cmd)
	return cmd
}

func showCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a set's manifest: components, files, checksums and facts",
		Args:  cobra.ExactArgs(1),
		// The set IDs of the store's catalog.
		ValidArgsFunction: g.CompleteSets(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, ctx, done, err := g.BackupEngine(cmd, out)
			if err != nil {
				return err
			}
			defer done()
			s, err := backup.Get(ctx, eng.Store, args[0])
			if err != nil {
				return cli.Fail(err)
			}
			p := g.Printer(cmd, out)
			return p.Result(showSchema, s, func() error {
				p.Manifest(s.Manifest)
				_, err := fmt.Fprintf(p.Out, "verify: %s\n", s.VerifyState())
				return err
			})
		},
	}
	out.Register(cmd)
	return cmd
}

func verifyCommand(g *cli.Globals) *cobra.Command {
	var (
		out              cli.Output
		all, deep, noWAL bool
	)
	cmd := &cobra.Command{
		Use:   "verify [ID...] [--all] [--deep]",
		Short: "Re-hash every file of a set against its manifest (newest set by default)",
		Long: `Re-reads every file of the set and compares its size and SHA-256 with the
manifest; --deep also reads the content: pg_restore --list reads the dump, the
RDB is parsed to its end with its CRC-64, every YAML is parsed (encrypted sets
need backup.encryption.identity_file). The result is recorded as the set's
verify state, which prune relies on. It runs beside a backup and other
verifies, not beside a prune or a restore (the store lock, shared).

Without set IDs it also checks the WAL archive (unless --no-wal): every
stored segment and chunk against the SHA-256 its name carries, no segment
missing from the oldest base backup's start to the head on every timeline
followed, and how far each base backup is carried; --deep also checks every
WAL page header. It ends with the one-line answer: recoverable to any
moment between A and B. -o json prints {"sets": [...], "wal": [...]}.

Exit codes: 0 every set is good · 2 a set failed (its file is named), or
refused (the store lock, the role, read-only) · 3 no such set · 1 the store
could not be read.`,
		ValidArgsFunction: g.CompleteSets(0),
		Example: `  opsdeck backups verify
  opsdeck backups verify 20261125_020000 --deep
  opsdeck backups verify --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return cli.Exit(3, fmt.Errorf("give set IDs or --all, not both"))
			}
			for _, id := range args {
				if !backup.ValidID(id) {
					return cli.Exit(3, fmt.Errorf("bad backup id %q: want YYYYMMDD_HHMMSS (see opsdeck backups list)", id))
				}
			}
			eng, ctx, done, err := g.BackupEngine(cmd, out)
			if err != nil {
				return err
			}
			defer done()
			p := g.Printer(cmd, out)
			results, err := eng.Verify(ctx, backup.VerifyOptions{IDs: args, All: all, Deep: deep, Progress: verifyProgress(p)})
			var archives []backup.WALVerifyResult
			if len(args) == 0 && !noWAL && (err == nil || len(results) > 0) {
				var werr error
				archives, werr = eng.VerifyArchives(ctx, deep, verifyProgress(p))
				if err == nil {
					err = werr
				}
			}
			if perr := p.Result(verifySchema, VerifyOutput{Sets: results, WAL: archives}, func() error {
				for _, r := range results {
					fmt.Fprintf(p.Out, "%s  %-13s  %d file(s)\n", r.ID, r.State(), r.Files)
					for _, pr := range r.Problems {
						fmt.Fprintf(p.Out, "  FAILED %s\n", pr)
					}
				}
				for _, a := range archives {
					printWALVerify(p, a)
				}
				return nil
			}); perr != nil {
				return perr
			}
			if err != nil {
				if len(results) > 0 || len(archives) > 0 {
					// A damaged set: refused, as the restore would refuse it.
					if p.Structured() {
						return cli.ExitSilently(cli.CodeRefused)
					}
					return cli.Exit(cli.CodeRefused, err)
				}
				return cli.Fail(err)
			}
			return nil
		},
	}
	out.Register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "verify every set")
	cmd.Flags().BoolVar(&deep, "deep", false, "also read the content: pg_restore --list, RDB parse, YAML parse, WAL page headers")
	cmd.Flags().BoolVar(&noWAL, "no-wal", false, "check the backup sets only, not the WAL archive")
	return cmd
}

// VerifyOutput is `backups verify -o json`.
type VerifyOutput struct {
	Sets []backup.VerifyResult    `json:"sets"`
	WAL  []backup.WALVerifyResult `json:"wal"`
}

// printWALVerify prints one WAL archive's check.
func printWALVerify(p *cli.Printer, r backup.WALVerifyResult) {
	state := "verified"
	if r.Deep {
		state = "verified-deep"
	}
	if !r.OK() {
		state = "failed"
	}
	fmt.Fprintf(p.Out, "WAL archive of system %d  %-13s  %d object(s), %s\n", r.SystemID, state, r.Objects, progress.Bytes(r.Bytes))
	for _, pr := range r.Problems {
		fmt.Fprintf(p.Out, "  FAILED %s\n", pr)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(p.Out, "  note: %s\n", n)
	}
	for _, c := range r.Coverage {
		if c.OK() {
			fmt.Fprintf(p.Out, "  base %s: WAL from %s to %s on timeline %d\n", c.Base.ID, c.Base.Start, c.To, c.ToTimeline)
		}
	}
	fmt.Fprintf(p.Out, "  %s\n", cli.RecoverableLine(r.Spans))
}

// verifyProgress is p's progress without the failures: they are printed
// with the results.
func verifyProgress(p *cli.Printer) progress.Func {
	show := p.Progress(false)
	return func(e progress.Event) {
		if e.Kind != progress.Fail {
			show(e)
		}
	}
}

func pruneCommand(g *cli.Globals) *cobra.Command {
	var (
		out         cli.Output
		dryRun, yes bool
	)
	cmd := &cobra.Command{
		Use:   "prune [--dry-run] [--yes]",
		Short: "Delete sets past their component's retention (never the newest verified one)",
		Long: `Deletes sets whose every component is past its retention (backup.retention_days:
database 30, redis 30, config 90, logs 7 by default), and the leftovers of
interrupted runs. The newest verified set of each component is always kept;
failed and unverified sets never count as the ones kept. --dry-run shows the
plan and changes nothing. Without --yes it asks on a terminal, and refuses
when there is none (pass --yes in cron). It needs the store to itself: a
backup, a verify or a restore running refuses it (exit 2), naming each.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, ctx, done, err := g.BackupEngine(cmd, out)
			if err != nil {
				return err
			}
			defer done()
			p := g.Printer(cmd, out)
			plan, err := eng.Prune(ctx, backup.PruneOptions{DryRun: true})
			if err != nil {
				return cli.Fail(err)
			}
			if dryRun {
				return p.Result(pruneSchema, plan, func() error { return printPlan(p, plan.Plan) })
			}
			dels := plan.Plan.Deletes()
			// Nothing to delete asks nothing, but still goes through Prune:
			// it checks the session's role and records the run.
			nothing := len(dels) == 0 && len(plan.Plan.Leftovers) == 0
			if !yes && !nothing {
				if !p.Structured() {
					if err := printPlan(p, plan.Plan); err != nil {
						return err
					}
				}
				if !g.IsTerminal(os.Stdin) {
					return cli.Exit(cli.CodeRefused, fmt.Errorf("prune would delete %d set(s): pass --yes to confirm (no terminal to ask on)", len(dels)))
				}
				fmt.Fprintf(p.Err, "Delete %d set(s) and %d leftover(s)? [y/N] ", len(dels), len(plan.Plan.Leftovers))
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return cli.Exit(cli.CodeRefused, fmt.Errorf("not confirmed — nothing deleted"))
				}
			}
			res, err := eng.Prune(ctx, backup.PruneOptions{Progress: p.Progress(true)})
			if perr := p.Result(pruneSchema, res, func() error {
				switch {
				case nothing && err == nil:
					if err := printPlan(p, res.Plan); err != nil {
						return err
					}
					fmt.Fprintln(p.Out, "nothing to delete")
				case err == nil || len(res.Deleted) > 0:
					fmt.Fprintf(p.Out, "deleted %d set(s) (%s freed), %d leftover(s)\n", len(res.Deleted), progress.Bytes(res.Freed), len(res.Plan.Leftovers))
				}
				return nil
			}); perr != nil {
				return perr
			}
			if err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
	out.Register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be deleted and change nothing")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (cron)")
	return cmd
}

// printPlan prints what a prune keeps and deletes, and why.
func printPlan(p *cli.Printer, plan backup.PrunePlan) error {
	t := p.Table("ID", "KIND", "AGE", "SIZE", "ACTION", "WHY")
	for _, d := range plan.Decisions {
		act := "keep"
		if d.Delete {
			act = "DELETE"
		}
		t.Row(d.ID, d.Kind, Age(d.Age), progress.Bytes(d.Size), act, d.Reason)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, id := range plan.Leftovers {
		fmt.Fprintf(p.Out, "leftover of an interrupted run: %s (DELETE)\n", id)
	}
	for _, wn := range plan.Warnings {
		fmt.Fprintf(p.Out, "warning: %s\n", wn)
	}
	return nil
}

// Age renders a duration as kubectl does: 45s, 12m, 5h, 3d.
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// printWALSummary prints the WAL archive under the list: per cluster its
// head, its gaps, how far each base backup is carried, and what it can
// recover to (read from names only; `backups verify` reads the bytes).
func printWALSummary(ctx context.Context, p *cli.Printer, eng *backup.Engine, sets []backup.Set) {
	ovs, err := eng.ReadWALOverviews(ctx, backup.WALStarts(sets))
	if err != nil {
		fmt.Fprintf(p.Out, "\nWAL archive: not read: %v\n", err)
		return
	}
	for _, o := range ovs {
		fmt.Fprintln(p.Out)
		p.WALOverview(o)
	}
}
