// Package wal is `opsdeck wal stream|status`: the continuous WAL archive.
package wal

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// The documents of -o json (wal stream's a stream of them).
var (
	streamSchema = cli.NewSchema[StateLine]("opsdeck.wal.stream/v1", "wal stream")
	statusSchema = cli.NewSchema[Status]("opsdeck.wal.status/v1", "wal status")
)

// Command returns `opsdeck wal`.
func Command(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wal",
		Short: "Stream the PostgreSQL WAL into the backup store, and show the archive",
		Long: `The continuous WAL archive: a physical replication slot keeps every WAL
segment on the server until opsdeck has stored it durably in the backup
store (compressed, checksummed, encrypted like every backup file). With
base backups (opsdeck backup base) it makes a database recoverable to any
moment the archive covers, not only to the last nightly dump.

See docs/backups.md#continuous-archiving.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(streamCommand(g), statusCommand(g), findCommand(g))
	return cmd
}

// StateLine is one line of `wal stream -o json`: the streamer's state
// after a change.
type StateLine struct {
	Time        time.Time `json:"time"`
	Phase       string    `json:"phase"`
	Slot        string    `json:"slot"`
	SystemID    uint64    `json:"system_identifier,string"`
	Timeline    uint32    `json:"timeline"`
	Received    string    `json:"received_lsn"`
	Durable     string    `json:"durable_lsn"`
	ServerEnd   string    `json:"server_lsn"`
	LagBytes    int64     `json:"lag_bytes"`
	LastDurable time.Time `json:"last_durable,omitzero"`
	Error       string    `json:"error,omitempty"`
	Event       string    `json:"event,omitempty"`
}

func streamCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	var flush time.Duration
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Stream the WAL into the backup store until stopped (Ctrl-C, SIGTERM)",
		Long: `Streams the WAL over a physical replication slot (postgres.wal.slot,
created when missing) into the backup store, until Ctrl-C or SIGTERM. The
open segment is made durable every flush interval (postgres.wal.flush_interval:
1s on a local store, 10s on S3), and the server is told only what is
durable, so the slot keeps everything else. After a failure (server
restart, store unreachable) it reconnects with a growing wait and goes on
where the archive ends. One streamer runs per slot: opsdeck serve (with
postgres.wal.stream: true), a systemd unit and this command exclude each
other.

Exit codes: 0 stopped by a signal after streaming; 2 refused (the server's
settings, the role, pg_hba, another streamer); 3 bad configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, ctx, done, err := g.BackupEngine(cmd, out)
			if err != nil {
				return err
			}
			defer done()
			p := g.Printer(cmd, out)
			s := opwal.New(eng)
			if flush > 0 {
				s.Flush = flush
			}
			if s.DSN == "" && !eng.Config.Postgres.Configured() {
				return cli.Exit(cli.CodeUsage, errors.New("no PostgreSQL configured — set postgres.dsn (or postgres.wal.dsn)"))
			}
			if _, _, err := s.Preflight(ctx); err != nil {
				return cli.Exit(cli.CodeRefused, err)
			}
			events := 0
			var last opwal.State
			s.OnState = func(st opwal.State) {
				for ; events < len(st.Events); events++ {
					printState(p, st, st.Events[events])
				}
				if st.Phase != last.Phase || st.Err != last.Err {
					printState(p, st, "")
				}
				last = st
			}
			fmt.Fprintf(p.Err, "streaming the WAL through slot %s into %s (flush every %s); Ctrl-C stops\n", s.Slot, eng.Store, s.Flush)
			err = s.Run(ctx)
			if err != nil {
				return cli.Fail(err)
			}
			st := s.State()
			fmt.Fprintf(p.Err, "stopped: durable up to %s on timeline %d\n", st.Durable, st.Timeline)
			return nil
		},
	}
	out.Register(cmd)
	cmd.Flags().DurationVar(&flush, "flush-interval", 0, "make the open segment durable this often (default postgres.wal.flush_interval)")
	return cmd
}

