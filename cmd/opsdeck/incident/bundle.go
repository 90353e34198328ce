package incident

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/bundle"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// bundleSchema is `opsdeck incident bundle -o json`.
var bundleSchema = cli.NewSchema[bundle.Result]("opsdeck.incident.bundle/v1", "incident bundle")

// BundleCommand returns `opsdeck incident bundle`.
func BundleCommand(g *cli.Globals) *cobra.Command {
	var (
		out      cli.Output
		path     string
		timeout  time.Duration
		logLines int
	)
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Write a diagnostic bundle (tar.zst, secrets redacted) of the cluster, PostgreSQL and Redis",
		Long: `Writes one tar.zst file (mode 0600) with what an incident needs, read
concurrently, each source within bundle.source_timeout and the whole within
bundle.timeout (--timeout):

  kubernetes/  the unhealthy pods (judged as the Health tab judges them):
               each described, with its containers' logs and previous logs
               (the last bundle.log_lines lines); the Warning events of the
               watched namespaces; every node's conditions
  postgres/    pg_stat_activity with waits, the blocking tree, pg_locks,
               the longest transactions, pg_stat_statements' top 20 (or a
               line saying it is not installed), replication and slots,
               pg_stat_archiver and opsdeck's WAL archive
  redis/       INFO, SLOWLOG GET (command names only), LATENCY LATEST,
               CLIENT LIST — never a key's value
  metrics.csv  one sample of every configured series now, two when
               metrics.interval allows (the cockpit's D writes its window)
  check.txt, check.json   opsdeck check's output
  config.yaml  the effective configuration, redacted
  MANIFEST, manifest.json  each part with its size, time and error

Every part passes through the configuration's secrets redactor, log lines
and query texts included. A source that fails or does not answer in time is
a line in its parts, named in the MANIFEST; the bundle is still written.

It changes nothing it reads, so read-only mode allows it; it needs the
operator role. It is audited (incident.bundle) with its path and size.

Exit codes: 0 written (failed parts are listed) · 1 could not be written
· 2 refused (the role).`,
		Example: `  opsdeck incident bundle
  opsdeck incident bundle --out /tmp/incident.tar.zst --timeout 30s
  opsdeck incident bundle -o json
  tar --zstd -tvf "$(opsdeck incident bundle -o json | jq -r .path)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			if timeout < 0 || logLines < 0 {
				return cli.Exit(cli.CodeUsage, errors.New("--timeout and --log-lines must not be negative"))
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			p := g.Printer(cmd, out)
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt)
			defer stop()
			opts := bundle.Options{Path: path, Timeout: timeout, LogLines: logLines}
			if timeout > 0 {
				opts.SourceTimeout = min(cfg.Bundle.SourceTimeout, timeout)
			}
			res, err := bundle.Collect(ctx, bundle.Sources{Config: cfg, Audit: g.Audit(cfg)}, opts)
			switch {
			case errors.Is(err, access.ErrForbidden) || errors.Is(err, access.ErrNoIdentity):
				return cli.Exit(cli.CodeRefused, err)
			case err != nil:
				return cli.Fail(err)
			}
			inc, recorded, rerr := opincident.NewStore(cfg, g.Audit(cfg)).RecordBundle(ctx, res.Path, res.Size)
			return p.Result(bundleSchema, res, func() error {
				if err := printBundle(p, res); err != nil {
					return err
				}
				switch {
				case rerr != nil:
					fmt.Fprintf(p.Err, "opsdeck: the bundle is not on the open incident's timeline: %v\n", rerr)
				case recorded:
					fmt.Fprintf(p.Out, "recorded on %s's timeline\n", inc.Name())
				}
				return nil
			})
		},
	}
	out.Register(cmd)
	cmd.Flags().StringVar(&path, "out", "", "the file to write (default: bundle.dir, else <state_dir>/bundles, bundle-<UTC time>.tar.zst)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound on the whole bundle (default bundle.timeout, 60s)")
	cmd.Flags().IntVar(&logLines, "log-lines", 0, "last lines kept of each container's log (default bundle.log_lines, 2000)")
	return cmd
}

// printBundle prints the file, its size and parts, and the failed parts
// with their errors.
func printBundle(p *cli.Printer, res bundle.Result) error {
	failed := res.Failed()
	if _, err := fmt.Fprintf(p.Out, "%s\n%s, %d parts, %d failed, in %s\n", res.Path, kube.HumanBytes(res.Size),
		len(res.Parts), len(failed), res.Took.Round(100*time.Millisecond)); err != nil {
		return err
	}
	if len(failed) == 0 {
		return nil
	}
	t := p.Table("FAILED PART", "ERROR")
	for _, f := range failed {
		t.Row(f.Name, cli.Clip(f.Err, 160))
	}
	return t.Flush()
}
