// Package restore is `opsdeck restore database|redis|config|full`: the
// plan and its preflight, a typed confirmation, then each step's progress
// on stderr and the summary on stdout.
package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/internal/version"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

type flags struct {
	out            cli.Output
	targetDB       string
	dryRun, yes    bool
	noSafety       bool
	updateExisting bool
	quiet          bool
	// A point-in-time database restore's target.
	toTime, toLSN string
	toXID         uint64
	inclusive     bool
	// A table restore's copy name and dependents; a merge's copies and
	// its overwrite with the second confirmation.
	into             string
	withDependents   bool
	from             []string
	overwrite        bool
	confirmOverwrite string
	// stdinIsTerminal is replaced in tests.
	stdinIsTerminal func() bool
}

// The documents of -o json: the report of a restore (or a recover), the
// plan of a dry run or a refused restore.
var (
	reportSchema = cli.NewSchema[oprestore.Report]("opsdeck.restore/v1", "restore")
	planSchema   = cli.NewSchema[oprestore.Plan]("opsdeck.restore.plan/v1", "restore")
)

// Command returns `opsdeck restore`.
func Command(g *cli.Globals) *cobra.Command {
	return newCommand(g, func() bool { return g.IsTerminal(os.Stdin) })
}

func newCommand(g *cli.Globals, stdinIsTerminal func() bool) *cobra.Command {
	f := &flags{stdinIsTerminal: stdinIsTerminal}
	cmd := &cobra.Command{
		Use:   "restore database|redis|config|full [ID|latest] | restore table TABLE... --to… [--with-dependents] | restore merge TABLE... --from COPY... [--overwrite] | restore recover",
		Short: "Restore a backup set, step by step, undoing everything if a step fails",
		// A kind, then latest or the sets that hold it; no completion of
		// a table restore's tables.
		ValidArgsFunction: g.CompleteKindThenSet(append(slices.Concat(oprestore.Kinds, oprestore.TableKinds), "recover"),
			oprestore.Table, oprestore.Merge, "recover"),
		Long: `Restores from a backup set (default: the newest one holding the component,
safety backups of earlier restores left out) as a plan of named steps, each
with a precondition, an action, a verification and an undo:

  database  preflight · safety backup · pg_restore --jobs into <db>_restore_<id> ·
            row counts against the manifest · writers (restore.writers) scaled to 0 ·
            swap: <db> → <db>_pre_<time>, <db>_restore_<id> → <db> · writers back ·
            health checks
  redis     preflight · safety snapshot · FLUSHALL and replay of the RDB ·
            key counts per DB against the manifest
  config    preflight with a server-side dry-run diff per object · server-side apply
            (field manager opsdeck) of missing objects (and, with --update-existing,
            of those that differ) in dependency order
  full      config, database and redis in one plan

A database can also be restored to a moment of the WAL archive (opsdeck wal
stream, opsdeck backup base): with --to, --to-lsn or --to-xid the newest
base backup that reaches the target (or the set ID given) is recovered with
the WAL in a private PostgreSQL instance on this machine (restore.work_dir;
the server of the base backup's major version must be installed), the
database is copied from it into <db>_restore_<id> and compared with it table
by table, then swapped in as above. --inclusive=false stops just before the
target ("just before the TRUNCATE"). A time without a zone is this machine's
local time; the plan shows the offset.

  table     preflight · recover as above · copy each table, as it was then, into
            <table>_at_<time> (or --into) in the live database: its columns and key,
            by a binary COPY stream · compare with the recovered instance. Nothing
            of production changes; then it prints what a merge would do and the
            command. --with-dependents also copies the tables that reference the
            named ones by foreign key (transitively), each into its own copy.
  merge     insert the rows of each copy (--from, one per table, in the same order)
            that its live table lacks, matched on the copy's key, in one
            transaction, parents before children (foreign keys; a cycle is
            refused); the rows inserted are kept in <copy>_merged, by which the
            undo deletes them. Rows whose key exists with other values are shown
            (a preview) and left, or with --overwrite given the copy's values, their
            live values kept in <copy>_overwritten for the undo; an overwrite asks
            for a second typed confirmation, "overwrite N rows" (or
            --confirm-overwrite "overwrite N rows" with --yes).

If a step fails or the run is interrupted, the steps done are undone in
reverse and the original data keeps serving. A restore that was killed
outright (SIGKILL, a lost host) leaves a journal in the state directory; the
next restore refuses to start and ` + "`opsdeck restore recover`" + ` undoes what it
had changed. The plan and the preflight are
shown first; --dry-run stops there. Without --yes you confirm by typing the
database name (redis: "flushall"; config: the namespace). Needs the admin
role; one backup or restore runs at a time per store. A Markdown report is
written to state_dir/reports and every run is audited.

Exit codes: 0 restored · 1 failed (undone) · 2 refused (preflight, lock, role,
not confirmed) · 3 bad configuration or arguments · 4 failed and the undo did
not finish (read the report).`,
		Example: `  opsdeck restore database --dry-run
  opsdeck restore database 20261124_020000
  opsdeck restore database latest --target-db stockapp_copy --yes
  opsdeck restore config --update-existing
  opsdeck restore full latest
  opsdeck restore database --to "2026-12-07 09:13:00"
  opsdeck restore database --to-xid 48213 --inclusive=false
  opsdeck restore table daily_prices --to "2026-12-07 09:13:00" --into daily_prices_0913
  opsdeck restore merge daily_prices --from daily_prices_0913
  opsdeck restore table stocks --to "2026-12-07 09:13:00" --with-dependents
  opsdeck restore merge stocks daily_prices --from stocks_at_20261207_0913 --from daily_prices_at_20261207_0913
  opsdeck restore merge stocks --from stocks_0913 --overwrite --yes --confirm-overwrite "overwrite 3 rows"
  opsdeck restore recover`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "recover" {
				return nil
			}
			switch {
			case len(args) > 0 && args[0] == oprestore.Table && len(args) < 2:
				return cli.Exit(3, errors.New("name the tables to restore: opsdeck restore table TABLE... --to TIME"))
			case len(args) > 0 && args[0] == oprestore.Table:
				return nil
			case len(args) > 0 && args[0] == oprestore.Merge && len(args) < 2:
				return cli.Exit(3, errors.New("name the tables to merge into: opsdeck restore merge TABLE... --from COPY, once per table"))
			case len(args) > 0 && args[0] == oprestore.Merge:
				return nil
			}
			if len(args) < 1 || len(args) > 2 {
				return cli.Exit(3, fmt.Errorf("say what to restore: %s, and optionally a set ID or latest (or table, merge)", strings.Join(oprestore.Kinds, ", ")))
			}
			for _, k := range oprestore.Kinds {
				if args[0] == k {
					return nil
				}
			}
			return cli.Exit(3, fmt.Errorf("unknown restore kind %q: choose %s", args[0], strings.Join(slices.Concat(oprestore.Kinds, oprestore.TableKinds), ", ")))
		},
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, g, args) },
	}
	f.out.Register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.targetDB, "target-db", "", "the database to replace (default: the one postgres.dsn names)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and the preflight results, change nothing")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask for the typed confirmation (cron, scripts)")
	fl.BoolVar(&f.noSafety, "no-safety-backup", false, "skip the safety backup (the renamed old database is still kept)")
	fl.BoolVar(&f.updateExisting, "update-existing", false, "config: also update live objects that differ from the backup")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress on stderr, only warnings and failures")
	fl.StringVar(&f.toTime, "to", "", `database, table: restore to this time of the WAL archive ("2026-12-07 09:13:00", local time, or with an offset; latest: everything stored)`)
	fl.StringVar(&f.toLSN, "to-lsn", "", "database: restore to this WAL position (0/3000158)")
	fl.Uint64Var(&f.toXID, "to-xid", 0, "database: restore to the commit of this transaction id")
	fl.BoolVar(&f.inclusive, "inclusive", true, "with --to, --to-lsn or --to-xid: include the target (false: stop just before it)")
	fl.StringVar(&f.into, "into", "", "table: the copy's name (default <table>_at_<time>)")
	fl.BoolVar(&f.withDependents, "with-dependents", false, "table: also copy the tables that reference these by foreign key, transitively")
	fl.StringArrayVar(&f.from, "from", nil, "merge: a copy whose rows go back into its table; once per table, in the order of the tables")
	fl.BoolVar(&f.overwrite, "overwrite", false, "merge: also give the rows that differ the copy's values (asks a second confirmation)")
	fl.StringVar(&f.confirmOverwrite, "confirm-overwrite", "", `merge --overwrite: the second confirmation, as the plan asks it ("overwrite 12 rows")`)
	return cmd
}

