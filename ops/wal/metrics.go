package wal

import (
	"context"
	"log/slog"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/logging"
)

// MetricsInterval is how often a running streamer writes its textfile
// metrics (backup.WALMetricsFile in backup.metrics_dir).
const MetricsInterval = 5 * time.Second

// overviewInterval is how often those metrics re-read the archive's
// overview: a listing of the store, too costly for every write.
const overviewInterval = time.Minute

// lagClock turns the streamer's states, observed one after the other,
// into the archive's lag: zero while the archive holds all the server
// said it wrote, else the time since it last did (or since the durable
// end last moved, when that is later).
type lagClock struct {
	start      time.Time // the streamer's start: the reference before any
	caughtUpAt time.Time
}

func (c *lagClock) lag(st State, now time.Time) float64 {
	if st.Phase == Streaming && st.Durable > 0 && st.Durable >= st.ServerEnd {
		c.caughtUpAt = now
		return 0
	}
	ref := c.start
	if c.caughtUpAt.After(ref) {
		ref = c.caughtUpAt
	}
	if st.LastDurable.After(ref) {
		ref = st.LastDurable
	}
	return max(now.Sub(ref).Seconds(), 0)
}

// startMetrics writes the streamer's metrics every MetricsInterval until
// the returned stop is called, which writes them a last time (stopped).
// Nothing is written without backup.metrics_dir.
func (s *Streamer) startMetrics(ctx context.Context) (stop func()) {
	dir := s.Engine.Config.Backup.MetricsDir
	if dir == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	clock := &lagClock{start: time.Now()}
	var ov *backup.WALOverview
	var ovAt time.Time
	write := func(ctx context.Context) {
		st := s.State()
		now := time.Now()
		if st.SystemID != 0 && ctx.Err() == nil && now.Sub(ovAt) >= overviewInterval {
			ovAt = now
			if o, err := s.overview(ctx, st.SystemID); err != nil {
				slog.Warn("wal metrics: read the archive's overview", logging.Err(err))
			} else {
				ov = &o
			}
		}
		m := backup.WALMetrics{
			Slot: s.Slot, Updated: now, Streaming: st.Phase == Streaming,
			LagSeconds: clock.lag(st, now), Durable: st.Durable, LastDurable: st.LastDurable, Overview: ov,
		}
		if err := backup.WriteWALMetrics(dir, m); err != nil {
			slog.Warn("wal metrics not written", logging.Err(err))
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(MetricsInterval)
		defer t.Stop()
		for {
			write(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		write(ctx)
	}
}

// overview reads the archive's overview of system sys, with the base
// backups Bases lists.
func (s *Streamer) overview(ctx context.Context, sys uint64) (backup.WALOverview, error) {
	ctx, cancel := context.WithTimeout(ctx, min(s.StoreTimeout, 30*time.Second))
	defer cancel()
	var bases []backup.WALStart
	if s.Bases != nil {
		b, err := s.Bases(ctx)
		if err != nil {
			return backup.WALOverview{}, err
		}
		bases = b
	}
	o := s.Engine.WALOverviewOf(ctx, sys, bases)
	return o, ctx.Err()
}
