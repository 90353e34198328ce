package backup

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/progress"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// WALVerifyResult is the check of one cluster's WAL archive.
type WALVerifyResult struct {
	SystemID uint64
	Deep     bool
	// Objects and Bytes are what was read back.
	Objects int
	Bytes   int64
	// Problems each name an object or a segment and what is wrong.
	Problems []string
	// Notes are facts that are not failures (no base backup yet, chunks
	// left by a stopped streamer, holes before the oldest base backup).
	Notes    []string
	Gaps     []Gap
	Coverage []Coverage
	// Spans are the times the archive can recover to.
	Spans []TimeSpan
}

// OK reports whether the archive passed.
func (r WALVerifyResult) OK() bool { return len(r.Problems) == 0 }

// VerifyWAL reads back every object of the archive and checks its
// SHA-256 (and with deep, every page header of every segment: where it
// says it is, its timeline, the system and the segment size), that no
// segment is missing from the oldest base backup's start to the head on
// every timeline followed, and how far each base backup is carried.
// tick, when set, is told the stored bytes read so far and the total.
func (a *WALArchive) VerifyWAL(ctx context.Context, bases []WALStart, deep bool, tick func(done, total int64)) (WALVerifyResult, error) {
	res := WALVerifyResult{SystemID: a.SystemID, Deep: deep}
	c, err := a.Catalog(ctx)
	if err != nil {
		return res, err
	}
	size := c.Info.SegmentSize
	var done int64
	advance := func(o WALObject) {
		res.Objects++
		res.Bytes += o.Size
		done += o.Size
		if tick != nil {
			tick(done, c.Bytes)
		}
	}
	for _, tli := range c.Timelines() {
		for _, o := range c.Segments[tli] {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			data, err := a.Read(ctx, o)
			advance(o)
			if err != nil {
				res.Problems = append(res.Problems, err.Error())
				continue
			}
			if uint64(len(data)) != size {
				res.Problems = append(res.Problems, fmt.Sprintf("%s: %d bytes, a segment is %d", o.Key, len(data), size))
				continue
			}
			if deep {
				if _, err := pgwal.CheckSegment(data, o.Segment, size, a.SystemID); err != nil {
					res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", o.Key, err))
				}
			}
		}
		// The open segments: every chunk read back; deep checks the pages
		// of the run from the segment's start.
		for _, o := range c.Partials[tli] {
			if _, err := a.Read(ctx, o); err != nil {
				res.Problems = append(res.Problems, err.Error())
			}
			advance(o)
		}
		for _, seg := range c.OpenSegments(tli) {
			if !deep {
				break // the pages are deep verify's
			}
			run, err := a.ReadPartial(ctx, c, seg)
			if err != nil {
				continue // named above, or a run that does not start at 0 (a note below)
			}
			full := make([]byte, size)
			copy(full, run)
			if _, err := pgwal.CheckSegment(full, seg, size, a.SystemID); err != nil {
				res.Problems = append(res.Problems, fmt.Sprintf("%s (first %d bytes held): %v", seg.Name(size), len(run), err))
			}
		}
	}
	for _, o := range c.Stale {
		advance(o)
	}
	if n := len(c.Stale); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d chunk(s) of segments stored whole since (a streamer stopped between the two writes): prune deletes them", n))
	}
	for _, o := range c.Stray {
		res.Problems = append(res.Problems, fmt.Sprintf("%s: not a name the WAL archive writes", o.Key))
	}
	hist, err := a.Histories(ctx, c)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	var mine []WALStart
	for _, b := range bases {
		if b.SystemID == a.SystemID {
			mine = append(mine, b)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Start < mine[j].Start })
	res.Gaps = c.Gaps()
	for _, g := range res.Gaps {
		if len(mine) > 0 && g.To > mine[0].Start {
			res.Problems = append(res.Problems, fmt.Sprintf("timeline %d: %s", g.Timeline, g))
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("timeline %d: %s, before the oldest base backup", g.Timeline, g))
		}
	}
	if len(mine) == 0 {
		res.Notes = append(res.Notes, "no base backup of this cluster: the WAL alone restores nothing — take one with `opsdeck backup base`")
	}
	for _, b := range mine {
		cov := c.Cover(b, hist)
		res.Coverage = append(res.Coverage, cov)
		if !cov.OK() {
			res.Problems = append(res.Problems, fmt.Sprintf("base backup %s cannot be recovered: the WAL stops at %s (segment %s missing), it needs %s", b.ID, cov.To, cov.Missing, b.Stop))
		}
	}
	res.Spans = Recoverable(res.Coverage)
	return res, nil
}

// VerifyArchives checks every cluster's WAL archive in the store
// (VerifyWAL), carrying the store's base backups, under the store's reader
// lock. The error is non-nil when an archive failed; each result names
// its problems.
func (e *Engine) VerifyArchives(ctx context.Context, deep bool, p progress.Func) ([]WALVerifyResult, error) {
	target := e.Store.String()
	if err := e.Refuse(ctx, access.BackupVerify, target); err != nil {
		return nil, err
	}
	entry := e.AuditLog(ctx).Begin("backup.verify", target+" (WAL archive)", map[string]any{"deep": deep})
	lock, err := e.LockStoreFor(ctx, LockReader, verifyMode(deep)+" WAL verify")
	if err != nil {
		endAudit(entry, err)
		return nil, err
	}
	defer lock.Release()
	results, err := e.verifyArchives(ctx, deep, p)
	endAudit(entry, err)
	return results, err
}

func (e *Engine) verifyArchives(ctx context.Context, deep bool, p progress.Func) ([]WALVerifyResult, error) {
	systems, err := WALSystems(ctx, e.Store)
	if err != nil || len(systems) == 0 {
		return nil, err
	}
	sets, err := List(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	bases := WALStarts(sets)
	var results []WALVerifyResult
	var failed []string
	for _, sys := range systems {
		a, err := e.WALArchive(sys)
		if err != nil {
			return results, err
		}
		step := fmt.Sprintf("WAL archive %d", sys)
		tick := func(done, total int64) {
			p.Emit(progress.Event{Kind: progress.Advance, Op: "verify", Step: step, Done: done, Total: total, Bytes: true})
		}
		r, err := a.VerifyWAL(ctx, bases, deep, tick)
		if err != nil {
			return results, fmt.Errorf("%s: %w", step, err)
		}
		if !r.OK() {
			failed = append(failed, fmt.Sprintf("%s: %s", step, strings.Join(r.Problems, "; ")))
		}
		results = append(results, r)
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("verify failed for %d WAL archive(s): %s", len(failed), strings.Join(failed, " | "))
	}
	return results, nil
}
