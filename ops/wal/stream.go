// Package wal streams a PostgreSQL cluster's WAL into the backup store,
// continuously, over the replication protocol: a physical replication
// slot keeps every segment on the server until the streamer has made it
// durable in the store, and only then is the server told so. The segment
// being received is stored as sealed chunks every flush interval, so a
// lost bastion loses at most that interval; a full segment is stored
// whole and its chunks deleted. See ops/backup/wal_archive.go for the
// layout and docs/backups.md for the operator's view.
//
// The streamer holds a lock of its own per slot (state_dir/locks), so
// `opsdeck serve`, a systemd unit and the CLI never run two for one
// slot; it never takes the store lock: it only adds objects at the head
// of the archive, and prune only deletes what precedes the oldest kept
// base backup.
package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// Phase is what the streamer is doing.
type Phase string

// The streamer's phases.
const (
	Connecting Phase = "connecting"
	Streaming  Phase = "streaming"
	Waiting    Phase = "waiting" // to retry after a failure
	Stopped    Phase = "stopped"
)

// State is the streamer's state, for the CLI's lines, the cockpit and
// the checks of the process that runs it.
type State struct {
	Slot        string
	Phase       Phase
	SystemID    uint64
	Timeline    uint32
	SegmentSize uint64
	// Received is the end of the WAL received, Durable of the WAL stored
	// durably (what the server was told), ServerEnd the server's own end
	// of WAL as it last said.
	Received, Durable, ServerEnd pgwal.LSN
	// LastDurable is when Durable last moved.
	LastDurable time.Time
	// Err is the last failure, RetryAt when the next attempt is due.
	Err     string
	RetryAt time.Time
	// Events are notable things in this session: a slot created, a gap
	// that could not be closed, a timeline followed.
	Events []string
}

// Streamer archives one cluster's WAL. Set the fields, then Run.
type Streamer struct {
	Engine *backup.Engine
	// DSN is the replication connection's URL (postgres.wal.dsn, else
	// postgres.dsn); Slot the slot's name.
	DSN  string
	Slot string
	// Flush is how often the open segment is made durable.
	Flush time.Duration
	// ConnectTimeout bounds connecting; StoreTimeout each store call.
	ConnectTimeout time.Duration
	StoreTimeout   time.Duration
	// StatusInterval is how often the server is told the position even
	// when nothing moved (default 10s; the server's wal_sender_timeout
	// is 60s by default).
	StatusInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting.
	MinBackoff, MaxBackoff time.Duration
	// OnState is told every change of state; it must not block.
	OnState func(State)
	// OnDurable is told each LSN made durable with the clock (the
	// benchmark's loss window).
	OnDurable func(lsn pgwal.LSN, at time.Time)
	// Bases lists the base backups whose coverage the textfile metrics
	// show (metrics.go); nil shows none.
	Bases func(ctx context.Context) ([]backup.WALStart, error)
	// RelMapInterval is how often the relfilenode map is read (relmaps.go;
	// default DefaultRelMapInterval, negative never).
	RelMapInterval time.Duration

	mu    sync.Mutex
	state State
	// removed is where the server said the WAL the archive needs next is
	// gone (the session's goroutine only).
	removed *position
}

// position is a place in the WAL of a timeline.
type position struct {
	tli uint32
	lsn pgwal.LSN
}

// New returns a streamer configured from the engine's configuration.
func New(e *backup.Engine) *Streamer {
	cfg := e.Config
	dsn := cfg.Postgres.WAL.DSN
	if dsn == "" {
		dsn = cfg.Postgres.DSN
	}
	return &Streamer{
		Engine:         e,
		DSN:            dsn,
		Slot:           cfg.Postgres.WAL.Slot,
		Flush:          cfg.Postgres.WAL.Flush(cfg.Backup.S3.Bucket != ""),
		ConnectTimeout: cfg.Timeouts.Connect,
		Bases: func(ctx context.Context) ([]backup.WALStart, error) {
			sets, err := backup.List(ctx, e.Store)
			return backup.WALStarts(sets), err
		},
	}
}

