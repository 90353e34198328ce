// Package logs is `opsdeck logs`: a pod's or a Deployment's container
// logs, read through the API server, secrets redacted, optionally followed.
package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// The documents of -o json: the lines read, or with --follow one
// document per line.
var (
	schema     = cli.NewSchema[Output]("opsdeck.logs/v1", "logs")
	lineSchema = cli.NewSchema[kube.LogLine]("opsdeck.logs.line/v1", "logs")
)

// Output is `opsdeck logs -o json` without --follow.
type Output struct {
	Namespace string `json:"namespace"`
	Target    string `json:"target"`
	Previous  bool   `json:"previous"`
	// Sources are the containers read (several for deploy/NAME).
	Sources []kube.LogSource `json:"sources"`
	// Lines are the last --max-lines lines read, secrets redacted.
	Lines []kube.LogLine `json:"lines"`
	// Dropped counts the lines read but not kept (beyond --max-lines).
	Dropped uint64 `json:"dropped"`
	// Skipped are the pod/container of deploy/NAME --previous that never
	// restarted, so have no previous log.
	Skipped []string `json:"skipped,omitempty"`
}

// Command returns `opsdeck logs`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		out       cli.Output
		container string
		previous  bool
		since     time.Duration
		follow    bool
		tail      int64
		keep      int
	)
	cmd := &cobra.Command{
		Use:   "logs POD|deploy/NAME",
		Short: "Show a pod's or a Deployment's container logs, secrets redacted",
		Long: `Reads a container's log through the API server (pods/log), as kubectl logs
does, and masks the configuration's secrets and any password in a URL or
password=... in every line. deploy/NAME reads the log of each of the
Deployment's pods that runs on a node, each line prefixed with its pod.

A pod with several containers needs --container (-c is opsdeck's --config).
--previous reads the log of the container's previous instance, the one that
crashed. --follow streams new lines until Ctrl-C.

It changes nothing: every role may read logs, read-only mode included.
Needs RBAC get on pods and pods/log (and deployments for deploy/NAME).

Exit codes: 0 read · 1 failed (the API server or kubelet) · 2 refused (RBAC)
· 3 the command line (unknown pod, a container to choose, no previous log).`,
		Example: `  opsdeck logs api-7d9f8c6b5-2xk4p
  opsdeck logs deploy/api --since 10m
  opsdeck logs worker-5c8d-x2x9v --previous
  opsdeck logs two-containers --container proxy --tail 100 -f
  opsdeck logs deploy/api --tail 50 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			if since < 0 {
				return cli.Exit(cli.CodeUsage, fmt.Errorf("--since %s: give a positive duration such as 10m", since))
			}
			cfg, client, closer, err := load(g)
			if err != nil {
				return err
			}
			defer closer.Close()
			ns := client.Namespaces()[0]
			if ns == "" {
				return cli.Exit(cli.CodeUsage, errors.New("logs reads one namespace: give it with -n (kubernetes.namespaces watches all)"))
			}
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt)
			defer stop()
			req := kube.LogRequest{Namespace: ns, Target: args[0], Container: container, Previous: previous,
				Since: since, Tail: tail, Follow: follow, Keep: keep, Secrets: cfg.Secrets()}
			s, err := client.StreamLogs(ctx, req)
			if err != nil {
				return fail(err)
			}
			p := g.Printer(cmd, out)
			if p.Structured() && !follow {
				err := s.Wait()
				if err != nil && s.Ring().Total() == 0 {
					return fail(err)
				}
				r := s.Ring()
				doc := Output{Namespace: ns, Target: args[0], Previous: previous, Sources: s.Sources, Lines: r.Lines()}
				doc.Dropped, doc.Skipped = r.Total()-uint64(len(doc.Lines)), s.Skipped()
				if perr := p.PrintDocument(schema, doc); perr != nil {
					return perr
				}
				return fail(err)
			}
			return fail(printLines(p, s, len(s.Sources) > 1))
		},
	}
	out.Register(cmd)
	f := cmd.Flags()
	f.StringVar(&container, "container", "", "the container to read (needed when the pod has several)")
	f.BoolVarP(&previous, "previous", "p", false, "read the previous instance's log (the container that crashed)")
	f.DurationVar(&since, "since", 0, "only lines newer than this (10m, 2h)")
	f.BoolVarP(&follow, "follow", "f", false, "stream new lines until Ctrl-C")
	f.Int64Var(&tail, "tail", -1, "only the last N lines of each container's log (-1: all)")
	f.IntVar(&keep, "max-lines", kube.DefaultLogLines, "lines kept in memory while reading: a reader that falls behind skips the oldest")
	cmd.AddCommand(errorsCommand(g))
	return cmd
}

// load reads the configuration and makes the Kubernetes client both
// commands read logs through; closer ends the configuration's audit log.
func load(g *cli.Globals) (*config.Config, *kube.Client, io.Closer, error) {
	cfg, _, closer, err := g.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := kube.NewClient(cfg.Kubernetes, cfg.Timeouts.Check)
	if err != nil {
		closer.Close()
		return nil, nil, nil, cli.Exit(cli.CodeUsage, err)
	}
	return cfg, client, closer, nil
}

// printLines prints the lines as they arrive until the stream ends: text,
// prefixed with pod/container when several are read, or one document per
// line with -o json.
func printLines(p *cli.Printer, s *kube.LogStream, prefix bool) error {
	var seq uint64
	flush := func() error {
		lines, missed := s.Ring().After(seq)
		if missed > 0 {
			fmt.Fprintf(p.Err, "opsdeck: %d lines skipped: the output fell behind (raise --max-lines)\n", missed)
		}
		for _, l := range lines {
			seq = l.Seq
			var err error
			switch {
			case p.Structured():
				err = p.PrintStream(lineSchema, l)
			case prefix:
				_, err = fmt.Fprintf(p.Out, "[%s/%s] %s\n", l.Pod, l.Container, l.Text)
			default:
				_, err = fmt.Fprintln(p.Out, l.Text)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for {
		select {
		case <-s.Updates():
			if err := flush(); err != nil {
				return err
			}
		case <-s.Done():
			if err := flush(); err != nil {
				return err
			}
			if skipped := s.Skipped(); len(skipped) > 0 && !p.Structured() {
				fmt.Fprintf(p.Err, "opsdeck: no previous log (never restarted): %s\n", strings.Join(skipped, ", "))
			}
			return s.Err()
		}
	}
}

// fail gives err its exit code: the command line's mistakes 3, a missing
// RBAC permission 2, anything else 1.
func fail(err error) error {
	if err == nil {
		return nil
	}
	var te *kube.LogTargetError
	if errors.As(err, &te) || errors.Is(err, kube.ErrNoPreviousLog) {
		return cli.Exit(cli.CodeUsage, err)
	}
	if kind, _ := kube.Classify(err); kind == kube.KindForbidden {
		return cli.Exit(cli.CodeRefused, err)
	}
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C ends a follow
	}
	return cli.Fail(err)
}