// pointInTime reads the target flags: nil without one.
func (f *flags) pointInTime(kind string) (*pitr.Target, error) {
	n := 0
	for _, set := range []bool{f.toTime != "", f.toLSN != "", f.toXID != 0} {
		if set {
			n++
		}
	}
	switch {
	case n == 0 && !f.inclusive:
		return nil, cli.Exit(cli.CodeUsage, errors.New("--inclusive=false needs a target: --to, --to-lsn or --to-xid"))
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, cli.Exit(cli.CodeUsage, errors.New("give one target: --to, --to-lsn or --to-xid"))
	case kind != oprestore.Database && kind != oprestore.Table:
		return nil, cli.Exit(cli.CodeUsage, fmt.Errorf("--to, --to-lsn and --to-xid restore the database or tables, not %s", kind))
	}
	t := &pitr.Target{Exclusive: !f.inclusive, How: "typed on the command line"}
	var err error
	switch {
	case f.toTime == "latest":
		// The archive's head: every byte stored.
	case f.toTime != "":
		t.Time, err = pitr.ParseTime(f.toTime, time.Local)
	case f.toLSN != "":
		t.LSN, err = pgwal.ParseLSN(f.toLSN)
		if err != nil {
			err = fmt.Errorf("--to-lsn %q is not a WAL position (like 0/3000158): %w", f.toLSN, err)
		}
	default:
		t.XID = f.toXID
	}
	if err != nil {
		return nil, cli.Exit(cli.CodeUsage, err)
	}
	return t, nil
}

