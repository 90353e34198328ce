package check

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/rollout"
)

// deploySchema is `opsdeck check deploy -o json`.
var deploySchema = cli.NewSchema[rollout.Report]("opsdeck.check.deploy/v1", "check deploy")

// defaultWait is how long --wait follows the rollouts: a Deployment's
// default progress deadline.
const defaultWait = 10 * time.Minute

// deployCommand returns `opsdeck check deploy`.
func deployCommand(g *cli.Globals) *cobra.Command {
	var (
		out     cli.Output
		wait    bool
		timeout time.Duration
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "deploy [NAME...]",
		Short: "Validate a deployment: rollouts, images, pods, Services, smoke checks, migrations",
		Long: `Validates what a deploy left running, in the namespaces of the config (or -n)
or for the workloads named (deploy/NAME, statefulset/NAME, daemonset/NAME, or a
bare NAME of any kind):

  rollout   every Deployment, StatefulSet and DaemonSet rolled out, as kubectl
            rollout status judges it (a Deployment past its progress deadline
            failed; one still rolling is a warning)
  images    pinned (no :latest, no untagged image) and one build across the
            pods (their image IDs agree, and match a pinned digest)
  pods      the newest revision's pods ready, none restarted since the rollout
  service/  each Service selecting the workload has ready endpoints
  http      the checks.http smoke checks: each URL's status and p95 latency
  postgres  the migrations table at checks.migrations.expected

--wait follows the rollouts first, until every one is done or one fails or
--timeout passes (then one still rolling is critical); Ctrl-C stops it.

It changes nothing: every role may run it. Needs RBAC list on deployments,
statefulsets, daemonsets, replicasets, controllerrevisions, pods, services and
endpointslices.

Exit codes follow the Nagios convention, as opsdeck check's:
  0 ok · 1 warn · 2 crit · 3 unknown (or an unknown NAME) · 130 interrupted`,
		Example: `  opsdeck check deploy
  opsdeck check deploy deploy/api deploy/worker --wait --timeout 15m
  opsdeck -n stockapp check deploy api -o json
  opsdeck check deploy --quiet || kubectl -n stockapp rollout undo deploy/api`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			for _, a := range args {
				if _, _, err := rollout.ParseName(a); err != nil {
					return cli.Exit(cli.CodeUsage, err)
				}
			}
			if timeout <= 0 {
				return cli.Exit(cli.CodeUsage, fmt.Errorf("--timeout %s: give a positive duration such as 10m", timeout))
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			client, err := kube.NewClient(cfg.Kubernetes, cfg.Timeouts.Check)
			if err != nil {
				return cli.Exit(cli.CodeUsage, err)
			}
			p := g.Printer(cmd, out)
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt)
			defer stop()
			req := rollout.Request{Names: args, Namespaces: client.Namespaces()}
			if wait {
				w, err := rollout.Wait(ctx, client, req, timeout, cfg.Timeouts.Check, p.Progress(quiet))
				if err != nil {
					return fail(err)
				}
				req.TimedOut = w.TimedOut
				fmt.Fprintf(p.Err, "%s %s\n", time.Now().Format("15:04:05"), waitedLine(w, timeout))
			}
			rep, err := rollout.Check(ctx, client, cfg, req)
			if err == nil && ctx.Err() != nil {
				err = fmt.Errorf("check deploy: %w", ctx.Err()) // Ctrl-C: the lines are cut short
			}
			if err != nil {
				return fail(err)
			}
			shown := health.Report{Results: rep.Results, Status: rep.Status, Took: rep.Took}
			if quiet {
				shown = onlyProblems(shown)
			}
			if err := p.Result(deploySchema, rep, func() error { return printText(p, shown) }); err != nil {
				return err
			}
			if code := rep.Status.ExitCode(); code != 0 {
				return cli.ExitSilently(code)
			}
			return nil
		},
	}
	out.Register(cmd)
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "follow the rollouts until they are done or fail, then check")
	f.DurationVar(&timeout, "timeout", defaultWait, "with --wait, how long to follow the rollouts")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the checks that are not ok (and no wait progress)")
	return cmd
}

// fail gives an error its exit code: an unknown NAME is the command
// line's.
func fail(err error) error {
	if rollout.IsUsage(err) {
		return cli.Exit(cli.CodeUsage, err)
	}
	return cli.Fail(err)
}

// waitedLine says how a wait ended.
func waitedLine(w rollout.Waited, timeout time.Duration) string {
	took := w.Took.Round(time.Second)
	switch {
	case len(w.Failed) > 0:
		return fmt.Sprintf("rollout failed after %s: %s", took, strings.Join(w.Failed, ", "))
	case w.TimedOut:
		return fmt.Sprintf("rollout not done within %s", timeout)
	}
	return fmt.Sprintf("rollout done in %s", took)
}
