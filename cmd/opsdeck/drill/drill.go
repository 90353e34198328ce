// Package drill is `opsdeck drill database|redis|config|full [ID|latest]`: a backup set
// restored into an isolated target, proven, timed and removed. It never
// prompts, so it runs from cron: exit 0 proven, 1 failed, 2 refused, 3 a
// wrong command line or configuration.
package drill

import (
	"errors"
	"fmt"
	"io"
	"maps"
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
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

type flags struct {
	out    cli.Output
	target string
	quiet  bool
}

// schema is `opsdeck drill -o json`: the drill's restore report.
var schema = cli.NewSchema[oprestore.Report]("opsdeck.drill/v1", "drill")

// Command returns `opsdeck drill`.
func Command(g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "drill database|redis|config|pitr|full [ID|latest]",
		Short: "Prove a backup set restorable: restore it into an isolated target, check it exactly, time it, remove it",
		Long: `Restore a backup set into an isolated target — a temporary PostgreSQL
instance on this machine (loopback, throwaway directory under
restore.work_dir), or with drill.target: server a scratch database
<db>_drill_<set> on the production server — and prove it: every table's
fingerprint (an order-independent digest of its rows) recomputed from the
restored copy must equal the one recorded at backup time; sets taken
before the fingerprints are proven by their row counts, and the report
says so. A Redis drill loads the set's RDB into a temporary redis-server
on loopback (keys whose TTL passed since load too) and proves it by the
server's DEBUG DIGEST against the one computed from the RDB at backup
time, naming the databases that differ; sets taken before the digests
are proven by their key counts. A config drill applies every object of
the set to the live API server as a server-side dry run (nothing is
changed) and reports what would be refused and which namespaces are
missing. A pitr drill recovers a base backup (the newest the archive
carries to its head, or the set named) and every byte of WAL stored after
it in a private instance, and proves it three ways: pg_verifybackup holds
the unpacked files against the base backup's backup_manifest before the
server starts, replay must end past the archive's last whole record (read
from the stored WAL), and pg_amcheck must find every table and B-tree
index of every database sound; its RPO is the age of the archive's last
write. A full drill does the three first with a full set, one plan, one
history record, each component's proof in the report. Production is never
changed. The drill holds the backup store as
a reader (a backup may run beside it, a prune may not) and removes its
temporary servers and files on success, failure, Ctrl-C and SIGTERM; a
drill killed outright is cleaned up by the next one.

Each drill records its recovery time (RTO, each step's wall time) and the
set's age (the RPO it would have given) in state_dir/drills.jsonl, writes
a Markdown report under state_dir/reports and an audit record.

Never prompts; exit codes: 0 proven, 1 failed (the set did not restore or
does not match), 2 refused (the store lock, a missing extension package
or server binaries, the role), 3 a wrong command line or configuration.`,
		Example: `  opsdeck drill database              # the newest set
  opsdeck drill database 20260301_020000 -o json
  opsdeck drill database --target server
  opsdeck drill redis latest -q
  opsdeck drill config
  opsdeck drill pitr                  # the newest base backup and all the WAL after it
  opsdeck drill full latest -o json`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: g.CompleteKindThenSet(oprestore.DrillKinds),
		RunE:              func(cmd *cobra.Command, args []string) error { return f.run(cmd, g, args) },
	}
	f.out.Register(cmd)
	cmd.Flags().StringVar(&f.target, "target", "", `where to restore: "instance" or "server" (default: drill.target)`)
	cli.FlagWords(cmd, "target", config.DrillInstance, config.DrillServer)
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines on stderr")
	return cmd
}

