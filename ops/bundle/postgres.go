package bundle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// PostgreSQL's parts.
const (
	partActivity     = "postgres/activity.txt"
	partBlocking     = "postgres/blocking-tree.txt"
	partTransactions = "postgres/longest-transactions.txt"
	partLocks        = "postgres/locks.txt"
	partStatements   = "postgres/statements-top20.txt"
	partReplication  = "postgres/replication.txt"
	partArchive      = "postgres/archive.txt"
)

var postgresParts = []string{partActivity, partBlocking, partTransactions, partLocks, partStatements, partReplication, partArchive}

// topStatements is how many statements of pg_stat_statements are kept.
const topStatements = 20

// longest is how many of the longest transactions are listed.
const longest = 20

// readPostgres reads the server's sessions, locks, statements,
// replication and archive, each in its own read-only transaction, at
// once on the pool's few connections.
func readPostgres(ctx context.Context, cfg *config.Config, out *emitter) error {
	if !cfg.Postgres.Configured() {
		return errors.New("not configured (postgres.dsn or DATABASE_URL)")
	}
	pool, err := postgres.Connect(ctx, cfg.Postgres.DSN, cfg.Timeouts.Connect)
	if err != nil {
		return err
	}
	defer pool.Close()
	timeout := statementTimeout(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t0 := time.Now()
		s, err := postgres.ReadSessions(ctx, pool, timeout)
		took := time.Since(t0)
		if err != nil {
			for _, p := range []string{partActivity, partBlocking, partTransactions} {
				out.Put(p, nil, took, err)
			}
			return
		}
		out.Put(partActivity, activityText(s), took, nil)
		out.Put(partBlocking, blockingTree(s), took, nil)
		out.Put(partTransactions, transactionsText(s), took, nil)
	})
	wg.Go(func() {
		t0 := time.Now()
		t, err := postgres.ReadLocks(ctx, pool, timeout)
		out.Put(partLocks, tableText("pg_locks with each holder's session, the waiting first", t), time.Since(t0), err)
	})
	wg.Go(func() {
		t0 := time.Now()
		t, err := postgres.ReadTopStatements(ctx, pool, timeout, topStatements)
		if errors.Is(err, postgres.ErrNoStatements) {
			out.Put(partStatements, []byte("pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements, with it in shared_preload_libraries): no statement statistics.\n"), time.Since(t0), nil)
			return
		}
		out.Put(partStatements, tableText(fmt.Sprintf("pg_stat_statements: the %d statements with the most total execution time", topStatements), t), time.Since(t0), err)
	})
	wg.Go(func() {
		t0 := time.Now()
		var b strings.Builder
		r, rerr := postgres.ReadReplicas(ctx, pool, timeout)
		b.Write(tableText("pg_stat_replication", r))
		slots, missing, serr := postgres.ReadSlots(ctx, pool, timeout)
		if serr == nil && len(missing) > 0 {
			serr = errors.New(missing[0].Reason)
		}
		b.WriteString("\n")
		b.Write(slotsText(slots))
		out.Put(partReplication, []byte(b.String()), time.Since(t0), errors.Join(rerr, serr))
	})
	wg.Go(func() {
		t0 := time.Now()
		var b strings.Builder
		a, aerr := postgres.ReadArchiver(ctx, pool, timeout)
		b.Write(tableText("pg_stat_archiver (the server's archive_command)", a))
		w := cfg.Postgres.WAL
		f, missing, ferr := postgres.ReadArchivingFact(ctx, pool, w.Slot)
		if ferr == nil && len(missing) > 0 {
			ferr = errors.New(missing[0].Reason)
		}
		if f != nil {
			fmt.Fprintf(&b, "\nopsdeck's WAL archive (postgres.wal: stream %t, slot %q)\n", w.Stream, w.Slot)
			fmt.Fprintf(&b, "  wal_level %s, senders %d/%d, slots %d/%d, current LSN %s, in recovery %t\n",
				f.WALLevel, f.SendersInUse, f.MaxWALSenders, f.SlotsInUse, f.MaxReplicationSlots, f.CurrentLSN, f.InRecovery)
			s := f.Slot
			if s.Exists {
				fmt.Fprintf(&b, "  slot: active %t, restart LSN %s, wal_status %s, retained %d bytes, flushed %s, lag %d bytes, flush lag %s, last reply %s\n",
					s.Active, orNone(s.RestartLSN), orNone(s.WALStatus), s.RetainedBytes, orNone(s.FlushLSN), s.LagBytes, s.FlushLag, timeText(s.ReplyTime))
			} else {
				b.WriteString("  slot: does not exist\n")
			}
		}
		if w.Stream || (f != nil && f.Slot.Exists) {
			head := health.ReadArchiveHead(ctx, cfg, 0)
			if head.Err != "" {
				fmt.Fprintf(&b, "  store: %s\n", head.Err)
			} else {
				fmt.Fprintf(&b, "  store: last write %s, last whole segment %s\n", timeText(head.LastWrite), timeText(head.LastSegment))
			}
		}
		out.Put(partArchive, []byte(b.String()), time.Since(t0), errors.Join(aerr, ferr))
	})
	wg.Wait()
	return nil
}

