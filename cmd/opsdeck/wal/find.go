package wal

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// findSchema is `opsdeck wal find -o json`.
var findSchema = cli.NewSchema[pitr.Found]("opsdeck.wal.find/v1", "wal find")

func findCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	var since, until, share string
	var o pitr.FindOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "find",
		Short: "Find the destructive transactions in the WAL archive: DROP, TRUNCATE, mass DELETE/UPDATE, DDL",
		Long: `Reads the archived WAL (decoding the records itself) and lists the
transactions that destroyed data, oldest first: DROP TABLE and TRUNCATE
(the files a commit unlinks), DELETE or UPDATE of more than --min-rows rows
of one table or more than --min-share of it, rewrites (VACUUM FULL,
CLUSTER), and DDL on a table. Each with its commit time, transaction id,
LSN, the tables and row counts, and what else happened within a minute:
opsdeck's audit records, Kubernetes rollouts and Warning events.

Tables are named by the relation maps stored with each base backup and by
the WAL streamer, and by the live catalog when the server answers.

To restore to just before one, give its transaction to a restore:
  opsdeck restore database --to-xid XID --inclusive=false
  opsdeck restore table TABLE --to-xid XID --inclusive=false

--since and --until take a duration back from now (2h, 90m) or a time
(2026-12-07 09:13, the bastion's zone, or with an offset).

Exit codes: 0 listed (even none) · 1 the archive could not be read or is
damaged · 3 bad flags or configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var err error
			if o.Since, err = pastTime(since, now); err != nil {
				return cli.Exit(cli.CodeUsage, fmt.Errorf("--since: %w", err))
			}
			if o.Until, err = pastTime(until, now); err != nil {
				return cli.Exit(cli.CodeUsage, fmt.Errorf("--until: %w", err))
			}
			if !o.Since.IsZero() && !o.Until.IsZero() && !o.Until.After(o.Since) {
				return cli.Exit(cli.CodeUsage, errors.New("--until is not after --since: the window is empty"))
			}
			if o.MinShare, err = parseShare(share); err != nil {
				return cli.Exit(cli.CodeUsage, fmt.Errorf("--min-share: %w", err))
			}
			if o.MinRows < 1 {
				return cli.Exit(cli.CodeUsage, errors.New("--min-rows must be 1 or more"))
			}
			eng, ctx, done, err := g.BackupEngine(cmd, out)
			if err != nil {
				return err
			}
			defer done()
			p := g.Printer(cmd, out)
			f, err := pitr.Find(ctx, eng, o, p.Progress(quiet || p.Structured()))
			if err != nil {
				return cli.Fail(err)
			}
			return p.Result(findSchema, f, func() error { return printFound(p, f) })
		},
	}
	out.Register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only commits after this: a duration back from now (2h) or a time")
	fl.StringVar(&until, "until", "", "only commits before this: a duration back from now or a time")
	fl.StringSliceVar(&o.Tables, "table", nil, "only transactions touching this table (schema.table or table; repeat for more)")
	fl.Int64Var(&o.MinRows, "min-rows", pitr.DefaultMinRows, "rows of one table a DELETE or UPDATE must reach")
	fl.StringVar(&share, "min-share", "10%", "share of a table a DELETE or UPDATE must reach (whatever --min-rows says)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

// pastTime reads "2h" (back from now) or a time; "" is no bound.
func pastTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: give a duration back from now, like 2h", s)
		}
		return now.Add(-d), nil
	}
	return pitr.ParseTime(s, time.Local)
}

// parseShare reads "10%" or "0.1".
func parseShare(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if pct {
		v /= 100
	}
	if err != nil || v <= 0 || v > 1 {
		return 0, fmt.Errorf("%q is not a share: give 10%% or 0.1", s)
	}
	return v, nil
}

func printFound(p *cli.Printer, f *pitr.Found) error {
	w := p.Out
	if f.Segments == 0 {
		fmt.Fprintln(w, "no WAL in the window: nothing read")
	} else {
		fmt.Fprintf(w, "read %s … %s: %d segments, %s, %s records; commits %s – %s\n", f.From, f.To, f.Segments,
			progress.Bytes(f.Bytes), strconv.FormatInt(f.Records, 10), stamp(f.FromTime), stamp(f.ToTime))
	}
	for _, n := range f.Notes {
		fmt.Fprintf(p.Err, "note: %s\n", n)
	}
	if len(f.Events) == 0 {
		fmt.Fprintln(w, "no destructive transaction found")
		return nil
	}
	for i, ev := range f.Events {
		fmt.Fprintf(w, "\n#%d  %s  %s  xid %d  LSN %s\n", i+1, stamp(ev.Time), strings.ToUpper(string(ev.Kind())), ev.XID, ev.Commit)
		for _, r := range ev.Relations {
			fmt.Fprintf(w, "    %s\n", r)
		}
		for _, c := range ev.Context {
			fmt.Fprintf(w, "    · %s %-7s %s\n", c.Time.Local().Format("15:04:05"), c.Source, cli.Clip(c.Text, 110))
		}
	}
	last := f.Events[len(f.Events)-1]
	fmt.Fprintf(w, "\nto restore to just before #%d:  opsdeck restore database --to-xid %d --inclusive=false\n", len(f.Events), last.XID)
	if len(last.Relations) > 0 && last.Relations[0].Known {
		fmt.Fprintf(w, "or only its table:              opsdeck restore table %s --to-xid %d --inclusive=false\n", oprestore.ShellWord(last.Relations[0].Name), last.XID)
	}
	return nil
}

// stamp is a local time with its offset: "2026-12-07 09:13:02 +01:00".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 -07:00")
}
