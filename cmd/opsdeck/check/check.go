// Package check is `opsdeck check`, the quick morning check: every target
// checked concurrently, one line each, Nagios exit codes.
package check

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// schema is `opsdeck check -o json`.
var schema = cli.NewSchema[health.Report]("opsdeck.check/v1", "check")

// Command returns `opsdeck check`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		out     cli.Output
		timeout time.Duration
		targets []string
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Quick morning check of PostgreSQL, Redis and Kubernetes",
		Long: `Checks every configured target concurrently against the thresholds in the
config and prints one line per check: status, value, threshold and a hint.

Exit codes follow the Nagios convention, so cron and monitoring can use them:
  0 ok · 1 warn · 2 crit · 3 unknown (a target could not be checked)`,
		Example: `  opsdeck check
  opsdeck check -o json
  opsdeck check --target postgres,redis --timeout 2s
  opsdeck check --quiet || page-someone
  opsdeck check deploy --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			for _, t := range targets {
				if !slices.Contains(health.Targets, t) {
					return cli.Exit(3, fmt.Errorf("unknown target %q: choose from %s", t, strings.Join(health.Targets, ", ")))
				}
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			if timeout > 0 {
				cfg.Timeouts.Check = timeout
			}
			p := g.Printer(cmd, out)
			if cfg.Path == "" && !p.Structured() {
				fmt.Fprintf(p.Err, "opsdeck: no config file (looked in %s); checking what the environment names\n",
					strings.Join(config.SearchPaths(), ", "))
			}
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt)
			defer stop()
			rep := health.Run(ctx, cfg, targets...)
			if len(targets) == 0 {
				rep = withDrills(ctx, rep, cfg)
			}
			shown := rep
			if quiet {
				shown = onlyProblems(rep)
			}
			if err := p.Result(schema, rep, func() error { return printText(p, shown) }); err != nil {
				return err
			}
			if code := rep.Status.ExitCode(); code != 0 {
				return cli.ExitSilently(code)
			}
			return nil
		},
	}
	out.Register(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound on each target's check (default timeouts.check, 5s)")
	cmd.Flags().StringSliceVar(&targets, "target", nil, "check only these targets: "+strings.Join(health.Targets, ","))
	cli.FlagWords(cmd, "target", health.Targets...)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the checks that are not ok")
	cmd.AddCommand(deployCommand(g))
	return cmd
}

func onlyProblems(rep health.Report) health.Report {
	var rs []health.Result
	for _, r := range rep.Results {
		if r.Status != health.OK {
			rs = append(rs, r)
		}
	}
	rep.Results = rs
	return rep
}

// printText prints one line per check and the summary.
func printText(p *cli.Printer, rep health.Report) error {
	t := p.Table("TARGET", "CHECK", "STATUS", "VALUE", "THRESHOLD", "HINT")
	for _, r := range rep.Results {
		t.Row(r.Target, r.Name, p.Status(r.Status), cli.Clip(r.Value, maxValue), r.Threshold, r.Hint)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(p.Out, "\n%s\n", summary(rep))
	return err
}

// maxValue keeps one long value (a scheduler message) from pushing every
// threshold and hint off the screen; -o json carries it whole.
const maxValue = 64

func summary(rep health.Report) string {
	counts := map[health.Status]int{}
	for _, r := range rep.Results {
		counts[r.Status]++
	}
	return fmt.Sprintf("%s: %d ok, %d warn, %d crit, %d unknown in %s",
		strings.ToUpper(rep.Status.String()), counts[health.OK], counts[health.Warn], counts[health.Crit], counts[health.Unknown],
		rep.Took.Round(time.Millisecond))
}

// withDrills adds, once there is a backup store, each component's set line
// (the newest verified set's age against backup.every plus a margin, and
// the newest set a drill proved) and, once drills have run
// (state_dir/drills.jsonl), its drill line: the newest proven drill,
// warned when older than drill.max_age, failed since, or slower than
// drill.rto_target.
func withDrills(ctx context.Context, rep health.Report, cfg *config.Config) health.Report {
	recs, err := oprestore.ReadDrills(cfg.StateDir)
	if err != nil {
		rep.Results = append(rep.Results, health.Result{Target: oprestore.DrillCheckTarget, Name: "drills", Status: health.Unknown, Value: err.Error()})
	}
	rep.Results = append(rep.Results, setLines(ctx, cfg, recs)...)
	if err == nil && len(recs) > 0 {
		// A kind's line once it is configured or has been drilled.
		st := oprestore.DrillStatuses(recs)
		var kinds []string
		for _, k := range oprestore.DrillKinds {
			_, drilled := st[k]
			if drilled || (k == oprestore.Database && cfg.Postgres.Configured()) || (k == oprestore.Redis && cfg.Redis.URL != "") ||
				(k == oprestore.PITR && cfg.Postgres.WAL.Stream) {
				kinds = append(kinds, k)
			}
		}
		rep.Results = append(rep.Results, oprestore.JudgeDrills(recs, kinds, cfg.Drill, time.Now())...)
	}
	rep.Status = health.Worst(rep.Results)
	return rep
}

// setLines judges the sets of each component the store holds or the
// config names (database, Redis); none without a store.
func setLines(ctx context.Context, cfg *config.Config, recs []oprestore.DrillRecord) []health.Result {
	if cfg.Backup.S3.Bucket == "" {
		if _, err := os.Stat(cfg.Backup.Dir); err != nil {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Check)
	defer cancel()
	st, err := backup.OpenStore(cfg)
	var sets []backup.Set
	if err == nil {
		sets, err = backup.List(ctx, st)
	}
	if err != nil {
		return []health.Result{{Target: oprestore.DrillCheckTarget, Name: "sets", Status: health.Unknown, Value: err.Error(),
			Hint: "check backup.dir or backup.s3 and the store's credentials"}}
	}
	var comps []string
	for _, c := range append(slices.Clone(backup.AllComponents), backup.Base) {
		_, held := backup.Latest(sets, c, false)
		if held || (c == backup.Database && cfg.Postgres.Configured()) || (c == backup.Redis && cfg.Redis.URL != "") ||
			(c == backup.Base && cfg.Postgres.WAL.Stream) {
			comps = append(comps, c)
		}
	}
	return oprestore.JudgeSets(sets, recs, comps, cfg.Backup.Every, time.Now())
}
