package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// WALArchiveCheck is the name of the WAL archive's result line.
const WALArchiveCheck = "wal archive"

// ArchiveHead is what the store says of a cluster's WAL archive: when
// anything was last written to it and when its newest whole segment was
// stored. Zero times are unknown; Err says why.
type ArchiveHead struct {
	LastWrite   time.Time `json:"last_write"`
	LastSegment time.Time `json:"last_segment"`
	Err         string    `json:"error,omitempty"`
}

// headTTL is how long a read of the store's archive head is reused: the
// Health tab refreshes often and a busy archive lists thousands of objects.
const headTTL = 15 * time.Second

// headTimeout bounds reading the store for the archive head.
const headTimeout = 5 * time.Second

var heads struct {
	sync.Mutex
	m map[string]cachedHead
}

type cachedHead struct {
	at   time.Time
	head ArchiveHead
}

// checkWALArchive reads the archive's slot on the server and, when the
// archive is in use, its head in the store, and judges them. It returns
// nothing when the archive is not in use.
func checkWALArchive(ctx context.Context, pool *pgxpool.Pool, cfg *config.Config) []Result {
	w := cfg.Postgres.WAL
	f, missing, err := postgres.ReadArchivingFact(ctx, pool, w.Slot)
	if err != nil {
		if !w.Stream {
			return nil
		}
		missing = []postgres.MissingFact{{Fact: postgres.FactArchiving, Reason: err.Error()}}
	}
	if f == nil || (!w.Stream && !f.Slot.Exists) {
		return JudgeWALArchive(f, missing, ArchiveHead{}, w, cfg.Thresholds, time.Now())
	}
	head := readArchiveHead(ctx, pool, cfg)
	return JudgeWALArchive(f, missing, head, w, cfg.Thresholds, time.Now())
}

// readArchiveHead reads the head of the connected cluster's archive from
// the backup store, reusing a read younger than headTTL.
func readArchiveHead(ctx context.Context, pool *pgxpool.Pool, cfg *config.Config) ArchiveHead {
	var sys uint64
	var text string
	// pg_control_system may be refused to the role: the store then tells
	// which cluster when it holds one archive only.
	if err := pool.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&text); err == nil {
		fmt.Sscan(text, &sys)
	}
	key := fmt.Sprintf("%s|%s|%s|%d", cfg.Backup.Dir, cfg.Backup.S3.Endpoint, cfg.Backup.S3.Bucket+"/"+cfg.Backup.S3.Prefix, sys)
	heads.Lock()
	if c, ok := heads.m[key]; ok && time.Since(c.at) < headTTL {
		heads.Unlock()
		return c.head
	}
	heads.Unlock()
	cctx, cancel := context.WithTimeout(ctx, headTimeout)
	defer cancel()
	head := ReadArchiveHead(cctx, cfg, sys)
	if head.Err == "" || !errors.Is(cctx.Err(), context.DeadlineExceeded) {
		heads.Lock()
		if heads.m == nil {
			heads.m = map[string]cachedHead{}
		}
		heads.m[key] = cachedHead{at: time.Now(), head: head}
		heads.Unlock()
	}
	return head
}

// ReadArchiveHead reads the head of system sys's WAL archive in the
// configured store; with sys 0, of the store's only archive.
func ReadArchiveHead(ctx context.Context, cfg *config.Config, sys uint64) ArchiveHead {
	if cfg.Backup.S3.Bucket == "" {
		// A check never creates the store's directory.
		if _, err := os.Stat(cfg.Backup.Dir); err != nil {
			return ArchiveHead{Err: "no backup store: " + err.Error()}
		}
	}
	st, err := backup.OpenStore(cfg)
	if err != nil {
		return ArchiveHead{Err: err.Error()}
	}
	if sys == 0 {
		systems, err := backup.WALSystems(ctx, st)
		if err != nil {
			return ArchiveHead{Err: err.Error()}
		}
		if len(systems) != 1 {
			return ArchiveHead{Err: fmt.Sprintf("the store holds %d WAL archives and the role may not read the server's system identifier (pg_control_system)", len(systems))}
		}
		sys = systems[0]
	}
	cat, err := (&backup.WALArchive{Store: st, SystemID: sys}).Catalog(ctx)
	if err != nil {
		if errors.Is(err, backup.ErrNotFound) {
			return ArchiveHead{Err: "the store has no WAL archive of this cluster yet"}
		}
		return ArchiveHead{Err: err.Error()}
	}
	h := ArchiveHead{LastWrite: cat.Newest}
	for _, segs := range cat.Segments {
		if n := len(segs); n > 0 && segs[n-1].ModTime.After(h.LastSegment) {
			h.LastSegment = segs[n-1].ModTime
		}
	}
	return h
}

