package pitr

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Defaults of FindOptions.
const (
	DefaultMinRows  = 1000
	DefaultMinShare = 0.10
	// minShareRows is the fewest rows the share rule reports: an UPDATE
	// of the one row of a one-row table is no disaster.
	minShareRows = 10
)

// Find reads the archived WAL of the store's newest cluster and lists the
// destructive transactions (see EventKind), oldest first, with what else
// happened in their minute. It decodes the records itself; relations are
// named by the archive's relfilenode maps and, when the server answers,
// the live catalog.
func Find(ctx context.Context, e *backup.Engine, o FindOptions, p progress.Func) (*Found, error) {
	if o.MinRows <= 0 {
		o.MinRows = DefaultMinRows
	}
	if o.MinShare <= 0 {
		o.MinShare = DefaultMinShare
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Until.After(o.Since) {
		return nil, fmt.Errorf("--until %s is not after --since %s", o.Until.Format(time.DateTime), o.Since.Format(time.DateTime))
	}
	arch, cat, err := newestArchive(ctx, e)
	if err != nil {
		return nil, err
	}
	hist, err := arch.Histories(ctx, cat)
	if err != nil {
		return nil, err
	}
	f := &Found{}
	maps, notes := relMaps(ctx, e, arch, cat)
	f.Notes = append(f.Notes, notes...)
	pieces := piecesFor(cat.Lineage(hist), o)
	if len(pieces) == 0 {
		return f, nil
	}
	dec := pgwal.NewDecoder(cat.Info.SegmentSize)
	s := newScan(o, maps, f, dec.Version)
	var total int64
	for _, pc := range pieces {
		total += pc.Bytes
	}
	size := cat.Info.SegmentSize
	var done int64
	var prev *backup.WALPiece
	err = readInOrder(ctx, arch, cat, pieces, func(pc backup.WALPiece, data []byte) error {
		if f.Segments == 0 {
			f.From = pc.Segment.Start(size)
		}
		if prev != nil && pc.Segment.No != prev.Segment.No+1 {
			f.Notes = append(f.Notes, fmt.Sprintf("the archive lacks the WAL from %s to %s (segments %s to %s): transactions there are not seen",
				prev.Segment.End(size), pc.Segment.Start(size), pgwal.Segment{Timeline: pc.Segment.Timeline, No: prev.Segment.No + 1}.Name(size),
				pgwal.Segment{Timeline: pc.Segment.Timeline, No: pc.Segment.No - 1}.Name(size)))
		} else if prev != nil && prev.Whole == nil {
			f.Notes = append(f.Notes, fmt.Sprintf("segment %s is stored only in part (a chunk is missing): the WAL after its stored part up to %s is not seen",
				prev.Segment.Name(size), pc.Segment.Start(size)))
		}
		prev = &pc
		f.Segments++
		f.Bytes += int64(len(data))
		s.tli = pc.Segment.Timeline
		if err := dec.Feed(pc.Segment, data, s.record); err != nil {
			return fmt.Errorf("segment %s: %w", pc.Segment.Name(cat.Info.SegmentSize), err)
		}
		f.To = pc.Segment.Start(cat.Info.SegmentSize) + pgwal.LSN(len(data))
		done += pc.Bytes
		p.Emit(progress.Event{Kind: progress.Advance, Op: "wal find", Step: "decode", Done: done, Total: total, Bytes: true})
		if s.pastUntil {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return f, err
	}
	f.Records = s.records
	if s.unknown > 0 {
		f.Notes = append(f.Notes, fmt.Sprintf("%d relation files no map names (made and dropped between two maps, or in another database than %s): shown by number", s.unknown, maps.name))
	}
	addContext(ctx, e, f)
	return f, nil
}

var errStop = errors.New("past --until")

// newestArchive is the store's WAL archive written last.
func newestArchive(ctx context.Context, e *backup.Engine) (*backup.WALArchive, *backup.WALCatalog, error) {
	systems, err := backup.WALSystems(ctx, e.Store)
	if err != nil {
		return nil, nil, fmt.Errorf("list the WAL archives: %w", err)
	}
	var best *backup.WALArchive
	var bestCat *backup.WALCatalog
	for _, sys := range systems {
		a, err := e.WALArchive(sys)
		if err != nil {
			return nil, nil, err
		}
		c, err := a.Catalog(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("read the WAL archive of system %d: %w", sys, err)
		}
		if bestCat == nil || c.Newest.After(bestCat.Newest) {
			best, bestCat = a, c
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("the store %s holds no WAL archive: turn on postgres.wal.stream and run opsdeck wal stream (see docs/backups.md)", e.Store)
	}
	return best, bestCat, nil
}

// namedMaps are the relfilenode maps of the configured database.
type namedMaps struct {
	*pgwal.RelMaps
	name string
}

// relMaps reads the archive's maps and the live one (when the server
// answers), keeping those of the configured database: the newest's.
func relMaps(ctx context.Context, e *backup.Engine, arch *backup.WALArchive, cat *backup.WALCatalog) (namedMaps, []string) {
	var notes []string
	var all []*pgwal.RelMap
	for _, o := range cat.RelMaps {
		m, err := arch.ReadRelMap(ctx, o)
		if err != nil {
			notes = append(notes, "a relation map was not read: "+err.Error())
			continue
		}
		all = append(all, m)
	}
	if e.Config.Postgres.Configured() {
		if m, err := e.ReadLiveRelMap(ctx); err == nil {
			all = append(all, m)
		} else {
			notes = append(notes, "the live catalog was not read (names come from the archive's maps alone): "+err.Error())
		}
	}
	if len(all) == 0 {
		notes = append(notes, "the archive holds no relation map (base backups and the streamer store them): relations are shown by file number")
		return namedMaps{RelMaps: pgwal.NewRelMaps(nil), name: "the database"}, notes
	}
	newest := all[len(all)-1]
	var same []*pgwal.RelMap
	for _, m := range all {
		if m.DB == newest.DB && m.Database == newest.Database {
			same = append(same, m)
		}
	}
	return namedMaps{RelMaps: pgwal.NewRelMaps(same), name: newest.Database}, notes
}

// piecesFor keeps the pieces that may hold commits in o's window: a
// piece written before Since holds none after it (the streamer writes a
// segment once the server has).
func piecesFor(pieces []backup.WALPiece, o FindOptions) []backup.WALPiece {
	if o.Since.IsZero() {
		return pieces
	}
	i := slices.IndexFunc(pieces, func(p backup.WALPiece) bool { return !p.ModTime.Before(o.Since) })
	if i < 0 {
		return nil
	}
	return pieces[max(i-1, 0):] // one before: transactions that began in it
}

// readInOrder reads pieces on several goroutines and hands them to fn in
// order, a few ahead at most.
func readInOrder(ctx context.Context, arch *backup.WALArchive, cat *backup.WALCatalog, pieces []backup.WALPiece,
	fn func(backup.WALPiece, []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	// Segments read ahead are held in memory: at most 256 MiB of them.
	workers := max(1, min(runtime.GOMAXPROCS(0), 4, int((256<<20)/max(cat.Info.SegmentSize, 1))-1))
	results := make([]chan result, len(pieces))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, workers+1)
	go func() {
		for i, pc := range pieces {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				b, err := arch.ReadPiece(ctx, cat, pc)
				results[i] <- result{b, err}
			}()
		}
	}()
	for i, pc := range pieces {
		var r result
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if r.err != nil {
			return fmt.Errorf("read segment %s: %w", pc.Segment.Name(cat.Info.SegmentSize), r.err)
		}
		if err := fn(pc, r.data); err != nil {
			return err
		}
	}
	return nil
}

// matchesTables reports whether an event touches one of tables ("name"
// meaning public.name).
func matchesTables(ev Event, tables []string) bool {
	if len(tables) == 0 {
		return true
	}
	for _, r := range ev.Relations {
		for _, t := range tables {
			if !strings.Contains(t, ".") {
				t = "public." + t
			}
			if r.Name == t {
				return true
			}
		}
	}
	return false
}
