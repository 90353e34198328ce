package pgwal

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Operations of the transaction manager's records (access/xact.h).
const (
	XactCommit         = 0x00
	XactPrepare        = 0x10
	XactAbort          = 0x20
	XactCommitPrepared = 0x30
	XactAbortPrepared  = 0x40
	XactAssignment     = 0x50
	xactOpMask         = 0x70
	xactHasInfo        = 0x80
)

// xinfo bits of a commit or abort record (XACT_XINFO_*).
const (
	xinfoDBInfo       = 1 << 0
	xinfoSubxacts     = 1 << 1
	xinfoRelFileNodes = 1 << 2
	xinfoInvals       = 1 << 3
	xinfoTwoPhase     = 1 << 4
	xinfoOrigin       = 1 << 5
	xinfoHasGID       = 1 << 7
	xinfoDroppedStats = 1 << 8 // 15 and later
)

// Heap operations (access/heapam_xlog.h).
const (
	HeapInsert     = 0x00
	HeapDelete     = 0x10
	HeapUpdate     = 0x20
	HeapTruncate   = 0x30
	HeapHotUpdate  = 0x40
	HeapInplace    = 0x70
	heapOpMask     = 0x70
	Heap2MultiIns  = 0x50
	SmgrCreate     = 0x10
	SmgrTruncate   = 0x20
	XLOGSwitch     = 0x40
	pgEpochSeconds = 946684800 // 2000-01-01 00:00:00 UTC in Unix seconds
)

// XactOp is a transaction record's operation (commit, abort, ...).
func (r *Record) XactOp() uint8 { return r.Info & xactOpMask }

// HeapOp is a heap record's operation (insert, delete, update, ...).
func (r *Record) HeapOp() uint8 { return r.Info & heapOpMask }

// Inval is one invalidation message a commit carries: for a relation's
// cached definition (Relcache, RelID set), or a catalog cache's entry
// (CatCache, the cache's number in ID).
type Inval struct {
	ID    int8
	DB    uint32
	RelID uint32
}

// Relcache reports whether the message invalidates a relation's
// definition (a relation's own, RelID, or all of a database's when 0).
func (m Inval) Relcache() bool { return m.ID == -2 }

// XactEnd is a decoded commit or abort record.
type XactEnd struct {
	Commit bool
	// XID is the transaction: the record's, or a prepared one's.
	XID  uint32
	Time time.Time
	DB   uint32
	// Subxacts are the subtransactions ending with it.
	Subxacts []uint32
	// Dropped are the relation files the commit unlinks.
	Dropped []RelFileNode
	Invals  []Inval
}

// ParseXactEnd decodes a commit, abort, commit-prepared or
// abort-prepared record (xactdesc.c's ParseCommitRecord).
func ParseXactEnd(r *Record, version int) (XactEnd, error) {
	op := r.XactOp()
	e := XactEnd{Commit: op == XactCommit || op == XactCommitPrepared, XID: r.XID}
	b := r.MainData
	le := binary.LittleEndian
	bad := func(what string) (XactEnd, error) {
		return e, fmt.Errorf("transaction end at %s: %s cut short: %w", r.LSN, what, ErrDamaged)
	}
	if len(b) < 8 {
		return bad("its time")
	}
	e.Time = pgTime(int64(le.Uint64(b)))
	b = b[8:]
	var xinfo uint32
	if r.Info&xactHasInfo != 0 {
		if len(b) < 4 {
			return bad("its xinfo")
		}
		xinfo = le.Uint32(b)
		b = b[4:]
	}
	if xinfo&xinfoDBInfo != 0 {
		if len(b) < 8 {
			return bad("its database")
		}
		e.DB = le.Uint32(b)
		b = b[8:]
	}
	count := func(size int, what string) (int, bool) {
		if len(b) < 4 {
			return 0, false
		}
		n := int(int32(le.Uint32(b)))
		if n < 0 || len(b)-4 < n*size {
			return 0, false
		}
		b = b[4:]
		return n, true
	}
	if xinfo&xinfoSubxacts != 0 {
		n, ok := count(4, "subtransactions")
		if !ok {
			return bad("its subtransactions")
		}
		for i := range n {
			e.Subxacts = append(e.Subxacts, le.Uint32(b[4*i:]))
		}
		b = b[4*n:]
	}
	if xinfo&xinfoRelFileNodes != 0 {
		n, ok := count(12, "relation files")
		if !ok {
			return bad("its relation files")
		}
		for i := range n {
			q := b[12*i:]
			e.Dropped = append(e.Dropped, RelFileNode{Spc: le.Uint32(q), DB: le.Uint32(q[4:]), Rel: le.Uint32(q[8:])})
		}
		b = b[12*n:]
	}
	if xinfo&xinfoDroppedStats != 0 && version >= 15 {
		size := 12 // xl_xact_stats_item: kind, database, object (15 to 17)
		if version >= 18 {
			size = 16 // the object's id became 64 bits
		}
		n, ok := count(size, "dropped statistics")
		if !ok {
			return bad("its dropped statistics")
		}
		b = b[size*n:]
	}
	if xinfo&xinfoInvals != 0 {
		n, ok := count(16, "invalidations")
		if !ok {
			return bad("its invalidations")
		}
		for i := range n {
			q := b[16*i:]
			e.Invals = append(e.Invals, Inval{ID: int8(q[0]), DB: le.Uint32(q[4:]), RelID: le.Uint32(q[8:])})
		}
		b = b[16*n:]
	}
	if xinfo&xinfoTwoPhase != 0 {
		if len(b) < 4 {
			return bad("its prepared transaction")
		}
		e.XID = le.Uint32(b)
	}
	return e, nil
}