func (f *flags) run(cmd *cobra.Command, g *cli.Globals, args []string) error {
	if err := f.out.Validate(); err != nil {
		return err
	}
	cfg, _, closer, err := g.Load()
	if err != nil {
		return err
	}
	defer closer.Close()
	be, err := backup.New(cfg, version.String(), g.Audit(cfg))
	if err != nil {
		return cli.Exit(3, err)
	}
	ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	p := g.Printer(cmd, f.out)
	opts := oprestore.Options{Kind: args[0], TargetDB: f.targetDB, NoSafetyBackup: f.noSafety, UpdateExisting: f.updateExisting}
	if opts.PointInTime, err = f.pointInTime(args[0]); err != nil {
		return err
	}
	if err := f.tableFlags(args); err != nil {
		return err
	}
	switch args[0] {
	case oprestore.Table:
		opts.Tables, opts.Into, opts.WithDependents, args = args[1:], f.into, f.withDependents, args[:1]
	case oprestore.Merge:
		opts.Tables, opts.From, opts.Overwrite, args = args[1:], f.from, f.overwrite, args[:1]
	}
	if len(args) == 2 && opts.PointInTime != nil && args[1] == "latest" {
		args = args[:1] // the newest base backup that reaches the target
	}
	if len(args) == 2 {
		opts.ID = args[1]
		if opts.ID != "latest" && !backup.ValidID(opts.ID) {
			return cli.Exit(cli.CodeUsage, fmt.Errorf("%q is not a backup set ID (YYYYMMDD_HHMMSS) or latest — list them with opsdeck backups list", opts.ID))
		}
	}
	eng := oprestore.New(be)
	events := p.Progress(f.quiet || p.Structured())
	if args[0] == "recover" {
		return f.recover(cmd, p, eng, cfg, events)
	}
	plan, err := eng.Prepare(ctx, opts, events)
	if err != nil {
		return prepareFailed(err)
	}
	blocked := plan.Blocked()
	switch {
	case !p.Structured():
		printPlan(p.Out, plan)
	case f.dryRun || blocked != nil:
		// One JSON document: the plan when it is all there is to say,
		// the report when the restore runs.
		if err := p.PrintDocument(planSchema, plan); err != nil {
			return err
		}
	}
	if blocked != nil {
		// The same code for text and JSON: the plan says why.
		return cli.Exit(cli.CodeRefused, fmt.Errorf("%w — nothing was changed", blocked))
	}
	if f.dryRun && p.Structured() {
		return nil
	}
	if f.dryRun {
		fmt.Fprintln(p.Out, "dry run: nothing was changed")
		return nil
	}
	in := bufio.NewReader(cmd.InOrStdin())
	if !f.yes {
		if !f.stdinIsTerminal() {
			return cli.Exit(2, fmt.Errorf("no terminal to confirm on — pass --yes to restore without the typed confirmation"))
		}
		if !confirm(ctx, in, p.Err, plan.Confirm) {
			return cli.Exit(2, fmt.Errorf("not confirmed — nothing was changed"))
		}
	}
	if err := f.acknowledgeOverwrite(ctx, in, p.Err, plan); err != nil {
		return err
	}
	rep, err := eng.Run(ctx, plan, events)
	if rep != nil {
		if perr := p.Result(reportSchema, rep, func() error { printReport(p.Out, rep); return nil }); perr != nil {
			return perr
		}
	}
	if err == nil && opts.Kind == oprestore.Table && !p.Structured() {
		printMergeHints(ctx, p.Out, eng, plan)
	}
	switch {
	case err == nil:
		return nil
	case rep == nil || len(rep.Steps) == 0:
		return cli.Exit(2, err) // refused before any step: role, lock
	case !rep.Undone:
		return cli.Exit(4, err)
	}
	return cli.Exit(1, err)
}

