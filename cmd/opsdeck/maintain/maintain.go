// Package maintain is `opsdeck maintain`: routine maintenance of the
// database, Redis, the backup store and the cluster, as a report of
// findings with evidence, and the actions they suggest done after
// confirmation (or --yes in cron). Exit codes are `opsdeck check`'s.
package maintain

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/internal/version"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// flags are the command's options.
type flags struct {
	out                cli.Output
	dryRun, yes, all   bool
	report             string
	cancel, terminate  []int
	maxOps             int
	dbs                []int
	resume, noKeyspace bool
	quiet, verbose     bool
	stdinIsTerminal    func() bool
	stderrIsTerminal   func() bool
}

// schema is `opsdeck maintain -o json`.
var schema = cli.NewSchema[opmaintain.Report]("opsdeck.maintain/v1", "maintain")

// Command returns `opsdeck maintain`.
func Command(g *cli.Globals) *cobra.Command {
	return newCommand(g, func() bool { return g.IsTerminal(os.Stdin) }, func() bool { return g.IsTerminal(os.Stderr) })
}

// newCommand builds the command with the terminal tests given (tests fake
// a terminal to answer the questions).
func newCommand(g *cli.Globals, stdinIsTerminal, stderrIsTerminal func() bool) *cobra.Command {
	f := &flags{stdinIsTerminal: stdinIsTerminal, stderrIsTerminal: stderrIsTerminal}
	cmd := &cobra.Command{
		Use:   "maintain full|health|cleanup|db|redis|security|capacity",
		Short: "Maintenance: database and Redis upkeep, cleanup, security audit, capacity planning",
		Long: `Reads and judges one area (or all of them with full) and prints the findings:
what was found, on which object, the evidence, why it matters and what to do.

  health    the morning check (opsdeck check) plus the age of the last backups
  db        dead tuples with last (auto)vacuum/analyze, long queries, sessions idle
            in a transaction, lock waits (who blocks whom), unused and duplicate
            indexes, sizes, a bloat estimate, connections, cache hit ratio
  redis     memory, fragmentation, evictions, hit rate, keys per database, and a
            keyspace analysis: biggest keys per type, memory by prefix, TTLs
  cleanup   log archives past retention, backups past retention and leftovers of
            interrupted backups, <db>_pre_* databases left by restores
  security  Postgres, Redis, Kubernetes and the backup store
  capacity  growth, days until full, which resource runs out first

Actions — VACUUM (ANALYZE) of the tables past the threshold (db), deletions
(cleanup), --cancel/--terminate of sessions (db) — are listed, then asked for
one by one on a terminal (default No), or done without asking with --yes.
Without a terminal and without --yes they are listed and not done. --dry-run
never acts. In read-only mode actions are never done. Every action is audited.

Exit codes follow opsdeck check: 0 ok · 1 warn · 2 crit · 3 unknown or a usage
error. A finding that could not be checked for lack of a privilege is "n/a"
and does not change the exit code.`,
		Example: `  opsdeck maintain health --report /var/log/opsdeck/health-$(date +%F).md
  opsdeck maintain db --dry-run
  opsdeck maintain db --yes                 # cron: vacuum what is past the threshold
  opsdeck maintain db --terminate 4242      # end a stuck session (asks first)
  opsdeck maintain redis --max-ops-per-sec 2000 --db 0
  opsdeck maintain redis --resume           # go on after an interrupted analysis
  opsdeck maintain cleanup --yes
  opsdeck maintain full -o json`,
		ValidArgsFunction: cli.Words(modes()...),
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cli.Exit(3, fmt.Errorf("one mode at a time, got %q: use full for all of them", strings.Join(args, " ")))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Exit(3, fmt.Errorf("which mode? choose one of %s", modeNames()))
			}
			mode, err := opmaintain.ParseMode(args[0])
			if err != nil {
				return cli.Exit(3, err)
			}
			if err := f.validate(mode, cmd); err != nil {
				return cli.Exit(3, err)
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, cmd, g.Printer(cmd, f.out), opmaintain.New(cfg, version.String(), g.Audit(cfg)), mode, f)
		},
	}
	f.out.Register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be done and change nothing")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do the actions without asking (cron)")
	fl.StringVar(&f.report, "report", "", `write a Markdown maintenance report to PATH ("-" for standard output)`)
	fl.BoolVar(&f.all, "all", false, "db: vacuum every table, not only those past the dead-tuple threshold")
	fl.IntSliceVar(&f.cancel, "cancel", nil, "db: cancel the running statement of session PID (repeatable)")
	fl.IntSliceVar(&f.terminate, "terminate", nil, "db: terminate session PID (repeatable)")
	fl.IntVar(&f.maxOps, "max-ops-per-sec", -1, "redis: cap on commands per second of the keyspace analysis, 0 for none (default maintenance.redis.max_ops_per_sec)")
	fl.IntSliceVar(&f.dbs, "db", nil, "redis: analyse only this database (repeatable)")
	fl.BoolVar(&f.resume, "resume", false, "redis: go on with the last interrupted keyspace analysis")
	fl.BoolVar(&f.noKeyspace, "no-keyspace", false, "redis: skip the keyspace analysis (INFO only)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the findings that are not ok")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the evidence and suggestion of every finding")
	return cmd
}