func (s *Streamer) defaults() {
	if s.Flush <= 0 {
		s.Flush = time.Second
	}
	if s.StoreTimeout <= 0 {
		s.StoreTimeout = 2 * time.Minute
	}
	if s.StatusInterval <= 0 {
		s.StatusInterval = 10 * time.Second
	}
	if s.MinBackoff <= 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 30 * time.Second
	}
}

// State returns a copy of the current state.
func (s *Streamer) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	st.Events = append([]string(nil), st.Events...)
	return st
}

func (s *Streamer) update(f func(*State)) {
	s.mu.Lock()
	f(&s.state)
	st := s.state
	st.Events = append([]string(nil), st.Events...)
	s.mu.Unlock()
	if s.OnState != nil {
		s.OnState(st)
	}
}

func (s *Streamer) event(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	slog.Info("wal stream: " + msg)
	s.update(func(st *State) {
		st.Events = append(st.Events, time.Now().Format("15:04:05")+" "+msg)
		if len(st.Events) > 20 {
			st.Events = st.Events[len(st.Events)-20:]
		}
	})
}

// ErrRefused wraps the refusals streaming cannot get past by retrying:
// the server's settings, the role, pg_hba. Run returns them at once when
// they come before any WAL was streamed.
var ErrRefused = errors.New("streaming refused")

// Run streams until ctx ends, reconnecting after failures with a growing
// wait (MinBackoff to MaxBackoff). It refuses to start without the
// wal.stream permission, or when another streamer holds the slot's lock.
// A refusal met before the first byte was streamed (wrong settings, a
// role without REPLICATION, no pg_hba line) ends Run with an error
// wrapping ErrRefused; later failures are retried.
func (s *Streamer) Run(ctx context.Context) error {
	s.defaults()
	e := s.Engine
	if err := e.Refuse(ctx, access.WALStream, s.Slot); err != nil {
		return err
	}
	lock, err := acquireStreamerLock(e.Config.StateDir, s.Slot, ctx)
	if err != nil {
		return err
	}
	defer lock.Release()
	entry := e.AuditLog(ctx).Begin(string(access.WALStream), s.Slot, map[string]any{"store": e.Store.String()})
	s.update(func(st *State) { *st = State{Slot: s.Slot, Phase: Connecting} })
	stopMetrics := s.startMetrics(ctx)
	stopRelMaps := s.startRelMaps(ctx)
	backoff := s.MinBackoff
	streamed := false
	var runErr error
	for {
		began := time.Now()
		err := s.session(ctx, &streamed)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, ErrRefused) && !streamed {
			runErr = err
			break
		}
		if time.Since(began) > 2*s.MaxBackoff {
			backoff = s.MinBackoff
		}
		retry := time.Now().Add(backoff)
		slog.Warn("wal stream failed; retrying", logging.Err(err), "retry_in", backoff)
		s.update(func(st *State) { st.Phase, st.Err, st.RetryAt = Waiting, err.Error(), retry })
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		if ctx.Err() != nil {
			break
		}
		backoff = min(2*backoff, s.MaxBackoff)
		s.update(func(st *State) { st.Phase = Connecting })
	}
	s.update(func(st *State) { st.Phase = Stopped })
	stopRelMaps()
	stopMetrics()
	if aerr := entry.End(runErr); aerr != nil {
		slog.Warn("audit write failed", logging.Err(aerr))
	}
	return runErr
}

