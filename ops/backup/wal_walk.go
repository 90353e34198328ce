package backup

import (
	"context"
	"slices"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// WALPiece is one segment of the archive as a reader walks it: whole, or
// the chunks of a segment not yet whole, from its start.
type WALPiece struct {
	Segment pgwal.Segment
	// Whole is the whole segment; nil when only chunks hold it.
	Whole *WALObject
	// Bytes is what the store holds for it; ModTime its newest write.
	Bytes   int64
	ModTime time.Time
}

// Lineage lists the stored segments of the newest timeline's line, in
// order: each segment from the timeline that holds it on the way to the
// newest one (the segment holding a switch point from the child, whose
// copy holds the parent's records before the switch and its own after).
// A segment not stored is left out: a reader sees the gap.
func (c *WALCatalog) Lineage(hist map[uint32][]HistoryEntry) []WALPiece {
	tls := c.Timelines()
	if len(tls) == 0 {
		return nil
	}
	newest := tls[len(tls)-1]
	var legs []leg
	for _, e := range hist[newest] {
		legs = append(legs, leg{tli: e.Parent, end: e.Switch})
	}
	legs = append(legs, leg{tli: newest})
	size := c.Info.SegmentSize
	timelineOf := func(no uint64) uint32 {
		end := pgwal.LSN((no + 1) * size)
		for _, l := range legs[:len(legs)-1] {
			if end <= l.end {
				return l.tli
			}
		}
		return newest
	}
	pieces := map[uint64]WALPiece{}
	for _, l := range legs {
		for _, o := range c.Segments[l.tli] {
			if timelineOf(o.Segment.No) == l.tli {
				o := o
				pieces[o.Segment.No] = WALPiece{Segment: o.Segment, Whole: &o, Bytes: o.Size, ModTime: o.ModTime}
			}
		}
		for _, seg := range c.OpenSegments(l.tli) {
			if _, whole := pieces[seg.No]; whole || timelineOf(seg.No) != l.tli {
				continue
			}
			run, _ := c.partialRun(seg)
			p := WALPiece{Segment: seg}
			for _, o := range run {
				p.Bytes += o.Size
				if o.ModTime.After(p.ModTime) {
					p.ModTime = o.ModTime
				}
			}
			if len(run) > 0 {
				pieces[seg.No] = p
			}
		}
	}
	out := make([]WALPiece, 0, len(pieces))
	for _, p := range pieces {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b WALPiece) int {
		if a.Segment.No < b.Segment.No {
			return -1
		}
		if a.Segment.No > b.Segment.No {
			return 1
		}
		return 0
	})
	return out
}

// ReadPiece reads a piece's bytes: the whole segment, or its chunks'
// from the segment's start up to the first hole.
func (a *WALArchive) ReadPiece(ctx context.Context, c *WALCatalog, p WALPiece) ([]byte, error) {
	if p.Whole != nil {
		return a.Read(ctx, *p.Whole)
	}
	return a.ReadPartial(ctx, c, p.Segment)
}

// ReadSegment reads seg's bytes: the whole segment when the store holds
// it, else its chunks from its start up to the first hole.
func (a *WALArchive) ReadSegment(ctx context.Context, c *WALCatalog, seg pgwal.Segment) ([]byte, error) {
	for _, o := range c.Segments[seg.Timeline] {
		if o.Segment == seg {
			return a.Read(ctx, o)
		}
	}
	return a.ReadPartial(ctx, c, seg)
}
