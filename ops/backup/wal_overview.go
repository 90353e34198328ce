package backup

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// WALOverview is one cluster's archive at a glance, read from the object
// names and the (tiny) history files only: what `backups list`, the
// Backups tab and the checks show. VerifyWAL reads everything.
type WALOverview struct {
	SystemID    uint64
	SegmentSize uint64
	Catalog     *WALCatalog
	// Head is the end of the newest timeline's WAL held without a hole
	// after its last whole segment (HeadTimeline), stored at HeadTime.
	Head         pgwal.LSN
	HeadTimeline uint32
	HeadTime     time.Time
	Coverage     []Coverage
	Gaps         []Gap
	// Spans are the times the archive can recover to.
	Spans []TimeSpan
	// Err is why the archive could not be read, "" when it was.
	Err string
}

// ReadWALOverviews reads the overview of every archive in the engine's
// store, carrying bases (the base backups, from WALStarts).
func (e *Engine) ReadWALOverviews(ctx context.Context, bases []WALStart) ([]WALOverview, error) {
	systems, err := WALSystems(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	// A cluster with base backups but no archive yet is shown too.
	seen := map[uint64]bool{}
	for _, s := range systems {
		seen[s] = true
	}
	for _, b := range bases {
		if !seen[b.SystemID] {
			seen[b.SystemID] = true
			systems = append(systems, b.SystemID)
		}
	}
	sort.Slice(systems, func(i, j int) bool { return systems[i] < systems[j] })
	var out []WALOverview
	for _, sys := range systems {
		out = append(out, e.walOverview(ctx, sys, bases))
	}
	return out, nil
}

func (e *Engine) walOverview(ctx context.Context, sys uint64, bases []WALStart) WALOverview {
	o := WALOverview{SystemID: sys}
	a, err := e.WALArchive(sys)
	if err != nil {
		o.Err = err.Error()
		return o
	}
	cat, err := a.Catalog(ctx)
	if err != nil {
		o.Err = fmt.Sprintf("no WAL archive: %v", err)
		for _, b := range bases {
			if b.SystemID == sys {
				o.Coverage = append(o.Coverage, Coverage{Base: b, To: b.Start, ToTimeline: b.Timeline, Missing: "(no archive)"})
			}
		}
		return o
	}
	o.Catalog, o.SegmentSize = cat, cat.Info.SegmentSize
	o.HeadTimeline, o.Head, o.HeadTime = cat.Head()
	o.Gaps = cat.Gaps()
	hist, err := a.Histories(ctx, cat)
	if err != nil {
		o.Err = err.Error()
	}
	for _, b := range bases {
		if b.SystemID == sys {
			o.Coverage = append(o.Coverage, cat.Cover(b, hist))
		}
	}
	o.Spans = Recoverable(o.Coverage)
	return o
}

// Head returns the newest timeline and the end of its WAL held without a
// hole after its last whole segment, and when that was stored.
func (c *WALCatalog) Head() (uint32, pgwal.LSN, time.Time) {
	tls := c.Timelines()
	if len(tls) == 0 {
		return 0, 0, time.Time{}
	}
	tli := tls[len(tls)-1]
	size := c.Info.SegmentSize
	var head pgwal.LSN
	var at time.Time
	segs := c.Segments[tli]
	open := pgwal.Segment{Timeline: tli}
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		head, at = last.Segment.End(size), last.ModTime
		open.No = last.Segment.No + 1
	} else if ps := c.Partials[tli]; len(ps) > 0 {
		open = ps[0].Segment
		head = open.Start(size)
	}
	for {
		run, end := c.partialRun(open)
		if end == 0 {
			break
		}
		head = open.Start(size) + pgwal.LSN(end)
		at = run[len(run)-1].ModTime
		if uint64(end) != size {
			break
		}
		open.No++ // stored as chunks, not yet whole: the next may follow
	}
	return tli, head, at
}