// JudgeWALArchive judges the WAL archive from its slot on the server (f,
// nil when it could not be read, then missing says why) and its head in
// the store. It returns nothing when the archive is not in use:
// streaming is off and the server has no slot of that name.
//
// Lag in time is the server's flush_lag while the streamer is connected,
// else the time since the archive's last write. An inactive slot while
// streaming is on is at least a warning, a lost slot critical; the lag is
// judged against wal_archive_lag and the WAL the slot keeps against
// slot_retained_bytes.
func JudgeWALArchive(f *postgres.ArchivingFact, missing []postgres.MissingFact, head ArchiveHead, w config.WALConfig, th config.Thresholds, now time.Time) []Result {
	threshold := "lag " + Durations(th.WALArchiveLag) + "; slot " + byteLimit(th.SlotRetainedBytes)
	if f == nil {
		if !w.Stream {
			return nil
		}
		reason := "could not read the slot"
		for _, m := range missing {
			reason = m.Reason
		}
		return []Result{{Name: WALArchiveCheck, Status: Unknown, Value: "n/a", Threshold: threshold, Hint: reason, Runbook: "archive-lagging"}}
	}
	s := f.Slot
	if !w.Stream && !s.Exists {
		return nil
	}
	r := Result{Name: WALArchiveCheck, Status: OK, Threshold: threshold, Runbook: "archive-lagging"}
	var hints []string
	raise := func(st Status) { r.Status = max(r.Status, st) } // OK, Warn or Crit only
	if !s.Exists {
		r.Status = Warn
		r.Value = fmt.Sprintf("not streaming: no slot %q on the server", w.Slot)
		hints = append(hints, "start the streamer (opsdeck wal stream, or opsdeck serve with postgres.wal.stream: true): it creates the slot")
		hints = append(hints, f.Problems(w.Slot)...)
		r.Hint = strings.Join(hints, "; ")
		return []Result{r}
	}

	// Lag in time: the server's flush_lag, or the archive's silence.
	lag, lagKnown, lagHow := time.Duration(0), false, ""
	switch {
	case s.Active && !f.ConnectionHidden && s.FlushLag >= 0:
		lag, lagKnown = s.FlushLag, true
	case s.Active:
		lagHow = "unknown"
	case !head.LastWrite.IsZero():
		lag, lagKnown, lagHow = max(now.Sub(head.LastWrite), 0), true, " since last write"
	default:
		lagHow = "unknown"
	}
	lagStatus := OK
	if lagKnown {
		lagStatus = AboveDuration(lag, th.WALArchiveLag)
	}
	retStatus := Above(float64(s.RetainedBytes), th.SlotRetainedBytes)

	var parts []string
	if s.Active {
		parts = append(parts, fmt.Sprintf("streaming (slot %s)", w.Slot))
	} else {
		parts = append(parts, fmt.Sprintf("NOT streaming (slot %s inactive)", w.Slot))
	}
	if lagKnown {
		parts = append(parts, fmt.Sprintf("lag %s%s / %s", ShortDuration(lag), lagHow, progress.Bytes(s.LagBytes)))
	} else {
		parts = append(parts, fmt.Sprintf("lag ? / %s", progress.Bytes(s.LagBytes)))
	}
	ret := "keeps " + progress.Bytes(s.RetainedBytes)
	if s.WALStatus != "" {
		ret += " (" + s.WALStatus + ")"
	}
	parts = append(parts, ret)
	switch {
	case !head.LastSegment.IsZero():
		parts = append(parts, "last segment "+ShortDuration(max(now.Sub(head.LastSegment), 0).Truncate(time.Second))+" ago")
	case head.Err != "":
		parts = append(parts, "last segment unknown")
	default:
		parts = append(parts, "no whole segment yet")
	}
	r.Value = strings.Join(parts, ", ")

	raise(lagStatus)
	raise(retStatus)
	if !s.Active {
		if w.Stream {
			raise(Warn)
		}
		hints = append(hints, fmt.Sprintf("start the streamer: opsdeck wal stream (or opsdeck serve with postgres.wal.stream: true); if the archive is retired, drop the slot: SELECT pg_drop_replication_slot('%s')", w.Slot))
	} else if lagStatus != OK || retStatus != OK {
		hints = append(hints, "the streamer is connected but not keeping up or not acknowledging: check the store (full, unreachable, slow) and the streamer's log")
	}
	if s.WALStatus == "lost" {
		raise(Crit)
	}
	if f.ConnectionHidden {
		hints = append(hints, "the role may not see the streamer's lag in pg_stat_replication: grant pg_monitor to the role of postgres.dsn")
	}
	hints = append(hints, f.Problems(w.Slot)...)
	if head.Err != "" {
		hints = append(hints, "the store: "+head.Err)
	}
	if retStatus > lagStatus || s.WALStatus == "lost" || (!s.Active && retStatus != OK) {
		r.Runbook = "slot-retaining-wal"
	}
	if r.Status != OK || f.ConnectionHidden {
		r.Hint = strings.Join(hints, "; ")
	}
	return []Result{r}
}

// byteLimit formats a limit in bytes.
func byteLimit(l config.Limit) string {
	return fmt.Sprintf("warn ≥%s crit ≥%s", progress.Bytes(int64(l.Warn)), progress.Bytes(int64(l.Crit)))
}
