package backup

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// WALMetricsFile is the WAL streamer's textfile-collector file, written
// into backup.metrics_dir beside MetricsFile.
const WALMetricsFile = "opsdeck_wal.prom"

// WALMetrics are the WAL archive's figures for Prometheus: the streamer's
// own state and, once read, the archive's overview.
type WALMetrics struct {
	Slot string
	// Updated is when the figures were taken: the lag alert adds the time
	// since, so a streamer that stopped writing still alerts.
	Updated time.Time
	// Streaming is true while connected and streaming.
	Streaming bool
	// LagSeconds is how long the archive has been behind the server: 0
	// when it holds everything the server said it wrote.
	LagSeconds float64
	// Durable is the end of the WAL durable in the store, LastDurable when
	// it last moved (zero: not yet in this run).
	Durable     pgwal.LSN
	LastDurable time.Time
	// Overview is the archive's overview, nil until read.
	Overview *WALOverview
}

// RenderWALMetrics renders m in the Prometheus text format, every series
// labelled with the slot.
func RenderWALMetrics(m WALMetrics) []byte {
	var b bytes.Buffer
	metric := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s{slot=%q} %s\n", name, help, name, name, m.Slot, formatFloat(v))
	}
	metric("opsdeck_wal_updated_timestamp_seconds", "Unix time the WAL streamer wrote these figures.", float64(m.Updated.Unix()))
	streaming := 0.0
	if m.Streaming {
		streaming = 1
	}
	metric("opsdeck_wal_streaming", "1 while the WAL streamer is connected and streaming.", streaming)
	metric("opsdeck_wal_archive_lag_seconds", "Seconds the WAL archive has been behind the server (0: it holds all the server wrote).", m.LagSeconds)
	if m.Durable > 0 {
		metric("opsdeck_wal_durable_lsn_bytes", "End of the WAL durable in the store, as an LSN in bytes.", float64(m.Durable))
	}
	if !m.LastDurable.IsZero() {
		metric("opsdeck_wal_last_durable_timestamp_seconds", "Unix time the durable end of the WAL archive last moved.", float64(m.LastDurable.Unix()))
	}
	if o := m.Overview; o != nil && o.Catalog != nil {
		metric("opsdeck_wal_archive_bytes", "Stored size of the WAL archive.", float64(o.Catalog.Bytes))
		metric("opsdeck_wal_segments", "Whole WAL segments in the archive.", float64(o.Catalog.SegmentCount()))
		metric("opsdeck_wal_gaps", "Holes in the WAL archive's segments.", float64(len(o.Gaps)))
		if c, ok := newestCoverage(o.Coverage); ok {
			metric("opsdeck_wal_base_coverage_end_lsn_bytes", "End of the WAL held without a hole after the newest base backup, as an LSN in bytes.", float64(c.To))
		}
	}
	return b.Bytes()
}

// formatFloat writes integers without an exponent (LSNs are large).
func formatFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}

// newestCoverage is the coverage of the newest base backup.
func newestCoverage(cs []Coverage) (Coverage, bool) {
	var best Coverage
	found := false
	for _, c := range cs {
		if !found || c.Base.At.After(best.Base.At) {
			best, found = c, true
		}
	}
	return best, found
}

// WriteWALMetrics writes m atomically to dir/WALMetricsFile.
func WriteWALMetrics(dir string, m WALMetrics) error {
	return safefile.Write(filepath.Join(dir, WALMetricsFile), RenderWALMetrics(m), 0o644)
}

// WALOverviewOf reads the overview of system sys's archive only, carrying
// the base backups of bases that belong to it.
func (e *Engine) WALOverviewOf(ctx context.Context, sys uint64, bases []WALStart) WALOverview {
	return e.walOverview(ctx, sys, bases)
}