func (f *flags) run(cmd *cobra.Command, g *cli.Globals, args []string) error {
	if err := f.out.Validate(); err != nil {
		return err
	}
	if !slices.Contains(oprestore.DrillKinds, args[0]) {
		return cli.Exit(cli.CodeUsage, fmt.Errorf("unknown drill %q: choose %s", args[0], strings.Join(oprestore.DrillKinds, ", ")))
	}
	opts := oprestore.Options{Kind: args[0]}
	if len(args) == 2 {
		opts.ID = args[1]
		if opts.ID != "latest" && !backup.ValidID(opts.ID) {
			return cli.Exit(cli.CodeUsage, fmt.Errorf("%q is not a backup set ID (YYYYMMDD_HHMMSS) or latest — list them with opsdeck backups list", opts.ID))
		}
	}
	cfg, _, closer, err := g.Load()
	if err != nil {
		return err
	}
	defer closer.Close()
	opts.Drill = cfg.Drill.Target
	if f.target != "" {
		opts.Drill = f.target
	}
	if opts.Drill != config.DrillInstance && opts.Drill != config.DrillServer {
		return cli.Exit(cli.CodeUsage, fmt.Errorf("--target %q: use instance or server", opts.Drill))
	}
	be, err := backup.New(cfg, version.String(), g.Audit(cfg))
	if err != nil {
		return cli.Exit(cli.CodeUsage, err)
	}
	ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	p := g.Printer(cmd, f.out)
	events := p.Progress(f.quiet || p.Structured())
	eng := oprestore.New(be)
	plan, err := eng.Prepare(ctx, opts, events)
	if err != nil {
		if code := cli.CodeOf(err); code != cli.CodeFailed {
			return cli.Exit(code, err)
		}
		return cli.Exit(cli.CodeRefused, err)
	}
	rep, err := eng.Run(ctx, plan, events)
	if rep != nil {
		if perr := p.Result(schema, rep, func() error { printReport(p.Out, rep); return nil }); perr != nil {
			return perr
		}
	}
	return exitOf(err)
}

// exitOf is a drill's exit code: 0 proven, 2 refused, 3 the
// configuration, 130 interrupted, 1 failed.
func exitOf(err error) error {
	var r *oprestore.RefusedError
	if err == nil {
		return nil
	}
	if errors.As(err, &r) {
		return cli.Exit(cli.CodeRefused, err)
	}
	if code := cli.CodeOf(err); code != cli.CodeFailed {
		return cli.Exit(code, err)
	}
	return cli.Exit(cli.CodeFailed, err)
}

// printReport prints the drill's outcome, proof, recovery time and steps.
func printReport(w io.Writer, rep *oprestore.Report) {
	d := rep.Drill
	if d == nil {
		return
	}
	p := rep.Plan
	fmt.Fprintf(w, "drill %s from %s: %s\n", p.Options.Kind, p.SetID, strings.ToUpper(d.Outcome))
	fmt.Fprintf(w, "  target   %s\n", d.Target)
	if len(d.Parts) == 0 {
		fmt.Fprintf(w, "  proof    %s\n", oprestore.ProofText(d))
	}
	for _, c := range slices.Sorted(maps.Keys(d.Parts)) {
		fmt.Fprintf(w, "  proof    %s: %s\n", c, oprestore.ProofText(d.Parts[c]))
	}
	if len(d.Differ) > 0 {
		fmt.Fprintf(w, "  differ   %s\n", strings.Join(d.Differ, ", "))
	}
	if len(d.Missing) > 0 {
		fmt.Fprintf(w, "  missing  namespaces %s\n", strings.Join(d.Missing, ", "))
	}
	fmt.Fprintf(w, "  RTO      %v\n", d.RTO.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  RPO      %v (%s)\n", d.RPO.Round(time.Minute), oprestore.RPOSource(d))
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "    %-18s %-8s %v\n", s.Name, s.State, s.Took.Round(10*time.Millisecond))
	}
	if !d.Cleaned {
		fmt.Fprintln(w, "  cleanup  NOT finished: the next drill removes what is left")
	}
	if rep.Err != "" {
		fmt.Fprintf(w, "  error    %s\n", rep.Err)
	}
	if rep.Path != "" {
		fmt.Fprintf(w, "  report   %s\n", rep.Path)
	}
}