// prepareFailed gives a plan that could not be made its exit code: the
// rule's for a wrong command line or configuration (an unknown set: 3),
// else refused with nothing changed (2).
func prepareFailed(err error) error {
	if code := cli.CodeOf(err); code != cli.CodeFailed {
		return cli.Exit(code, err)
	}
	return cli.Exit(cli.CodeRefused, err)
}

// tableFlags refuses the flags of table restores and merges given to
// another kind, and a merge's wrong combinations.
func (f *flags) tableFlags(args []string) error {
	kind := args[0]
	only := func(set bool, flag, k string) error {
		if set && kind != k {
			return cli.Exit(cli.CodeUsage, fmt.Errorf("%s is for restore %s, not %s", flag, k, kind))
		}
		return nil
	}
	for _, err := range []error{
		only(f.into != "", "--into", oprestore.Table),
		only(f.withDependents, "--with-dependents", oprestore.Table),
		only(len(f.from) > 0, "--from", oprestore.Merge),
		only(f.overwrite, "--overwrite", oprestore.Merge),
		only(f.confirmOverwrite != "", "--confirm-overwrite", oprestore.Merge),
	} {
		if err != nil {
			return err
		}
	}
	switch {
	case kind == oprestore.Table && f.into != "" && f.withDependents:
		return cli.Exit(cli.CodeUsage, errors.New("--into names one table's copy: with --with-dependents the copies take their default names (<table>_at_<time>)"))
	case kind == oprestore.Merge && len(f.from) == 0:
		return cli.Exit(cli.CodeUsage, errors.New("merge needs the copies to take the rows from: --from COPY, once per table"))
	case kind == oprestore.Merge && len(f.from) != len(args)-1:
		return cli.Exit(cli.CodeUsage, fmt.Errorf("%d tables and %d copies: give one --from per table, in the order of the tables", len(args)-1, len(f.from)))
	case f.confirmOverwrite != "" && !f.overwrite:
		return cli.Exit(cli.CodeUsage, errors.New("--confirm-overwrite confirms --overwrite: add --overwrite, or leave both out"))
	}
	return nil
}