func modeNames() string { return strings.Join(modes(), ", ") }

// modes lists the modes' names, in the order the CLI documents them.
func modes() []string {
	var names []string
	for _, m := range opmaintain.Modes {
		names = append(names, string(m))
	}
	return names
}

// validate rejects flags that do not fit the mode or each other.
func (f *flags) validate(mode opmaintain.Mode, cmd *cobra.Command) error {
	if err := f.out.Validate(); err != nil {
		return err
	}
	has := func(m ...opmaintain.Mode) bool { return slices.Contains(m, mode) }
	for _, c := range []struct {
		flag  string
		set   bool
		modes []opmaintain.Mode
	}{
		{"--all", f.all, []opmaintain.Mode{opmaintain.ModeDB, opmaintain.ModeFull}},
		{"--cancel", len(f.cancel) > 0, []opmaintain.Mode{opmaintain.ModeDB, opmaintain.ModeFull}},
		{"--terminate", len(f.terminate) > 0, []opmaintain.Mode{opmaintain.ModeDB, opmaintain.ModeFull}},
		{"--max-ops-per-sec", cmd.Flags().Changed("max-ops-per-sec"), []opmaintain.Mode{opmaintain.ModeRedis, opmaintain.ModeFull}},
		{"--db", len(f.dbs) > 0, []opmaintain.Mode{opmaintain.ModeRedis, opmaintain.ModeFull}},
		{"--resume", f.resume, []opmaintain.Mode{opmaintain.ModeRedis, opmaintain.ModeFull}},
		{"--no-keyspace", f.noKeyspace, []opmaintain.Mode{opmaintain.ModeRedis, opmaintain.ModeFull}},
	} {
		if c.set && !has(c.modes...) {
			var names []string
			for _, m := range c.modes {
				names = append(names, string(m))
			}
			return fmt.Errorf("%s belongs to maintain %s, not %s", c.flag, strings.Join(names, " or "), mode)
		}
	}
	switch {
	case f.dryRun && f.yes:
		return fmt.Errorf("--dry-run and --yes contradict each other: choose one")
	case f.resume && f.noKeyspace:
		return fmt.Errorf("--resume and --no-keyspace contradict each other")
	case f.quiet && f.verbose:
		return fmt.Errorf("--quiet and --verbose contradict each other")
	case f.maxOps < -1:
		return fmt.Errorf("--max-ops-per-sec %d: use 0 for no cap or a positive rate", f.maxOps)
	}
	for _, pid := range append(slices.Clone(f.cancel), f.terminate...) {
		if pid <= 0 {
			return fmt.Errorf("%d is not a process id", pid)
		}
	}
	for _, db := range f.dbs {
		if db < 0 {
			return fmt.Errorf("--db %d: Redis databases are numbered from 0", db)
		}
	}
	return nil
}

// run does the run, the actions and the output.
func run(ctx context.Context, cmd *cobra.Command, p *cli.Printer, e *opmaintain.Engine, mode opmaintain.Mode, f *flags) error {
	defer e.Close()
	var runProgress progress.Func
	if !p.Structured() && f.stderrIsTerminal() {
		runProgress = p.Progress(false)
	}
	rep, err := e.Run(ctx, opmaintain.Options{
		Mode: mode, DryRun: f.dryRun,
		Keyspace: opmaintain.KeyspaceOptions{DBs: f.dbs, MaxOpsPerSec: f.maxOps, Resume: f.resume, Skip: f.noKeyspace},
		Progress: runProgress,
	})
	if err != nil && rep == nil {
		return cli.Exit(3, err)
	}
	if err != nil {
		fmt.Fprintf(p.Err, "opsdeck: interrupted (%v): the report below is incomplete\n", err)
	}
	todo, err := actions(rep, mode, f)
	if err != nil {
		return cli.Exit(3, err)
	}
	text := !p.Structured() && f.report != "-"
	if text {
		// The findings first, so that the questions come with their reasons.
		if err := printText(p, rep, f.quiet, f.verbose); err != nil {
			return err
		}
	}
	if ctx.Err() == nil && len(todo) > 0 {
		act(ctx, cmd, p, e, rep, todo, f)
		if text && len(rep.Actions) > 0 {
			if err := printActions(p, rep); err != nil {
				return err
			}
		}
	}
	// JSON once the actions are done; the Markdown report on stdout
	// replaces it.
	if p.Structured() && f.report != "-" {
		if err := p.PrintDocument(schema, rep); err != nil {
			return err
		}
	}
	if f.report != "" {
		if err := writeReport(f.report, p.Out, rep); err != nil {
			return cli.Exit(3, err)
		}
	}
	if ctx.Err() != nil {
		return cli.ExitSilently(3)
	}
	if code := rep.Status.ExitCode(); code != 0 {
		return cli.ExitSilently(code)
	}
	return nil
}

