// Package demo is `opsdeck demo`: a throwaway sandbox (PostgreSQL, Redis and a
// Kubernetes API server, seeded with the stock-analysis application) and the
// cockpit opened on it. Everything is removed on exit.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/cockpit"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// Command returns `opsdeck demo`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		headless bool
		opts     sandbox.Options
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Open the cockpit on a throwaway local sandbox",
		Long: `Starts a throwaway PostgreSQL, Redis and Kubernetes API server on loopback
ports, seeds them with the stock-analysis application (with a few real
problems: a CrashLoopBackOff pod, a Pending pod, a NotReady node), writes an
opsdeck config for them and opens the cockpit. Quitting removes everything.

With --headless it prints the config path and waits for Ctrl-C, so that every
command can be tried against the sandbox from another shell.`,
		Example: `  opsdeck demo
  opsdeck demo --headless
  opsdeck demo --scale 0 --nodes 50 --pods 10000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			// A write to a closed stdout or stderr pipe (opsdeck demo | head,
			// a terminal that went away) raises SIGPIPE, which kills a Go
			// program whose SIGPIPE is not handled: the cleanup would stop at
			// its first message and leave the servers and their files. With
			// SIGPIPE delivered to a channel nobody reads, such a write only
			// fails with EPIPE (os/signal, "SIGPIPE"). Unlike signal.Ignore,
			// a handled signal is not inherited by the children we exec.
			signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
			// Until the sandbox's state dir exists, library logs go nowhere.
			cli.UseLogger(logging.Discard())
			errw := cmd.ErrOrStderr()
			start := time.Now()
			opts.Progress = func(step string) { fmt.Fprintf(errw, "opsdeck demo: %s…\n", step) }
			sb, err := sandbox.Start(ctx, opts)
			if err != nil {
				if ctx.Err() != nil {
					return cli.Exit(130, fmt.Errorf("demo interrupted; everything started was removed"))
				}
				return err
			}
			defer func() {
				// Messages are best effort (their write errors ignored); the
				// cleanup is not. What a kill cuts short, the next start
				// removes (sandbox.CleanLeftovers).
				_, _ = fmt.Fprintln(errw, "opsdeck demo: stopping the sandbox and removing its files…")
				if err := sb.Stop(); err != nil {
					_, _ = fmt.Fprintf(errw, "opsdeck demo: cleanup: %v\n", err)
				}
			}()
			fmt.Fprintf(errw, "opsdeck demo: ready in %s: %d price rows, %d pods on %d nodes\n",
				time.Since(start).Round(100*time.Millisecond), sb.PostgresSeed.Rows["daily_prices"], sb.KubeSeed.Pods, sb.KubeSeed.Nodes)

			cfg := sb.Config
			if g.ReadOnly {
				cfg.ReadOnly = true
			}
			log, closer, err := logging.Setup(cfg.StateDir, g.Debug, cfg.Secrets()...)
			if err != nil {
				log, closer = logging.Discard(), io.NopCloser(nil)
			}
			defer closer.Close()
			cli.UseLogger(log)

			// A live WAL archive: the cockpit runs the streamer (the
			// sandbox's own config file leaves it off, so a second
			// cockpit on it does not try), the demo a base backup.
			if !cfg.ReadOnly {
				cfg.Postgres.WAL.Stream = !headless
				actx, stopArchive := context.WithCancel(ctx)
				wait := startArchive(actx, cfg, headless, errw)
				defer func() { stopArchive(); wait() }()
			}

			if headless {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "config: %s\n\n", sb.ConfigPath)
				fmt.Fprintf(w, "try, from another shell:\n  export OPSDECK_CONFIG=%s\n  opsdeck check\n  opsdeck config show\n  opsdeck wal status\n  opsdeck\n", sb.ConfigPath)
				fmt.Fprintf(w, "  KUBECONFIG=%s kubectl get pods -n %s\n", sb.Kube.KubeconfigPath(), cfg.Kubernetes.Namespaces[0])
				fmt.Fprintf(w, "\nCtrl-C stops the sandbox and removes it.\n")
				<-ctx.Done()
				return nil
			}
			return cockpit.Run(ctx, cfg, g.Commands)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&headless, "headless", false, "start the sandbox, print its config path and wait for Ctrl-C")
	f.IntVar(&opts.Scale, "scale", 1, "Postgres data volume: 0 tiny, 1 ≈ 300,000 price rows, N ≈ N×300,000")
	f.IntVar(&opts.Nodes, "nodes", 6, "number of cluster nodes (one is NotReady)")
	f.IntVar(&opts.ExtraPods, "pods", 0, "extra healthy pods, for trying the cockpit on a big cluster")
	f.BoolVar(&opts.Load, "load", true, "run the load generator (prices, analysis queries, tasks, Redis traffic, a few errors) so the metrics move")
	f.BoolVar(&opts.Monitoring, "monitoring", true, "start Prometheus and Alertmanager when installed, scraping the load generator's metrics")
	return cmd
}
