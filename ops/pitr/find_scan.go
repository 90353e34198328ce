package pitr

import (
	"fmt"
	"slices"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// scan follows the transactions through the records: the rows each
// deletes, updates and inserts per relation file, the files it makes and
// writes, the catalog rows it writes; at its commit it becomes an event
// when it was destructive, at its abort it is forgotten.
type scan struct {
	o    FindOptions
	maps namedMaps
	f    *Found

	xacts map[uint32]*xact
	// top maps a subtransaction to its top-level transaction and subs
	// the other way, from assignment records and records naming their
	// top-level transaction; a commit record lists its own too.
	top     map[uint32]uint32
	subs    map[uint32][]uint32
	free    []*xact
	version func() int // the WAL's major version, from the decoder
	records int64
	unknown int // files no map names, in events
	// pastUntil: a commit after Until was seen: the rest is later.
	pastUntil bool
	// tli is the timeline of the segment being read.
	tli uint32
}

// xact is what one (sub)transaction did so far.
type xact struct {
	rows    map[uint32]*rowCounts // by relation file (of the maps' database)
	created []uint32              // files it made (main fork)
	// filled counts the heap rows or heap pages written into files it
	// made (a rewrite fills the table's new file, a TRUNCATE leaves it
	// empty; an index build writes index pages); opaque counts the
	// compressed page images, which cannot tell.
	filled, opaque map[uint32]int
	catalog        bool // wrote catalog rows (pg_statistic's aside)
}

type rowCounts struct{ deleted, updated, inserted int64 }

func newScan(o FindOptions, maps namedMaps, f *Found, version func() int) *scan {
	return &scan{o: o, maps: maps, f: f, xacts: map[uint32]*xact{}, top: map[uint32]uint32{}, subs: map[uint32][]uint32{}, version: version}
}

func newXact() *xact {
	return &xact{rows: map[uint32]*rowCounts{}, filled: map[uint32]int{}, opaque: map[uint32]int{}}
}

// assign notes that sub is a subtransaction of top.
func (s *scan) assign(sub, top uint32) {
	if _, ok := s.top[sub]; ok {
		return
	}
	s.top[sub] = top
	s.subs[top] = append(s.subs[top], sub)
}

// of is the (sub)transaction's record, made on first use.
func (s *scan) of(xid uint32) *xact {
	x, ok := s.xacts[xid]
	if !ok {
		if n := len(s.free); n > 0 {
			x, s.free = s.free[n-1], s.free[:n-1]
		} else {
			x = newXact()
		}
		s.xacts[xid] = x
	}
	return x
}

// forget drops a transaction's record, keeping its maps for reuse.
func (s *scan) forget(xid uint32) {
	x, ok := s.xacts[xid]
	if !ok {
		return
	}
	delete(s.xacts, xid)
	clear(x.rows)
	clear(x.filled)
	clear(x.opaque)
	x.created, x.catalog = x.created[:0], false
	s.free = append(s.free, x)
}

// inDB reports whether a file is of the maps' database (all files when
// there is no map).
func (s *scan) inDB(r pgwal.RelFileNode) bool {
	db := s.maps.DB()
	return db == 0 || r.DB == db
}

// record takes one record (pgwal.Decoder's callback).
func (s *scan) record(r *pgwal.Record) error {
	s.records++
	xid := r.XID
	if r.TopXID != 0 {
		s.assign(xid, r.TopXID)
	}
	switch r.Rmgr {
	case pgwal.RmgrHeap:
		if xid == 0 || len(r.Blocks) == 0 || !s.inDB(r.Blocks[0].Rel) {
			break
		}
		x := s.of(xid)
		file := r.Blocks[0].Rel.Rel
		switch r.HeapOp() {
		case pgwal.HeapInsert:
			s.count(x, file).inserted++
		case pgwal.HeapDelete:
			if !pgwal.HeapDeleteKeepsRow(r) {
				s.count(x, file).deleted++
			}
		case pgwal.HeapUpdate, pgwal.HeapHotUpdate:
			s.count(x, file).updated++
		}
		if op := r.HeapOp(); op != pgwal.HeapInplace && s.catalogFile(file, r.LSN) {
			x.catalog = true
		}
	case pgwal.RmgrHeap2:
		if xid != 0 && r.Op() == pgwal.Heap2MultiIns && len(r.Blocks) > 0 && s.inDB(r.Blocks[0].Rel) {
			s.count(s.of(xid), r.Blocks[0].Rel.Rel).inserted += int64(pgwal.MultiInsertTuples(r))
		}
	case pgwal.RmgrSmgr:
		if r.Op() == pgwal.SmgrCreate && xid != 0 {
			if rel, fork, ok := pgwal.SmgrCreated(r); ok && fork == 0 && s.inDB(rel) {
				x := s.of(xid)
				x.created = append(x.created, rel.Rel)
			}
		}
	case pgwal.RmgrXact:
		return s.xactRecord(r)
	}
	if xid != 0 && len(r.Blocks) > 0 {
		if x, ok := s.xacts[xid]; ok && len(x.created) > 0 {
			s.fill(x, r)
		}
	}
	return nil
}

// fill counts what r writes into files the transaction made: heap rows,
// or full-page images of heap pages (a page without special space; an
// index's pages have one).
func (s *scan) fill(x *xact, r *pgwal.Record) {
	for _, b := range r.Blocks {
		if b.Fork != 0 || !slices.Contains(x.created, b.Rel.Rel) {
			continue
		}
		switch {
		case r.Rmgr == pgwal.RmgrHeap || r.Rmgr == pgwal.RmgrHeap2:
			x.filled[b.Rel.Rel]++
		case b.HasImage && b.Compressed:
			x.opaque[b.Rel.Rel]++
		case b.HasImage:
			if special, ok := b.PageSpecial(); ok && special == pgwal.PageSize {
				x.filled[b.Rel.Rel]++
			}
		}
	}
}

func (s *scan) count(x *xact, file uint32) *rowCounts {
	c, ok := x.rows[file]
	if !ok {
		c = &rowCounts{}
		x.rows[file] = c
	}
	return c
}

// catalogFile reports whether file is a catalog's other than
// pg_statistic's (ANALYZE writes that one: no DDL).
func (s *scan) catalogFile(file uint32, lsn pgwal.LSN) bool {
	if e, _, ok := s.maps.File(file, lsn); ok {
		return e.Catalog() && e.Name != "pg_catalog.pg_statistic"
	}
	return file < 16384 && file != 2619 // FirstNormalObjectId; pg_statistic's initial file
}

// xactRecord takes a transaction manager's record.
func (s *scan) xactRecord(r *pgwal.Record) error {
	switch op := r.XactOp(); op {
	case pgwal.XactAssignment:
		top, subs, err := pgwal.ParseAssignment(r)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			s.assign(sub, top)
		}
	case pgwal.XactCommit, pgwal.XactCommitPrepared, pgwal.XactAbort, pgwal.XactAbortPrepared:
		end, err := pgwal.ParseXactEnd(r, s.version())
		if err != nil {
			return err
		}
		if end.Commit {
			s.commit(r, end)
		}
		s.forget(end.XID)
		for _, sub := range append(end.Subxacts, s.subs[end.XID]...) {
			s.forget(sub)
			delete(s.top, sub)
		}
		delete(s.subs, end.XID)
		delete(s.top, end.XID) // a subtransaction rolled back on its own
	}
	return nil
}