// statementTimeout is the time left to ctx, for the server's
// statement_timeout.
func statementTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), 100*time.Millisecond)
	}
	return postgres.DefaultStatementTimeout
}

// ago formats a session's duration.
func ago(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

func pids(ps []int) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// activityText is pg_stat_activity's client sessions with their waits.
func activityText(s postgres.Sessions) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "pg_stat_activity at %s: %d client sessions (opsdeck's own left out)\n\n", timeText(s.CollectedAt), len(s.List))
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tDATABASE\tUSER\tAPPLICATION\tCLIENT\tSTATE\tWAIT\tBLOCKED BY\tQUERY AGE\tXACT AGE\tQUERY")
	for _, x := range s.List {
		wait := "-"
		if x.WaitEventType != "" {
			wait = x.WaitEventType + ":" + x.WaitEvent
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.PID, x.Database, x.User, orNone(x.Application), orNone(x.ClientAddr),
			orNone(x.State), wait, pids(x.BlockedBy), ago(x.QueryAge), ago(x.XactAge), x.Query)
	}
	tw.Flush()
	return []byte(b.String())
}

// blockingTree draws who blocks whom: each session that blocks others
// and is not blocked itself is a root, the sessions waiting on it below.
func blockingTree(s postgres.Sessions) []byte {
	children := map[int][]int{}
	blocked := map[int]bool{}
	for _, x := range s.List {
		for _, by := range x.BlockedBy {
			children[by] = append(children[by], x.PID)
			blocked[x.PID] = true
		}
	}
	var b strings.Builder
	if len(children) == 0 {
		b.WriteString("no session waits for another's lock (pg_blocking_pids is empty for every session)\n")
		return []byte(b.String())
	}
	b.WriteString("sessions waiting for others' locks (pg_blocking_pids): each blocker, the sessions it blocks below it\n\n")
	var roots []int
	for pid := range children {
		if !blocked[pid] {
			roots = append(roots, pid)
		}
	}
	slices.Sort(roots)
	if len(roots) == 0 { // a cycle (a deadlock the server has not broken yet)
		for pid := range children {
			roots = append(roots, pid)
		}
		slices.Sort(roots)
		roots = roots[:1]
	}
	at := s.CollectedAt
	seen := map[int]bool{}
	var walk func(pid, depth int)
	walk = func(pid, depth int) {
		indent := strings.Repeat("  ", depth)
		x, ok := s.ByPID(pid)
		switch {
		case seen[pid]:
			fmt.Fprintf(&b, "%s%d (again: a cycle)\n", indent, pid)
			return
		case !ok:
			fmt.Fprintf(&b, "%s%d (not a client session, or not visible to this role)\n", indent, pid)
		default:
			wait := ""
			if len(x.BlockedBy) > 0 {
				wait = fmt.Sprintf(", waiting %s", ago(x.LockWait(at)))
			}
			fmt.Fprintf(&b, "%s%d %s@%s %s, xact %s%s: %s\n", indent, pid, x.User, x.Database, orNone(x.State), ago(x.XactAge), wait, x.Query)
		}
		seen[pid] = true
		kids := slices.Clone(children[pid])
		slices.Sort(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return []byte(b.String())
}

// transactionsText lists the longest open transactions.
func transactionsText(s postgres.Sessions) []byte {
	list := slices.Clone(s.List)
	list = slices.DeleteFunc(list, func(x postgres.Session) bool { return x.XactStart == nil })
	slices.SortFunc(list, func(a, b postgres.Session) int { return int((b.XactAge - a.XactAge) / time.Microsecond) })
	list = list[:min(len(list), longest)]
	var b strings.Builder
	fmt.Fprintf(&b, "the %d longest open transactions\n\n", len(list))
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tXACT AGE\tSTATE\tSTATE AGE\tDATABASE\tUSER\tAPPLICATION\tQUERY")
	for _, x := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.PID, ago(x.XactAge), orNone(x.State), ago(x.StateAge), x.Database, x.User, orNone(x.Application), x.Query)
	}
	tw.Flush()
	return []byte(b.String())
}

// tableText writes a query's answer under its title.
func tableText(title string, t postgres.Table) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rows\n\n", title, len(t.Rows))
	if len(t.Columns) == 0 {
		return []byte(b.String())
	}
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(t.Columns, "\t")))
	for _, r := range t.Rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = oneLine(c)
			if cells[i] == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	return []byte(b.String())
}

func slotsText(slots []postgres.SlotUsage) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "pg_replication_slots: %d slots\n\n", len(slots))
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tDATABASE\tACTIVE\tRESTART LSN\tWAL STATUS\tRETAINED BYTES")
	for _, s := range slots {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%d\n", s.Name, s.Type, orNone(s.Database), s.Active, orNone(s.RestartLSN), orNone(s.WALStatus), s.RetainedBytes)
	}
	tw.Flush()
	return []byte(b.String())
}