// acknowledgeOverwrite asks the second confirmation of a merge that
// overwrites changed rows (or takes --confirm-overwrite), and records it
// in the plan, which the engine checks again.
func (f *flags) acknowledgeOverwrite(ctx context.Context, in *bufio.Reader, w io.Writer, plan *oprestore.Plan) error {
	want := plan.ConfirmOverwrite
	if want == "" {
		return nil
	}
	typed := f.confirmOverwrite
	if typed == "" {
		if f.yes || !f.stdinIsTerminal() {
			return cli.Exit(cli.CodeRefused, fmt.Errorf("the merge overwrites changed rows: confirm it with --confirm-overwrite %q (the count the plan shows) — nothing was changed", want))
		}
		fmt.Fprintf(w, "The merge also overwrites changed rows with the copies' values (the preview above shows some).\n")
		typed = ask(ctx, in, w, want)
	}
	if err := plan.AcknowledgeOverwrite(typed); err != nil {
		return cli.Exit(cli.CodeRefused, err)
	}
	return nil
}

// confirm asks for the typed name; Ctrl-C (ctx ending) cancels too.
func confirm(ctx context.Context, in *bufio.Reader, w io.Writer, want string) bool {
	return ask(ctx, in, w, want) == want
}

// ask asks for want to be typed and returns the line typed ("" when ctx
// ends first).
func ask(ctx context.Context, in *bufio.Reader, w io.Writer, want string) string {
	fmt.Fprintf(w, "Type %q to go on (anything else cancels): ", want)
	answer := make(chan string, 1)
	go func() {
		line, _ := in.ReadString('\n')
		answer <- line
	}()
	select {
	case line := <-answer:
		if line == "" {
			fmt.Fprintln(w)
		}
		return strings.TrimSpace(line)
	case <-ctx.Done():
		fmt.Fprintln(w)
		return ""
	}
}

// recover undoes what a killed restore left changed, after a typed
// confirmation.
func (f *flags) recover(cmd *cobra.Command, p *cli.Printer, eng *oprestore.Engine, cfg *config.Config, events progress.Func) error {
	stdout := p.Out
	j, err := oprestore.Interrupted(cfg)
	if err != nil {
		return cli.Exit(2, err)
	}
	if j == nil {
		fmt.Fprintln(stdout, "nothing to recover: no restore was interrupted")
		return nil
	}
	fmt.Fprintf(stdout, "interrupted: %s\n", j.Describe())
	if f.dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was changed")
		return nil
	}
	if !f.yes {
		if !f.stdinIsTerminal() {
			return cli.Exit(2, fmt.Errorf("no terminal to confirm on — pass --yes to recover"))
		}
		if !confirm(cmd.Context(), bufio.NewReader(cmd.InOrStdin()), p.Err, "recover") {
			return cli.Exit(2, fmt.Errorf("not confirmed — nothing was changed"))
		}
	}
	rep, err := eng.Recover(context.WithoutCancel(cmd.Context()), events)
	if rep != nil {
		if perr := p.Result(reportSchema, rep, func() error { printReport(stdout, rep); return nil }); perr != nil {
			return perr
		}
	}
	switch {
	case err != nil && rep == nil:
		return cli.Exit(2, err) // refused: role, read-only, lock
	case err != nil:
		return cli.Exit(4, err)
	}
	return nil
}