// commit folds a committed transaction and its subtransactions together
// and reports it when it was destructive.
func (s *scan) commit(r *pgwal.Record, end pgwal.XactEnd) {
	if s.f.FromTime.IsZero() {
		s.f.FromTime = end.Time
	}
	s.f.ToTime = end.Time
	if !s.o.Until.IsZero() && end.Time.After(s.o.Until.Add(time.Minute)) {
		s.pastUntil = true
	}
	if (!s.o.Since.IsZero() && end.Time.Before(s.o.Since)) || (!s.o.Until.IsZero() && end.Time.After(s.o.Until)) {
		return
	}
	x := s.merged(end)
	if x == nil && len(end.Dropped) == 0 {
		return // it wrote no rows and unlinked no file
	}
	if x == nil {
		x = newXact()
	}
	ev := Event{XID: end.XID, Commit: r.LSN, Time: end.Time, Timeline: s.tli}
	s.unlinked(&ev, x, end)
	s.rowEvents(&ev, x, r.LSN)
	s.ddl(&ev, x, end, r.LSN)
	if len(ev.Relations) == 0 || !matchesTables(ev, s.o.Tables) {
		return
	}
	slices.SortStableFunc(ev.Relations, func(a, b RelationChange) int { return rank(a.Kind) - rank(b.Kind) })
	for _, rc := range ev.Relations {
		if !slices.Contains(ev.Kinds, rc.Kind) {
			ev.Kinds = append(ev.Kinds, rc.Kind)
		}
	}
	s.f.Events = append(s.f.Events, ev)
}

// merged is what a committing transaction did, its subtransactions'
// included; nil when it wrote no record this scan follows.
func (s *scan) merged(end pgwal.XactEnd) *xact {
	ids := append([]uint32{end.XID}, end.Subxacts...)
	for _, sub := range s.subs[end.XID] {
		if !slices.Contains(ids, sub) {
			ids = append(ids, sub)
		}
	}
	var parts []*xact
	for _, id := range ids {
		if part, ok := s.xacts[id]; ok {
			parts = append(parts, part)
		}
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return parts[0]
	}
	x := newXact()
	for _, part := range parts {
		for f, c := range part.rows {
			t := s.count(x, f)
			t.deleted, t.updated, t.inserted = t.deleted+c.deleted, t.updated+c.updated, t.inserted+c.inserted
		}
		x.created = append(x.created, part.created...)
		for f, n := range part.filled {
			x.filled[f] += n
		}
		for f, n := range part.opaque {
			x.opaque[f] += n
		}
		x.catalog = x.catalog || part.catalog
	}
	return x
}