// actions returns the findings whose actions this run is to do.
func actions(rep *opmaintain.Report, mode opmaintain.Mode, f *flags) ([]opmaintain.Finding, error) {
	var out []opmaintain.Finding
	if mode == opmaintain.ModeDB || mode == opmaintain.ModeFull {
		out = append(out, opmaintain.VacuumTargets(rep, f.all)...)
		for _, pid := range f.cancel {
			sf, err := opmaintain.SignalFinding(rep, pid, false)
			if err != nil {
				return nil, fmt.Errorf("--cancel %d: %w", pid, err)
			}
			out = append(out, sf)
		}
		for _, pid := range f.terminate {
			sf, err := opmaintain.SignalFinding(rep, pid, true)
			if err != nil {
				return nil, fmt.Errorf("--terminate %d: %w", pid, err)
			}
			out = append(out, sf)
		}
	}
	if mode == opmaintain.ModeCleanup || mode == opmaintain.ModeFull {
		for _, p := range rep.PendingActions() {
			switch p.Action.Kind {
			case opmaintain.ActDeleteFile, opmaintain.ActDropDatabase, opmaintain.ActPruneBackups:
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// act asks for and does the actions, recording their results in rep.
func act(ctx context.Context, cmd *cobra.Command, p *cli.Printer, e *opmaintain.Engine, rep *opmaintain.Report, todo []opmaintain.Finding, f *flags) {
	stderr := p.Err
	switch {
	case f.dryRun:
		fmt.Fprintf(stderr, "dry run: %d action(s) not done:\n", len(todo))
		listActions(stderr, todo)
		return
	case rep.ReadOnly:
		fmt.Fprintf(stderr, "read-only: %d action(s) not done:\n", len(todo))
		listActions(stderr, todo)
		return
	}
	chosen := todo
	if !f.yes {
		if !f.stdinIsTerminal() {
			fmt.Fprintf(stderr, "%d action(s) not done — pass --yes to do them (no terminal to ask on):\n", len(todo))
			listActions(stderr, todo)
			return
		}
		chosen = confirm(cmd.InOrStdin(), stderr, todo)
	}
	if len(chosen) == 0 {
		fmt.Fprintln(stderr, "nothing done")
		return
	}
	var actProgress progress.Func
	if !p.Structured() {
		actProgress = p.Progress(false)
	}
	e.ApplyAll(ctx, rep, chosen, actProgress)
}

func listActions(w io.Writer, todo []opmaintain.Finding) {
	for _, t := range todo {
		fmt.Fprintf(w, "  - %s\n", t.Action.Label)
	}
}

// confirm asks about the vacuums together and about every other action
// alone; anything but y or yes is No.
func confirm(in io.Reader, w io.Writer, todo []opmaintain.Finding) []opmaintain.Finding {
	r := bufio.NewReader(in)
	ask := func(q string) bool {
		fmt.Fprintf(w, "%s [y/N] ", q)
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(w)
			return false
		}
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes"
	}
	var vacuums, chosen []opmaintain.Finding
	for _, t := range todo {
		if t.Action.Kind == opmaintain.ActVacuum {
			vacuums = append(vacuums, t)
		}
	}
	if len(vacuums) > 0 {
		fmt.Fprintf(w, "VACUUM (ANALYZE) takes no lock that blocks reads or writes, but adds I/O:\n")
		listActions(w, vacuums)
		if ask(fmt.Sprintf("Vacuum these %d table(s)?", len(vacuums))) {
			chosen = append(chosen, vacuums...)
		}
	}
	for _, t := range todo {
		if t.Action.Kind == opmaintain.ActVacuum {
			continue
		}
		q := t.Action.Label + "?"
		if t.Action.Destructive() {
			q = "This cannot be undone: " + q
		}
		if ask(q) {
			chosen = append(chosen, t)
		}
	}
	return chosen
}

// writeReport writes the Markdown report to path ("-": stdout) atomically,
// readable by its owner only (it may quote queries and key names).
func writeReport(path string, stdout io.Writer, rep *opmaintain.Report) error {
	if path == "-" {
		return opmaintain.WriteMarkdown(stdout, rep)
	}
	var b strings.Builder
	if err := opmaintain.WriteMarkdown(&b, rep); err != nil {
		return err
	}
	if err := safefile.Write(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write the report to %s: %w — check the directory exists and is writable", path, err)
	}
	return nil
}
