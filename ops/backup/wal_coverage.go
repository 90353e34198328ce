package backup

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// WALStart is where recovery from a base backup begins and becomes
// consistent: the WAL archive must hold everything from Start on.
type WALStart struct {
	ID       string    `json:"id"` // the base backup's set
	SystemID uint64    `json:"system_identifier,string"`
	Timeline uint32    `json:"timeline"`
	Start    pgwal.LSN `json:"start_lsn"` // the backup's start (its checkpoint's redo point)
	Stop     pgwal.LSN `json:"stop_lsn"`  // where a recovery from it becomes consistent
	At       time.Time `json:"end"`       // when the backup ended
}

// Coverage is how far the archive carries one base backup.
type Coverage struct {
	Base WALStart
	// Timelines are those followed from the base backup's, in order.
	Timelines []uint32
	// To is the end of the WAL held without a hole, on ToTimeline; ToTime
	// is when the last object reached was stored.
	To         pgwal.LSN
	ToTimeline uint32
	ToTime     time.Time
	// Missing names the segment the walk stopped at when one on the way
	// to a newer timeline, or before the base is consistent, is absent.
	Missing string
}

// OK reports whether the base backup can be recovered at all: the WAL
// reaches its consistent point.
func (c Coverage) OK() bool { return c.To >= c.Base.Stop && c.Missing == "" }

// Gap is a hole in one timeline's segments.
type Gap struct {
	Timeline    uint32
	From, To    pgwal.LSN // the missing bytes
	First, Last string    // the missing segments' names
}

func (g Gap) String() string {
	if g.First == g.Last {
		return fmt.Sprintf("segment %s missing (%s–%s)", g.First, g.From, g.To)
	}
	return fmt.Sprintf("segments %s to %s missing (%s–%s)", g.First, g.Last, g.From, g.To)
}

// Gaps lists the holes between the segments each timeline holds.
func (c *WALCatalog) Gaps() []Gap {
	size := c.Info.SegmentSize
	var out []Gap
	for _, tli := range c.Timelines() {
		segs := c.Segments[tli]
		for i := 1; i < len(segs); i++ {
			prev, cur := segs[i-1].Segment, segs[i].Segment
			if cur.No > prev.No+1 {
				first := pgwal.Segment{Timeline: tli, No: prev.No + 1}
				last := pgwal.Segment{Timeline: tli, No: cur.No - 1}
				out = append(out, Gap{Timeline: tli, From: first.Start(size), To: last.End(size), First: first.Name(size), Last: last.Name(size)})
			}
		}
		// Chunks of a segment after a hole past the last whole one.
		if p := c.Partials[tli]; len(p) > 0 && len(segs) > 0 {
			last := segs[len(segs)-1].Segment
			if p[0].Segment.No > last.No+1 {
				first := pgwal.Segment{Timeline: tli, No: last.No + 1}
				end := pgwal.Segment{Timeline: tli, No: p[0].Segment.No - 1}
				out = append(out, Gap{Timeline: tli, From: first.Start(size), To: end.End(size), First: first.Name(size), Last: end.Name(size)})
			}
		}
	}
	return out
}