// session is one connection: connect, find where to resume, stream until
// an error or ctx ends.
func (s *Streamer) session(ctx context.Context, streamed *bool) error {
	conn, err := postgres.ConnectReplication(ctx, s.DSN, "opsdeck-wal-"+s.Slot, s.ConnectTimeout)
	if err != nil {
		return refusedIf(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cmdCtx, cancel := context.WithTimeout(ctx, s.StoreTimeout)
	defer cancel()
	sys, err := postgres.IdentifySystem(cmdCtx, conn)
	if err != nil {
		return refusedIf(err)
	}
	sizeText, err := postgres.ReplicationSetting(cmdCtx, conn, "wal_segment_size")
	if err != nil {
		return err
	}
	size, err := postgres.ParseSize(sizeText)
	if err != nil || !pgwal.ValidSegmentSize(size) {
		return fmt.Errorf("the server's wal_segment_size %q is not a segment size opsdeck knows", sizeText)
	}
	versionText, _ := postgres.ReplicationSetting(cmdCtx, conn, "server_version_num")
	version := 0
	fmt.Sscan(versionText, &version)
	if version > 0 && version < 150000 {
		return fmt.Errorf("%w: the server is PostgreSQL %d; the WAL streamer needs 15 or later (READ_REPLICATION_SLOT)", ErrRefused, version/10000)
	}
	arch, err := s.Engine.WALArchive(sys.SystemID)
	if err != nil {
		return err
	}
	if _, err := arch.Init(cmdCtx, backup.ArchiveInfo{SegmentSize: size, Version: version}); err != nil {
		return err
	}
	s.update(func(st *State) {
		st.SystemID, st.Timeline, st.SegmentSize, st.Err = sys.SystemID, sys.Timeline, size, ""
	})
	slot, err := postgres.ReadReplicationSlot(cmdCtx, conn, s.Slot)
	if err != nil {
		return refusedIf(err)
	}
	if slot.Exists && !slot.Physical {
		return fmt.Errorf("%w: slot %q is a logical slot — choose another name in postgres.wal.slot", ErrRefused, s.Slot)
	}
	if !slot.Exists {
		if err := postgres.CreatePhysicalSlot(cmdCtx, conn, s.Slot); err != nil {
			return refusedIf(err)
		}
		if slot, err = postgres.ReadReplicationSlot(cmdCtx, conn, s.Slot); err != nil {
			return err
		}
		s.event("created replication slot %s at %s", s.Slot, slot.RestartLSN)
	}
	if err := s.storeHistories(cmdCtx, conn, arch, sys.Timeline); err != nil {
		return err
	}
	st := &stream{s: s, conn: conn, arch: arch, size: size, sys: sys}
	if l, err := pgwal.ParseLSN(slot.RestartLSN); err == nil {
		st.floor = l
	}
	if err := st.resume(cmdCtx, slot); err != nil {
		return err
	}
	cancel()
	return st.run(ctx, streamed)
}

// refusedIf marks the refusals retrying cannot fix.
func refusedIf(err error) error {
	if postgres.IsReplicationRefusal(err) || postgres.Classify(err) == postgres.KindAuth || postgres.Classify(err) == postgres.KindConfig {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

// storeHistories stores the history file of every timeline from 2 to the
// server's that the archive lacks: recovery to the newest timeline looks
// for each of them.
func (s *Streamer) storeHistories(ctx context.Context, conn *pgconn.PgConn, arch *backup.WALArchive, tli uint32) error {
	if tli < 2 {
		return nil
	}
	cat, err := arch.Catalog(ctx)
	if err != nil {
		return err
	}
	for t := uint32(2); t <= tli; t++ {
		if _, ok := cat.Histories[t]; ok {
			continue
		}
		_, content, err := postgres.TimelineHistory(ctx, conn, t)
		if err != nil {
			continue // a timeline this server never had
		}
		if _, err := arch.PutHistory(ctx, t, content); err != nil {
			return err
		}
		s.event("stored the history of timeline %d", t)
	}
	return nil
}

// stream is one replication stream's state.
type stream struct {
	s    *Streamer
	conn *pgconn.PgConn
	arch *backup.WALArchive
	size uint64
	sys  postgres.SystemIdentity

	rx        receiver
	durable   pgwal.LSN
	serverEnd pgwal.LSN
	wholes    *wholeWriter
	flush     *flusher
	// floor is the slot's restart point when the session began: status
	// never reports less.
	floor pgwal.LSN
}

// resume finds where the archive ends and loads the stored chunks of its
// open segment, so the stream continues exactly there: nothing twice,
// nothing skipped. An empty archive starts at the slot's oldest kept WAL,
// at the start of its segment.
func (st *stream) resume(ctx context.Context, slot postgres.ReplicationSlot) error {
	cat, err := st.arch.Catalog(ctx)
	if err != nil {
		return err
	}
	if n, err := repairWholes(ctx, st.arch, cat); err != nil {
		return err
	} else if n > 0 {
		st.s.event("stored %d segment(s) whole that a stopped session left as chunks", n)
		if cat, err = st.arch.Catalog(ctx); err != nil {
			return err
		}
	}
	tls := cat.Timelines()
	if len(tls) == 0 {
		tli := slot.RestartTimeline
		if tli == 0 {
			tli = st.sys.Timeline
		}
		from := slot.RestartLSN
		if from == "" {
			from = st.sys.XLogPos
		}
		lsn, err := pgwal.ParseLSN(from)
		if err != nil {
			return err
		}
		start := pgwal.SegmentOf(tli, lsn, st.size).Start(st.size)
		st.rx = receiver{tli: tli, size: st.size, next: start}
		st.durable = start
		st.s.event("archive empty: starting at %s on timeline %d", start, tli)
		return nil
	}
	head := tls[len(tls)-1]
	var next pgwal.LSN
	segs := cat.Segments[head]
	if len(segs) > 0 {
		next = segs[len(segs)-1].Segment.End(st.size)
	}
	// The open segment: chunks of the segment after the last whole one
	// (or the first chunked one when the timeline has no whole segment).
	open := pgwal.SegmentOf(head, next, st.size)
	if len(segs) == 0 {
		if ps := cat.Partials[head]; len(ps) > 0 {
			open = ps[0].Segment
			next = open.Start(st.size)
		}
	}
	st.rx = receiver{tli: head, size: st.size, next: next}
	if data, err := st.arch.ReadPartial(ctx, cat, open); err == nil {
		o := newOpenSegment(open, st.size)
		o.data = append(o.data, data...)
		o.durable, o.queued = len(data), len(data)
		for _, p := range cat.Partials[head] {
			if p.Segment == open {
				o.chunks = append(o.chunks, p.Key)
			}
		}
		st.rx.cur = o
		st.rx.next = o.end()
	} else if !errors.Is(err, backup.ErrNotFound) {
		return err
	}
	st.durable = st.rx.next
	if r := st.s.removed; r != nil && *r == (position{head, st.rx.next}) {
		return st.jumpGap(slot)
	}
	st.s.event("resuming at %s on timeline %d", st.rx.next, head)
	return nil
}

// jumpGap goes on where the slot keeps WAL, after the server said the WAL
// the archive needs next is gone: the hole is named, and stays in the
// archive for verify and the coverage to show.
func (st *stream) jumpGap(slot postgres.ReplicationSlot) error {
	st.s.removed = nil
	lsn, err := pgwal.ParseLSN(slot.RestartLSN)
	if err != nil {
		return fmt.Errorf("the server no longer has the WAL from %s and slot %s keeps none to go on from", st.rx.next, st.s.Slot)
	}
	tli := slot.RestartTimeline
	if tli == 0 {
		tli = st.sys.Timeline
	}
	start := pgwal.SegmentOf(tli, lsn, st.size).Start(st.size)
	if tli == st.rx.tli && start <= st.rx.next {
		// The slot claims WAL the server lost (something moved it back):
		// go on from the server's current position.
		cur, err := pgwal.ParseLSN(st.sys.XLogPos)
		if err != nil {
			return fmt.Errorf("the server no longer has the WAL from %s on timeline %d, yet slot %s says it keeps it from %s", st.rx.next, tli, st.s.Slot, lsn)
		}
		tli, start = st.sys.Timeline, pgwal.SegmentOf(st.sys.Timeline, cur, st.size).Start(st.size)
	}
	st.s.event("GAP: the server no longer has the WAL from %s on timeline %d; going on at %s on timeline %d — the archive has a hole there: take a base backup (opsdeck backup base)", st.rx.next, st.rx.tli, start, tli)
	st.rx = receiver{tli: tli, size: st.size, next: start}
	st.durable = start
	return nil
}

// run starts replication at the resume point and streams; at the end of a
// timeline it follows the next one.
func (st *stream) run(ctx context.Context, streamed *bool) (err error) {
	st.wholes = startWholeWriter(st.arch, st.size, st.s.StoreTimeout)
	st.flush = startFlusher(st.arch, st.size, st.s.StoreTimeout)
	defer func() {
		if ferr := st.stopFlusher(); err == nil && ferr != nil {
			err = ferr
		}
		if werr := st.wholes.close(); err == nil && werr != nil {
			err = werr
		}
	}()
	for {
		err := pglogrepl.StartReplication(ctx, st.conn, st.s.Slot, pglogrepl.LSN(st.rx.next),
			pglogrepl.StartReplicationOptions{Timeline: int32(st.rx.tli), Mode: pglogrepl.PhysicalReplication})
		if tli, at, ok := pglogrepl.IsErrEndTimeline(err); ok {
			// The start is the very end of our timeline: go on with the next.
			if err := st.nextTimeline(ctx, uint32(tli), pgwal.LSN(at)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "has already been removed") {
				st.s.removed = &position{tli: st.rx.tli, lsn: st.rx.next}
				return err
			}
			if err := st.startFailed(ctx, err); err != nil {
				return err
			}
			continue // moved to where the server can go on from
		}
		st.s.update(func(s *State) {
			s.Phase, s.Timeline, s.Received, s.Durable, s.Err = Streaming, st.rx.tli, st.rx.next, st.durable, ""
		})
		ended, err := st.receive(ctx, streamed)
		if err != nil {
			if strings.Contains(err.Error(), "has already been removed") {
				// The server lost the WAL the archive needs next: the next
				// session jumps the hole (resume), naming it.
				st.s.removed = &position{tli: st.rx.tli, lsn: st.rx.next}
			}
			return err
		}
		if !ended {
			return nil // ctx done
		}
		res, err := pglogrepl.SendStandbyCopyDone(ctx, st.conn)
		if err != nil {
			return fmt.Errorf("end of timeline %d: %w", st.rx.tli, err)
		}
		if res == nil {
			return fmt.Errorf("the server ended the stream of timeline %d without naming the next", st.rx.tli)
		}
		if err := st.nextTimeline(ctx, uint32(res.Timeline), pgwal.LSN(res.LSN)); err != nil {
			return err
		}
	}
}

// startFailed explains a refused START_REPLICATION, or moves the start
// and returns nil: when the archive has WAL of a timeline past the point
// the server's history forked from it, the stream follows the server's
// timeline from the fork.
func (st *stream) startFailed(ctx context.Context, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not in this server's history"):
		cctx, cancel := context.WithTimeout(ctx, st.s.StoreTimeout)
		defer cancel()
		_, content, herr := postgres.TimelineHistory(cctx, st.conn, st.sys.Timeline)
		if herr != nil {
			return fmt.Errorf("start streaming: %w", err)
		}
		hist, herr := backup.ParseHistory(content)
		if herr != nil {
			return herr
		}
		for i, h := range hist {
			if h.Parent != st.rx.tli {
				continue
			}
			child := st.sys.Timeline
			if i+1 < len(hist) {
				child = hist[i+1].Parent
			}
			st.s.event("the archive's timeline %d goes past %s, where the server's history left it: following timeline %d from there", st.rx.tli, h.Switch, child)
			return st.nextTimeline(ctx, child, h.Switch)
		}
		return fmt.Errorf("%w: the archive's timeline %d is not in the server's history: the DSN points at another cluster's descendant", ErrRefused, st.rx.tli)
	case strings.Contains(msg, "ahead of the WAL flush position"):
		return fmt.Errorf("the archive reaches %s, past the server's WAL: is the server a restored copy? take a base backup and check postgres.dsn: %w", st.rx.next, err)
	}
	return refusedIf(fmt.Errorf("start streaming at %s on timeline %d: %w", st.rx.next, st.rx.tli, err))
}

// nextTimeline makes what was received durable, stores the next
// timeline's history and starts it at the segment holding the switch.
func (st *stream) nextTimeline(ctx context.Context, tli uint32, at pgwal.LSN) error {
	if err := st.flushNow(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, st.s.StoreTimeout)
	defer cancel()
	_, content, err := postgres.TimelineHistory(cctx, st.conn, tli)
	if err != nil {
		return err
	}
	if _, err := st.arch.PutHistory(cctx, tli, content); err != nil {
		return err
	}
	start := pgwal.SegmentOf(tli, at, st.size).Start(st.size)
	st.s.event("timeline %d ended at %s: following timeline %d", st.rx.tli, at, tli)
	st.rx = receiver{tli: tli, size: st.size, next: start}
	st.durable = start
	return nil
}

// receive reads the stream until the server ends the timeline (true),
// ctx ends (false, nil) or something fails.
func (st *stream) receive(ctx context.Context, streamed *bool) (bool, error) {
	// The commands after the stream (end of timeline) read without one.
	defer st.conn.Conn().SetReadDeadline(time.Time{})
	nextFlush := time.Now().Add(st.s.Flush)
	nextStatus := time.Now()
	for {
		if ctx.Err() != nil {
			// Stopping: what was received is made durable first.
			return false, st.flushNow()
		}
		now := time.Now()
		if err := st.collect(); err != nil {
			return false, err
		}
		if !now.Before(nextFlush) {
			if err := st.dispatch(st.rx.cur, false); err != nil {
				return false, err
			}
			nextFlush = now.Add(st.s.Flush)
		}
		if !now.Before(nextStatus) {
			if err := st.status(false); err != nil {
				return false, err
			}
			nextStatus = now.Add(st.s.StatusInterval)
		}
		deadline := nextFlush
		if nextStatus.Before(deadline) {
			deadline = nextStatus
		}
		if limit := time.Now().Add(time.Second); limit.Before(deadline) {
			deadline = limit // a stop waits no longer
		}
		if st.flush.inflight > 0 {
			// A chunk is being written: look for its end soon, to tell
			// the server without waiting for the next message.
			if soon := time.Now().Add(5 * time.Millisecond); soon.Before(deadline) {
				deadline = soon
			}
		}
		if err := st.wholes.failed(); err != nil {
			return false, err
		}
		// The wait is bounded by a read deadline on the socket rather than
		// a context: pgconn watches a context with a goroutine per call,
		// and the stream is thousands of messages a second. A stop is
		// seen at the next deadline (at most the flush interval).
		if err := st.conn.Conn().SetReadDeadline(deadline); err != nil {
			return false, fmt.Errorf("receive WAL: %w", err)
		}
		msg, err := st.conn.ReceiveMessage(context.Background())
		if err != nil {
			if pgconn.Timeout(err) {
				continue
			}
			return false, fmt.Errorf("receive WAL: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.XLogDataByteID:
				x, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return false, err
				}
				if err := st.take(ctx, pgwal.LSN(x.WALStart), x.WALData); err != nil {
					return false, err
				}
				st.serverEnd = max(st.serverEnd, pgwal.LSN(x.ServerWALEnd))
				*streamed = true
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				k, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return false, err
				}
				st.serverEnd = max(st.serverEnd, pgwal.LSN(k.ServerWALEnd))
				if k.ReplyRequested {
					nextStatus = time.Time{}
				}
			}
		case *pgproto3.CopyDone:
			return true, nil
		case *pgproto3.ErrorResponse:
			return false, pgconn.ErrorResponseToPgError(m)
		}
	}
}

// take places received bytes. A segment filled is queued at once as its
// last chunk (so the server hears of it without waiting for the whole
// segment to be compressed and written), then handed to the
// whole-segment writer once that chunk is durable.
func (st *stream) take(ctx context.Context, at pgwal.LSN, b []byte) error {
	full, err := st.rx.add(at, b)
	if err != nil {
		return err
	}
	for _, o := range full {
		if err := st.dispatch(o, true); err != nil {
			return err
		}
	}
	st.s.update(func(s *State) { s.Received, s.ServerEnd = st.rx.next, max(st.serverEnd, st.rx.next) })
	return nil
}

func (st *stream) madeDurable(lsn pgwal.LSN) {
	if lsn <= st.durable {
		return
	}
	st.durable = lsn
	now := time.Now()
	if st.s.OnDurable != nil {
		st.s.OnDurable(lsn, now)
	}
	slog.Debug("wal durable", "lsn", lsn.String())
	st.s.update(func(s *State) { s.Durable, s.LastDurable = lsn, now })
}

// status tells the server what is durable: the slot may then let go of
// the WAL before it.
//
// The server sets a physical slot's restart point to whatever flush
// position it is told, backwards too: a position below where the slot
// stood when the session began (a slot created just now, ahead of the
// archive) would point it at WAL the server no longer has. Such a
// position is reported as the slot's own.
func (st *stream) status(reply bool) error {
	flush := max(st.durable, st.floor)
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), st.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(max(st.rx.next, flush)),
		WALFlushPosition: pglogrepl.LSN(flush),
		WALApplyPosition: pglogrepl.LSN(flush),
		ReplyRequested:   reply,
	})
	if err != nil {
		return fmt.Errorf("report the durable position: %w", err)
	}
	return nil
}