func printState(p *cli.Printer, st opwal.State, event string) {
	line := StateLine{
		Time: time.Now().UTC(), Phase: string(st.Phase), Slot: st.Slot, SystemID: st.SystemID, Timeline: st.Timeline,
		Received: st.Received.String(), Durable: st.Durable.String(), ServerEnd: st.ServerEnd.String(),
		LagBytes: int64(st.ServerEnd) - int64(st.Durable), LastDurable: st.LastDurable, Error: st.Err, Event: event,
	}
	if p.Structured() {
		_ = p.PrintStream(streamSchema, line)
		return
	}
	switch {
	case event != "":
		fmt.Fprintf(p.Err, "%s\n", event)
	case st.Phase == opwal.Waiting:
		fmt.Fprintf(p.Err, "%s waiting to retry at %s: %s\n", time.Now().Format("15:04:05"), st.RetryAt.Format("15:04:05"), st.Err)
	case st.Timeline == 0:
		fmt.Fprintf(p.Err, "%s %s\n", time.Now().Format("15:04:05"), st.Phase)
	default:
		fmt.Fprintf(p.Err, "%s %s (timeline %d, durable %s)\n", time.Now().Format("15:04:05"), st.Phase, st.Timeline, st.Durable)
	}
}

// Status is `opsdeck wal status -o json`.
type Status struct {
	Slot     string               `json:"slot"`
	Server   *postgres.Archiving  `json:"server,omitempty"`
	Problems []string             `json:"problems,omitempty"`
	Archives []backup.WALOverview `json:"archives"`
}

func statusCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the WAL archive: the slot on the server, the archive's head, gaps and what it can recover",
		Long: `Shows the slot on the server (streaming or not, how far behind, the WAL it
keeps), each cluster's archive in the store (segments, head, gaps), how far
each base backup is carried, and what the archive can recover to. It reads
object names only; backups verify reads the bytes.

Exit codes: 0 shown · 1 the server could not be read · 2 the server cannot
stream (its settings, the role) · 3 bad configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, ctx, done, err := g.BackupEngine(cmd, out)
			if err != nil {
				return err
			}
			defer done()
			p := g.Printer(cmd, out)
			s := opwal.New(eng)
			st := Status{Slot: s.Slot}
			if a, ok, perr := s.Preflight(ctx); ok {
				st.Server = &a
				if perr != nil {
					st.Problems = a.Problems(s.Slot)
				}
			}
			sets, err := backup.List(ctx, eng.Store)
			if err != nil {
				return cli.Fail(err)
			}
			if st.Archives, err = eng.ReadWALOverviews(ctx, backup.WALStarts(sets)); err != nil {
				return cli.Fail(err)
			}
			err = p.Result(statusSchema, st, func() error { return printStatus(p, st) })
			if err != nil {
				return err
			}
			switch {
			case len(st.Problems) > 0:
				return cli.ExitSilently(cli.CodeRefused)
			case st.Server == nil:
				return cli.ExitSilently(cli.CodeFailed)
			}
			return nil
		},
	}
	out.Register(cmd)
	return cmd
}

func printStatus(p *cli.Printer, st Status) error {
	w := p.Out
	if a := st.Server; a != nil {
		sl := a.Slot
		switch {
		case !sl.Exists:
			fmt.Fprintf(w, "slot %s: not on the server (the streamer creates it)\n", st.Slot)
		case sl.Active:
			fmt.Fprintf(w, "slot %s: streaming, %s behind the server, keeps %s of WAL (%s)\n", st.Slot, bytesOf(sl.LagBytes), bytesOf(sl.RetainedBytes), sl.WALStatus)
		default:
			fmt.Fprintf(w, "slot %s: %s — no streamer connected; it keeps %s of WAL on the server (%s)\n", st.Slot, p.Status(health.Warn), bytesOf(sl.RetainedBytes), sl.WALStatus)
		}
	} else {
		fmt.Fprintln(w, "server: not read — PostgreSQL is unreachable with postgres.dsn (or postgres.wal.dsn); `opsdeck check --target postgres` says why")
	}
	for _, pr := range st.Problems {
		fmt.Fprintf(w, "%s %s\n", p.Status(health.Crit), pr)
	}
	if len(st.Archives) == 0 {
		fmt.Fprintln(w, "archive: none in the store yet — start `opsdeck wal stream`")
		return nil
	}
	for _, o := range st.Archives {
		fmt.Fprintln(w)
		p.WALOverview(o)
	}
	return nil
}

func bytesOf(n int64) string { return progress.Bytes(max(n, 0)) }