// rank orders kinds, the most destructive first.
func rank(k EventKind) int {
	return slices.Index([]EventKind{Drop, Truncate, Delete, Update, Rewrite, DDL}, k)
}

// unlinked reports the tables whose heap files the commit unlinked:
// dropped when the transaction made no file (a DROP makes none),
// truncated when the table's new file stayed empty, rewritten when it
// was filled. An index's file alone is no loss (DROP INDEX, REINDEX).
func (s *scan) unlinked(ev *Event, x *xact, end pgwal.XactEnd) {
	seen := map[string]bool{}
	for _, f := range end.Dropped {
		if !s.inDB(f) || slices.Contains(x.created, f.Rel) {
			continue // a file the transaction made itself (a rewrite's transient table)
		}
		rc := RelationChange{Name: fmt.Sprintf("file %d/%d", f.DB, f.Rel)}
		entry, i, known := s.maps.File(f.Rel, ev.Commit)
		if known {
			if entry.Kind == "t" { // a TOAST table goes with its table
				entry = s.maps.Owner(entry, i)
			}
			if entry.Catalog() || (entry.Kind != "r" && entry.Kind != "m") {
				continue // an index, a sequence, a catalog's rewrite
			}
			rc.Name, rc.Known, rc.Rows = entry.Name, true, entry.Rows
		}
		if seen[rc.Name] {
			continue
		}
		seen[rc.Name] = true
		rc.Kind = s.unlinkKind(x, entry, known, ev.Commit)
		if !known {
			s.unknown++
		}
		ev.Relations = append(ev.Relations, rc)
	}
}

// unlinkKind tells a DROP from a TRUNCATE from a rewrite.
func (s *scan) unlinkKind(x *xact, e pgwal.RelEntry, known bool, at pgwal.LSN) EventKind {
	if len(x.created) == 0 {
		return Drop
	}
	if known {
		// The first map after the commit names the table's new file when
		// the table lived on: empty, a TRUNCATE; filled, a rewrite.
		if file, exists, _ := s.maps.Later(e.OID, at); exists && slices.Contains(x.created, file) {
			if x.filled[file] > 0 {
				return Rewrite
			}
			return Truncate
		}
	}
	// No map tells which new file is the table's: a heap page or row in
	// any of them is a rewrite; many compressed images may be one.
	for _, f := range x.created {
		if x.filled[f] > 0 || x.opaque[f] > 3 {
			return Rewrite
		}
	}
	return Truncate
}

// rowEvents reports the relations of which the transaction deleted or
// updated many rows, or a large share.
func (s *scan) rowEvents(ev *Event, x *xact, at pgwal.LSN) {
	for file, c := range x.rows {
		if c.deleted == 0 && c.updated == 0 {
			continue
		}
		rc := RelationChange{Name: fmt.Sprintf("file %d/%d", s.maps.DB(), file), Deleted: c.deleted, Updated: c.updated, Inserted: c.inserted}
		if e, _, ok := s.maps.File(file, at); ok {
			if e.Kind == "t" || e.Catalog() {
				continue // TOAST rows go with their table's; catalogs are DDL
			}
			rc.Name, rc.Known, rc.Rows = e.Name, true, e.Rows
		}
		big := func(n int64) bool {
			return n >= s.o.MinRows || (rc.Rows > 0 && n >= minShareRows && float64(n) >= s.o.MinShare*float64(rc.Rows))
		}
		switch {
		case big(c.deleted):
			rc.Kind = Delete
		case big(c.updated):
			rc.Kind = Update
		default:
			continue
		}
		if !rc.Known {
			s.unknown++
		}
		ev.Relations = append(ev.Relations, rc)
	}
}

// ddl reports the tables whose definition the transaction changed:
// catalog rows written and the table's cached definition invalidated.
func (s *scan) ddl(ev *Event, x *xact, end pgwal.XactEnd, at pgwal.LSN) {
	if !x.catalog {
		return
	}
	seen := map[string]bool{}
	for _, rc := range ev.Relations {
		seen[rc.Name] = true
	}
	for _, m := range end.Invals {
		if !m.Relcache() || m.RelID == 0 || (s.maps.DB() != 0 && m.DB != s.maps.DB()) {
			continue
		}
		e, ok := s.maps.OID(m.RelID)
		if !ok {
			continue // a relation no map knows: made after the last one, or temporary
		}
		if e.Owner != 0 {
			if o, ok := s.maps.OID(e.Owner); ok {
				e = o
			}
		}
		if e.Catalog() || seen[e.Name] || (e.Kind != "r" && e.Kind != "m" && e.Kind != "p") {
			continue
		}
		seen[e.Name] = true
		ev.Relations = append(ev.Relations, RelationChange{Name: e.Name, Known: true, Kind: DDL, Rows: e.Rows})
	}
}
