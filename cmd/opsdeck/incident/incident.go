// Package incident is `opsdeck incident`: open an incident, note on it,
// read its timeline, write a diagnostic bundle, close it with a postmortem
// skeleton. Every session of the cockpit, local or served, shows the open
// one in a banner.
package incident

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// The documents of -o json.
var (
	showSchema  = cli.NewSchema[Output]("opsdeck.incident.show/v1", "incident show")
	openSchema  = cli.NewSchema[Output]("opsdeck.incident.open/v1", "incident open")
	noteSchema  = cli.NewSchema[Output]("opsdeck.incident.note/v1", "incident note")
	closeSchema = cli.NewSchema[Output]("opsdeck.incident.close/v1", "incident close")
	listSchema  = cli.NewSchema[[]opincident.Incident]("opsdeck.incident.list/v1", "incident list")
)

// Output is one incident with its timeline.
type Output struct {
	opincident.Incident
	// Response is the level's response time; Overdue says it has passed
	// while the incident is open.
	Response time.Duration `json:"response_ns"`
	Overdue  bool          `json:"overdue"`
	// Timeline is the incident's entries and the sources' (see
	// ops/incident.Timeline), oldest first.
	Timeline []opincident.Entry `json:"timeline"`
}

// Command returns `opsdeck incident`.
func Command(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incident",
		Short: "Run an incident: open it, note on it, read its timeline, close it with a postmortem",
		Long: `Incident mode. An incident has a level (P0–P3, with the response times of
incident.response: 15m, 1h, 4h, 24h by default), a title and who opened it;
every cockpit session, local or over opsdeck serve, shows it in a banner
that turns red once the response time has passed.

Its timeline starts incident.lookback (30m) before the opening: the alerts
that fired and resolved, the checks that changed state (recorded by any
running cockpit or server, and at the opening), the cluster's rollouts and
Warning events, opsdeck's audit records (backups, restores, silences,
maintenance), new kinds of errors in the logs, the notes and the bundles.

Incidents live in state_dir/incidents, one per environment at a time.
Viewers read them; operators open them and add notes; closing someone
else's needs an admin. Every change is audited.`,
	}
	cmd.AddCommand(openCommand(g), noteCommand(g), closeCommand(g), listCommand(g), showCommand(g), BundleCommand(g))
	return cmd
}

// session is what every subcommand works with.
type session struct {
	cfg    *config.Config
	store  *opincident.Store
	closer io.Closer
}

// run is a subcommand's RunE around body: -o checked, the configuration
// and the store loaded, ctx cancelled by Ctrl-C, the printer ready.
func run(g *cli.Globals, out *cli.Output, body func(ctx context.Context, s *session, p *cli.Printer, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := out.Validate(); err != nil {
			return err
		}
		s, err := load(g)
		if err != nil {
			return err
		}
		defer s.closer.Close()
		ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt)
		defer stop()
		return body(ctx, s, g.Printer(cmd, *out), args)
	}
}

func load(g *cli.Globals) (*session, error) {
	cfg, _, closer, err := g.Load()
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, store: opincident.NewStore(cfg, g.Audit(cfg)), closer: closer}, nil
}

// sources are the timeline's sources; Kubernetes only when a client can be
// built (its absence is a line of the timeline, not a failure).
func (s *session) sources() (opincident.Sources, error) {
	kc, err := kube.NewClient(s.cfg.Kubernetes, s.cfg.Timeouts.Check)
	if err != nil {
		return opincident.NewSources(s.cfg, nil), fmt.Errorf("kubernetes: %w", err)
	}
	return opincident.NewSources(s.cfg, kc), nil
}

// timeline builds inc's timeline, with a line for a source not configured.
func (s *session) timeline(ctx context.Context, inc opincident.Incident) []opincident.Entry {
	src, kerr := s.sources()
	tl := opincident.Timeline(ctx, inc, src, time.Now())
	if kerr != nil {
		tl = append(tl, opincident.Entry{At: time.Now(), Kind: opincident.KindSource, Text: kerr.Error()})
	}
	return tl
}

// output is inc with its timeline for printing.
func (s *session) output(inc opincident.Incident, tl []opincident.Entry) Output {
	now := time.Now()
	return Output{Incident: inc, Response: inc.Response(s.cfg.Incident), Overdue: inc.Overdue(s.cfg.Incident, now), Timeline: tl}
}

func openCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "open LEVEL TITLE…",
		Short: "Open an incident (P0–P3) and record the alerts and failing checks at this moment",
		Long: `Opens an incident at LEVEL (P0, P1, P2 or P3; "p1" and "1" do too) with TITLE
(the rest of the line), as you. The alerts firing and the checks failing
now are recorded as its first entries (bounded by timeouts.check). Only one
incident is open per environment: a second is refused with the open one's
name.

Exit codes: 0 opened · 1 failed · 2 refused (role, read-only, one is open)
· 3 the command line.`,
		Example: `  opsdeck incident open P1 "API 5xx after deploy"
  opsdeck incident open 2 reports slow since 09:00`,
		Args: cobra.MinimumNArgs(2),
		RunE: run(g, &out, func(ctx context.Context, s *session, p *cli.Printer, args []string) error {
			level, err := opincident.ParseLevel(args[0])
			if err != nil {
				return cli.Exit(cli.CodeUsage, err)
			}
			inc, err := s.store.Open(ctx, level, strings.Join(args[1:], " "))
			if err != nil {
				return cli.Fail(err)
			}
			rec := opincident.Recorder{Store: s.store, Alerts: opincident.AlertmanagerAlerts(s.cfg),
				Checks: func(ctx context.Context) health.Report { return health.Run(ctx, s.cfg) }}
			if err := rec.Once(ctx); err != nil && !p.Structured() {
				fmt.Fprintf(p.Err, "opsdeck: the state at the opening was recorded in part: %v\n", err)
			}
			if got, err := s.store.Get(ctx, inc.ID); err == nil {
				inc = got
			}
			res := s.output(inc, inc.Entries)
			return p.Result(openSchema, res, func() error {
				fmt.Fprintf(p.Out, "%s opened: %s %s, by %s — respond within %s (by %s)\n", inc.Name(), inc.Level, inc.Title,
					inc.OpenedBy, opincident.Short(res.Response), inc.OpenedAt.Add(res.Response).Local().Format("15:04"))
				printEntries(p, inc.Entries[1:])
				fmt.Fprintf(p.Out, "\nnext: opsdeck incident note \"what you saw or did\" · opsdeck incident bundle · opsdeck incident show · opsdeck incident close\n")
				return nil
			})
		}),
	}
	out.Register(cmd)
	return cmd
}

func noteCommand(g *cli.Globals) *cobra.Command {
	var (
		out cli.Output
		id  int
	)
	cmd := &cobra.Command{
		Use:   "note TEXT…",
		Short: "Add a note to the open incident (or --id N)",
		Long: `Adds TEXT (the rest of the line) to the timeline of the open incident, or of
incident --id, with your name and the time. Secrets of the configuration are
masked before it is stored.

Exit codes: 0 noted · 1 failed · 2 refused (a viewer, read-only) · 3 no such
incident, none open, or no text.`,
		Example: `  opsdeck incident note "rolled api back to v1.4.2"
  opsdeck incident note --id 7 "customer report: checkout fails"`,
		Args: cobra.MinimumNArgs(1),
		RunE: run(g, &out, func(ctx context.Context, s *session, p *cli.Printer, args []string) error {
			inc, err := s.store.Note(ctx, id, strings.Join(args, " "))
			if err != nil {
				return cli.Fail(err)
			}
			return p.Result(noteSchema, s.output(inc, inc.Entries), func() error {
				fmt.Fprintf(p.Out, "noted on %s (%d entries)\n", inc.Name(), len(inc.Entries))
				return nil
			})
		}),
	}
	out.Register(cmd)
	cmd.Flags().IntVar(&id, "id", 0, "the incident (default: the open one)")
	return cmd
}

func closeCommand(g *cli.Globals) *cobra.Command {
	var (
		out     cli.Output
		id      int
		summary string
	)
	cmd := &cobra.Command{
		Use:   "close",
		Short: "Close the open incident (or --id N) and write its postmortem skeleton",
		Long: `Closes the open incident, or incident --id, and writes a postmortem skeleton
in Markdown into state_dir/incidents: summary, impact window (first alert or
failed check to the last resolved), the whole timeline, the actions taken
(audit records and notes), the diagnostic bundles, and the sections a team
fills in (root cause, follow-ups).

Whoever opened an incident may close it; closing someone else's needs the
admin role.

Exit codes: 0 closed · 1 failed · 2 refused · 3 no such incident or none
open.`,
		Example: `  opsdeck incident close --summary "bad deploy of api v1.5.0, rolled back"
  opsdeck incident close --id 7`,
		Args: cobra.NoArgs,
		RunE: run(g, &out, func(ctx context.Context, s *session, p *cli.Printer, args []string) error {
			var tl []opincident.Entry
			inc, err := s.store.Close(ctx, id, summary, func(inc opincident.Incident) []opincident.Entry {
				tl = s.timeline(ctx, inc)
				return tl
			})
			if err != nil {
				return cli.Fail(err)
			}
			return p.Result(closeSchema, s.output(inc, tl), func() error {
				fmt.Fprintf(p.Out, "%s closed after %s (%d timeline entries)\npostmortem skeleton: %s\n",
					inc.Name(), opincident.Short(inc.Elapsed(inc.ClosedAt)), len(tl), inc.Postmortem)
				return nil
			})
		}),
	}
	out.Register(cmd)
	cmd.Flags().IntVar(&id, "id", 0, "the incident (default: the open one)")
	cmd.Flags().StringVar(&summary, "summary", "", "what happened, for the postmortem's summary")
	return cmd
}

func listCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the environment's incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: run(g, &out, func(ctx context.Context, s *session, p *cli.Printer, args []string) error {
			all, err := s.store.List(ctx)
			if err != nil {
				return cli.Fail(err)
			}
			if all == nil {
				all = []opincident.Incident{}
			}
			return p.Result(listSchema, all, func() error {
				if len(all) == 0 {
					fmt.Fprintln(p.Out, "no incidents yet (opsdeck incident open LEVEL TITLE opens one)")
					return nil
				}
				now := time.Now()
				t := p.Table("ID", "LEVEL", "STATE", "OPENED", "BY", "FOR", "TITLE")
				for _, inc := range all {
					state := "closed"
					if inc.IsOpen() {
						state = "open"
						if inc.Overdue(s.cfg.Incident, now) {
							state = "OVERDUE"
						}
					}
					t.Row(strconv.Itoa(inc.ID), inc.Level, state, inc.OpenedAt.Local().Format("2006-01-02 15:04"), inc.OpenedBy,
						opincident.Short(inc.Elapsed(now)), cli.Clip(inc.Title, 60))
				}
				return t.Flush()
			})
		}),
	}
	out.Register(cmd)
	return cmd
}

func showCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "show [ID]",
		Short: "Show an incident (default: the open one) and its timeline",
		Long: `Shows the incident and its timeline, built now: its own entries (opening,
notes, bundles, recorded alert and check changes, closing) and, from
incident.lookback before the opening to its end, the audit records, the
cluster's rollouts and Warning events, the alerts firing and the new kinds
of errors. A source that cannot be read is a line of the timeline.`,
		Example: `  opsdeck incident show
  opsdeck incident show 7 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: run(g, &out, func(ctx context.Context, s *session, p *cli.Printer, args []string) error {
			id := 0
			if len(args) == 1 {
				n, err := strconv.Atoi(strings.TrimPrefix(args[0], "#"))
				if err != nil || n <= 0 {
					return cli.Exit(cli.CodeUsage, fmt.Errorf("%q is not an incident number (opsdeck incident list shows them)", args[0]))
				}
				id = n
			}
			inc, err := s.store.Get(ctx, id)
			if err != nil {
				return cli.Fail(err)
			}
			res := s.output(inc, s.timeline(ctx, inc))
			return p.Result(showSchema, res, func() error {
				state := "open for " + opincident.Short(inc.Elapsed(time.Now()))
				if !inc.IsOpen() {
					state = fmt.Sprintf("closed by %s after %s", inc.ClosedBy, opincident.Short(inc.Elapsed(time.Now())))
				} else if res.Overdue {
					state += ", past its response time of " + opincident.Short(res.Response)
				}
				fmt.Fprintf(p.Out, "%s · %s %s · opened by %s at %s · %s\n\n", inc.Name(), inc.Level, inc.Title, inc.OpenedBy,
					inc.OpenedAt.Local().Format("2006-01-02 15:04"), state)
				printEntries(p, res.Timeline)
				if inc.Postmortem != "" {
					fmt.Fprintf(p.Out, "\npostmortem: %s\n", inc.Postmortem)
				}
				return nil
			})
		}),
	}
	out.Register(cmd)
	return cmd
}

// printEntries prints timeline entries one per line.
func printEntries(p *cli.Printer, es []opincident.Entry) {
	t := p.Table("TIME", "KIND", "WHO", "WHAT")
	for _, e := range es {
		t.Row(e.At.Local().Format("15:04:05"), e.Label(), e.Who, cli.Clip(e.Text, 140))
	}
	_ = t.Flush()
}