// pgTime converts a TimestampTz (microseconds since 2000-01-01 UTC).
func pgTime(us int64) time.Time {
	return time.Unix(pgEpochSeconds, 0).Add(time.Duration(us) * time.Microsecond).UTC()
}

// ParseAssignment decodes an XLOG_XACT_ASSIGNMENT record: a top-level
// transaction and subtransactions of it.
func ParseAssignment(r *Record) (top uint32, subs []uint32, err error) {
	b := r.MainData
	le := binary.LittleEndian
	if len(b) < 8 {
		return 0, nil, fmt.Errorf("assignment at %s cut short: %w", r.LSN, ErrDamaged)
	}
	top = le.Uint32(b)
	n := int(int32(le.Uint32(b[4:])))
	if n < 0 || len(b)-8 < 4*n {
		return 0, nil, fmt.Errorf("assignment at %s cut short: %w", r.LSN, ErrDamaged)
	}
	for i := range n {
		subs = append(subs, le.Uint32(b[8+4*i:]))
	}
	return top, subs, nil
}

// MultiInsertTuples is the number of rows an XLOG_HEAP2_MULTI_INSERT
// record inserts (xl_heap_multi_insert: uint8 flags, uint16 ntuples).
func MultiInsertTuples(r *Record) int {
	if len(r.MainData) < 4 {
		return 0
	}
	return int(binary.LittleEndian.Uint16(r.MainData[2:]))
}

// SmgrCreated is the file an XLOG_SMGR_CREATE record makes and its fork
// (xl_smgr_create: RelFileNode, ForkNumber).
func SmgrCreated(r *Record) (RelFileNode, uint32, bool) {
	b := r.MainData
	if len(b) < 16 {
		return RelFileNode{}, 0, false
	}
	le := binary.LittleEndian
	return RelFileNode{Spc: le.Uint32(b), DB: le.Uint32(b[4:]), Rel: le.Uint32(b[8:])}, le.Uint32(b[12:]), true
}

// xl_heap_delete's flags (heapam_xlog.h) that mark a delete which loses
// no row: a speculative insertion taken back, a row moved to another
// partition by an UPDATE.
const (
	heapDeleteIsSuper         = 1 << 3
	heapDeleteIsPartitionMove = 1 << 4
)

// HeapDeleteKeepsRow reports whether a heap delete record takes no row
// away (xl_heap_delete: xmax uint32, offnum uint16, infobits uint8,
// flags uint8).
func HeapDeleteKeepsRow(r *Record) bool {
	if len(r.MainData) < 8 {
		return false
	}
	return r.MainData[7]&(heapDeleteIsSuper|heapDeleteIsPartitionMove) != 0
}