// Histories reads and parses every timeline history file.
func (a *WALArchive) Histories(ctx context.Context, c *WALCatalog) (map[uint32][]HistoryEntry, error) {
	out := map[uint32][]HistoryEntry{}
	for tli, o := range c.Histories {
		b, err := a.Read(ctx, o)
		if err != nil {
			return nil, err
		}
		h, err := ParseHistory(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
		out[tli] = h
	}
	return out, nil
}

// leg is a stretch of one timeline on the way from a base backup: the
// timeline holds the WAL up to End (its switch point; 0 on the last).
type leg struct {
	tli uint32
	end pgwal.LSN
}

// timelinePath returns the timelines to follow from timeline from at LSN
// at: to the newest timeline whose history descends from it past at. A
// history lists every ancestor with the point it ended at, oldest first.
func timelinePath(from uint32, at pgwal.LSN, timelines []uint32, hist map[uint32][]HistoryEntry) []leg {
	best := []leg{{tli: from}}
	for _, t := range timelines {
		if t <= best[len(best)-1].tli {
			continue
		}
		h := hist[t]
		for i, e := range h {
			if e.Parent != from || e.Switch < at {
				continue
			}
			var legs []leg
			for _, anc := range h[i:] {
				legs = append(legs, leg{tli: anc.Parent, end: anc.Switch})
			}
			best = append(legs, leg{tli: t})
			break
		}
	}
	return best
}

// Cover walks the archive from base b: whole segments on each timeline of
// its path up to the switch point, then the newest timeline's segments and
// the chunks of its open segment.
func (c *WALCatalog) Cover(b WALStart, hist map[uint32][]HistoryEntry) Coverage {
	size := c.Info.SegmentSize
	cov := Coverage{Base: b}
	have := map[pgwal.Segment]WALObject{}
	for _, segs := range c.Segments {
		for _, s := range segs {
			have[s.Segment] = s
		}
	}
	pos := pgwal.SegmentOf(b.Timeline, b.Start, size).Start(size)
	legs := timelinePath(b.Timeline, b.Start, c.Timelines(), hist)
	for i, l := range legs {
		cov.Timelines = append(cov.Timelines, l.tli)
		cov.ToTimeline = l.tli
		last := i == len(legs)-1
		for {
			seg := pgwal.SegmentOf(l.tli, pos, size)
			if !last && seg.No >= pgwal.SegmentOf(l.tli, l.end, size).No {
				break // the segment holding the switch is read from the next timeline
			}
			o, ok := have[seg]
			if !ok {
				run, end := c.partialRun(seg)
				if uint64(end) == size { // stored as chunks, not yet whole
					pos = seg.End(size)
					cov.To = pos
					if t := run[len(run)-1].ModTime; t.After(cov.ToTime) {
						cov.ToTime = t
					}
					continue
				}
				if last && end > 0 {
					cov.To = seg.Start(size) + pgwal.LSN(end)
					if t := run[len(run)-1].ModTime; t.After(cov.ToTime) {
						cov.ToTime = t
					}
					return cov
				}
				cov.To = pos
				if !last || pos < b.Stop {
					cov.Missing = seg.Name(size)
				}
				return cov
			}
			pos = seg.End(size)
			cov.To = pos
			if o.ModTime.After(cov.ToTime) {
				cov.ToTime = o.ModTime
			}
		}
	}
	return cov
}

// Recoverable merges the coverage of every base backup into the spans of
// time the archive can recover to: from a base backup's end to the last
// WAL stored after it without a hole.
func Recoverable(covs []Coverage) []TimeSpan {
	var spans []TimeSpan
	for _, c := range covs {
		if c.OK() {
			// The WAL reaches the backup's consistent point: at least the
			// moment it ended, up to the last WAL stored after it.
			to := c.ToTime
			if to.Before(c.Base.At) {
				to = c.Base.At
			}
			spans = append(spans, TimeSpan{From: c.Base.At, To: to})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].From.Before(spans[j].From) })
	var out []TimeSpan
	for _, s := range spans {
		if n := len(out); n > 0 && !s.From.After(out[n-1].To) {
			if s.To.After(out[n-1].To) {
				out[n-1].To = s.To
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// TimeSpan is a stretch of time.
type TimeSpan struct{ From, To time.Time }

// PlanWALPrune returns the objects a prune deletes: segments and chunks
// before the oldest kept base backup's start segment, the relation maps
// that only those needed, and chunks of
// segments stored whole since. With no base backup kept nothing but those
// chunks goes: WAL without a base is not judged useless by opsdeck.
func PlanWALPrune(c *WALCatalog, keep []WALStart) []WALObject {
	out := append([]WALObject(nil), c.Stale...)
	min := uint64(0)
	found := false
	for _, b := range keep {
		if b.SystemID != c.Info.SystemID {
			continue
		}
		no := uint64(b.Start) / c.Info.SegmentSize
		if !found || no < min {
			min, found = no, true
		}
	}
	if !found {
		return out
	}
	for _, segs := range c.Segments {
		for _, s := range segs {
			if s.Segment.No < min {
				out = append(out, s)
			}
		}
	}
	for _, ps := range c.Partials {
		for _, p := range ps {
			if p.Segment.No < min {
				out = append(out, p)
			}
		}
	}
	return append(out, relMapsToPrune(c, pgwal.LSN(min*c.Info.SegmentSize))...)
}
