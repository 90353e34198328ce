package pitr

import (
	"context"
	"errors"
	"fmt"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// LastRecord is where the last whole record of the WAL the plan's
// recovery reads starts: the archive's head as a recovery to it must
// replay it. It decodes the segment holding the end of the WAL held (and
// the one before, when no record starts in the last), so a recovery that
// reports a replay end past it provably replayed every record stored.
func (p *Plan) LastRecord(ctx context.Context) (pgwal.LSN, error) {
	if p.cat == nil || p.archive == nil {
		return 0, errors.New("the plan has no WAL archive")
	}
	size := p.SegmentSize
	cov := p.Coverage
	if cov.To <= p.Base.Start {
		return 0, fmt.Errorf("the archive holds no WAL after base backup %s", p.Set.ID)
	}
	last := pgwal.SegmentOf(cov.ToTimeline, cov.To-1, size)
	first := pgwal.SegmentOf(cov.ToTimeline, p.Base.Start, size)
	dec := pgwal.NewDecoder(size)
	var at pgwal.LSN
	found := false
	// Two segments: a record may start in the one before and fill the last.
	from := last
	if last.No > first.No {
		from.No--
	}
	for seg := from; seg.No <= last.No; seg.No++ {
		data, err := p.readSegment(ctx, seg)
		if err != nil {
			return 0, fmt.Errorf("read WAL segment %s: %w", seg.Name(size), err)
		}
		if uint64(len(data)) > uint64(cov.To-seg.Start(size)) {
			data = data[:cov.To-seg.Start(size)]
		}
		err = dec.Feed(seg, data, func(r *pgwal.Record) error {
			at, found = r.LSN, true
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("decode WAL segment %s: %w", seg.Name(size), err)
		}
	}
	if !found {
		return 0, fmt.Errorf("no whole WAL record in the archive's last segments before %s", cov.To)
	}
	return at, nil
}

// readSegment reads seg from the timelines the recovery follows, the
// newest first: the segment before a switch may be the parent's.
func (p *Plan) readSegment(ctx context.Context, seg pgwal.Segment) ([]byte, error) {
	tls := p.Coverage.Timelines
	var err error
	for i := len(tls) - 1; i >= 0; i-- {
		if tls[i] > seg.Timeline {
			continue
		}
		s := seg
		s.Timeline = tls[i]
		var data []byte
		if data, err = p.archive.ReadSegment(ctx, p.cat, s); err == nil {
			return data, nil
		}
		if !errors.Is(err, backup.ErrNotFound) {
			return nil, err
		}
	}
	if err == nil {
		err = backup.ErrNotFound
	}
	return nil, err
}
