package pgwal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A WAL record (XLogRecord, access/xlogrecord.h) starts on an 8-byte
// boundary with a 24-byte header:
//
//	uint32 xl_tot_len  uint32 xl_xid  uint64 xl_prev
//	uint8 xl_info  uint8 xl_rmid  (2 bytes padding)  uint32 xl_crc
//
// then the headers of the blocks it references, the main data's length,
// the blocks' images and data, and the main data. A record may run on
// over any number of pages (each continuation page says how much of it
// remains) and into the next segment.
const (
	recordHeaderSize = 24
	recordAlign      = 8

	pageFirstIsContRecord   = 0x0001 // XLP_FIRST_IS_CONTRECORD
	pageOverwriteContRecord = 0x0008 // XLP_FIRST_IS_OVERWRITE_CONTRECORD

	blockIDDataShort   = 255 // XLR_BLOCK_ID_DATA_SHORT
	blockIDDataLong    = 254 // XLR_BLOCK_ID_DATA_LONG
	blockIDOrigin      = 253 // XLR_BLOCK_ID_ORIGIN
	blockIDTopLevelXID = 252 // XLR_BLOCK_ID_TOPLEVEL_XID (14 and later)
	maxBlockID         = 32  // XLR_MAX_BLOCK_ID

	blockForkMask  = 0x0F // BKPBLOCK_FORK_MASK
	blockHasImage  = 0x10 // BKPBLOCK_HAS_IMAGE
	blockHasData   = 0x20 // BKPBLOCK_HAS_DATA
	blockWillInit  = 0x40 // BKPBLOCK_WILL_INIT
	blockSameRel   = 0x80 // BKPBLOCK_SAME_REL
	imageHasHole   = 0x01 // BKPIMAGE_HAS_HOLE
	imageCompress  = 0x02 // BKPIMAGE_IS_COMPRESSED, 14 and before
	imageCompress5 = 0x1C // BKPIMAGE_COMPRESS_PGLZ | _LZ4 | _ZSTD, 15 and later

	// maxRecordSize bounds a record's length (XLogRecordMaxSize is 1020
	// MiB): a longer one is damage, not a record to assemble.
	maxRecordSize = 1020 << 20
)

// Resource managers (access/rmgrlist.h) whose records wal find reads.
const (
	RmgrXLOG  = 0
	RmgrXact  = 1
	RmgrSmgr  = 2
	RmgrHeap2 = 9
	RmgrHeap  = 10
)

// RelFileNode names a relation's file: tablespace, database and file
// number (RelFileNode; RelFileLocator from 16, the same bytes).
type RelFileNode struct {
	Spc, DB, Rel uint32
}

// String is "1663/5/16384", as pg_waldump writes it.
func (r RelFileNode) String() string { return fmt.Sprintf("%d/%d/%d", r.Spc, r.DB, r.Rel) }

// BlockRef is a block a record touches.
type BlockRef struct {
	ID       uint8
	Fork     uint8
	Rel      RelFileNode
	Block    uint32
	HasImage bool
	HasData  bool
	WillInit bool
	// Image is the full-page image's bytes (the page less its hole);
	// Compressed says they are compressed (wal_compression).
	Image      []byte
	Compressed bool
	imageLen   int
	dataLen    int
}

// PageSpecial is pd_special of an uncompressed full-page image: where
// the page's special space begins, PageSize for a heap page, less for an
// index's. ok is false without an uncompressed image.
func (b BlockRef) PageSpecial() (uint16, bool) {
	if len(b.Image) < 24 || b.Compressed {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b.Image[16:]), true
}

// Record is a decoded record. Its slices point into the decoder's
// buffers: they hold until the next record.
type Record struct {
	LSN  LSN
	Len  uint32
	XID  uint32
	Prev LSN
	Info uint8
	Rmgr uint8
	// TopXID is the top-level transaction when the record names it
	// (14 and later, wal_level=logical); else 0.
	TopXID   uint32
	Blocks   []BlockRef
	MainData []byte
}

// Op is the record's operation: its info bits less the four that belong
// to the record layer (XLR_INFO_MASK).
func (r *Record) Op() uint8 { return r.Info &^ 0x0F }

// ErrDamaged marks a record whose bytes are not what the server wrote:
// a CRC that does not match, a length or a back-link that cannot be.
var ErrDamaged = errors.New("damaged WAL")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Decoder reads the records of consecutive segments of one timeline, fed
// in order with Feed. A record that runs on into the next segment is
// completed when that segment is fed; a gap between segments drops it.
type Decoder struct {
	segSize uint64
	version int // the major version, from the first page's magic

	asm     []byte // the record being assembled across pages
	asmLSN  LSN
	asmNeed uint32 // its total length (0: no record under way)
	next    Segment
	fed     bool
	prevLSN LSN // the last record's LSN, for xl_prev
	rec     Record
}

// NewDecoder reads segments of segSize bytes.
func NewDecoder(segSize uint64) *Decoder {
	return &Decoder{segSize: segSize}
}

// Version is the major version the pages name, once a page was read.
func (d *Decoder) Version() int { return d.version }

// Feed decodes the records that end in data, the bytes of seg from its
// start (a whole segment, or a prefix of one still being written), and
// calls fn with each in order. A record cut off at the end of a prefix
// is not passed; a zeroed page or a zero length (the end of the WAL, or
// the rest of a segment after a switch) ends the segment. An error from
// fn stops Feed and is returned.
func (d *Decoder) Feed(seg Segment, data []byte, fn func(*Record) error) error {
	if d.fed && seg.No != d.next.No { // a timeline switch continues its parent's segment
		d.asmNeed, d.asm, d.prevLSN = 0, d.asm[:0], 0 // a gap: what was under way is lost
	}
	d.fed, d.next = true, Segment{Timeline: seg.Timeline, No: seg.No + 1}
	if uint64(len(data)) < d.segSize {
		// A prefix: what follows it is not here, so the next segment
		// fed starts after a gap.
		defer func() { d.next.No = ^uint64(0) }()
	}
	start := seg.Start(d.segSize)
	pos := 0
	for pos < len(data) {
		if pos%PageSize == 0 {
			n, cont, err := d.page(seg, data, pos)
			if err != nil || n == 0 {
				return err
			}
			pos += n
			if cont >= 0 {
				// The page begins with the rest of a record.
				take := min(int(cont), PageSize-pos%PageSize, len(data)-pos)
				if d.asmNeed > 0 {
					d.asm = append(d.asm, data[pos:pos+take]...)
					if len(d.asm) == int(d.asmNeed) {
						if err := d.emit(fn); err != nil {
							return err
						}
					}
				}
				pos += take
				if pos%PageSize != 0 {
					pos = alignUp(pos)
				}
				continue
			} else if d.asmNeed > 0 {
				return fmt.Errorf("WAL at %s: a record from %s runs on but the page does not continue it: %w", start+LSN(pos), d.asmLSN, ErrDamaged)
			}
		}
		if len(data)-pos < 4 {
			return nil // a prefix cut inside a length
		}
		total := binary.LittleEndian.Uint32(data[pos:])
		if total == 0 {
			return nil // the end of what the server wrote in this segment
		}
		if total < recordHeaderSize || total > maxRecordSize {
			return fmt.Errorf("WAL at %s: a record of %d bytes: %w", start+LSN(pos), total, ErrDamaged)
		}
		onPage := min(PageSize-pos%PageSize, len(data)-pos)
		if int(total) <= onPage {
			if err := d.decode(start+LSN(pos), data[pos:pos+int(total)], fn); err != nil {
				return err
			}
			pos = alignUp(pos + int(total))
			continue
		}
		// It runs on: assemble it from the pages after this one.
		d.asm = append(d.asm[:0], data[pos:pos+onPage]...)
		d.asmLSN, d.asmNeed = start+LSN(pos), total
		pos += onPage
	}
	return nil
}

// page reads the header of the page at pos: its size (0 when the page
// is zeroed: the end of the WAL) and, when the page begins with the rest
// of a record, how many bytes of it remain (else -1).
func (d *Decoder) page(seg Segment, data []byte, pos int) (int, int64, error) {
	if len(data)-pos < longHeaderSize && pos == 0 || len(data)-pos < shortHeaderSize {
		return 0, -1, nil
	}
	h, err := ReadPageHeader(data[pos:])
	if err != nil {
		return 0, -1, err
	}
	if h.Magic == 0 && h.PageAddr == 0 {
		return 0, -1, nil
	}
	v, ok := Magics[h.Magic]
	want := seg.Start(d.segSize) + LSN(pos)
	switch {
	case !ok:
		return 0, -1, fmt.Errorf("WAL page at %s: magic %#04x is no PostgreSQL WAL page: %w", want, h.Magic, ErrDamaged)
	case h.PageAddr != want:
		return 0, -1, fmt.Errorf("WAL page at %s says it is at %s: %w", want, h.PageAddr, ErrDamaged)
	case d.version != 0 && v != d.version:
		return 0, -1, fmt.Errorf("WAL page at %s is of PostgreSQL %d, the WAL before it of %d: %w", want, v, d.version, ErrDamaged)
	}
	d.version = v
	size := shortHeaderSize
	if h.Long {
		size = longHeaderSize
	}
	if h.Info&pageOverwriteContRecord != 0 {
		d.asmNeed = 0 // crash recovery abandoned the record under way
	}
	if h.Info&pageFirstIsContRecord == 0 {
		return size, -1, nil
	}
	if d.asmNeed > 0 && int(h.RemLen) != int(d.asmNeed)-len(d.asm) {
		return 0, -1, fmt.Errorf("WAL page at %s: %d bytes of a record remain, the record from %s needs %d: %w",
			want, h.RemLen, d.asmLSN, int(d.asmNeed)-len(d.asm), ErrDamaged)
	}
	return size, int64(h.RemLen), nil
}

// emit decodes the assembled record.
func (d *Decoder) emit(fn func(*Record) error) error {
	lsn := d.asmLSN
	d.asmNeed = 0
	return d.decode(lsn, d.asm, fn)
}

func alignUp(n int) int { return (n + recordAlign - 1) &^ (recordAlign - 1) }

// decode checks a whole record (its CRC, its back-link) and splits it
// into block references and main data.
func (d *Decoder) decode(lsn LSN, b []byte, fn func(*Record) error) error {
	le := binary.LittleEndian
	r := &d.rec
	*r = Record{LSN: lsn, Len: le.Uint32(b[0:]), XID: le.Uint32(b[4:]), Prev: LSN(le.Uint64(b[8:])),
		Info: b[16], Rmgr: b[17], Blocks: r.Blocks[:0]}
	crc := crc32.Update(0, crcTable, b[recordHeaderSize:])
	crc = crc32.Update(crc, crcTable, b[:20])
	if crc != le.Uint32(b[20:]) {
		return fmt.Errorf("WAL record at %s: CRC mismatch: %w", lsn, ErrDamaged)
	}
	if d.prevLSN != 0 && r.Prev != d.prevLSN {
		return fmt.Errorf("WAL record at %s points back to %s, the record before it is at %s: %w", lsn, r.Prev, d.prevLSN, ErrDamaged)
	}
	d.prevLSN = lsn
	if err := d.split(r, b); err != nil {
		return fmt.Errorf("WAL record at %s: %w", lsn, err)
	}
	return fn(r)
}

// split reads the block headers (xlogreader.c's DecodeXLogRecord).
func (d *Decoder) split(r *Record, b []byte) error {
	le := binary.LittleEndian
	p := recordHeaderSize
	datatotal := 0
	mainLen := 0
	var last RelFileNode
	haveRel := false
	need := func(n int) error {
		if len(b)-p < n {
			return fmt.Errorf("block headers cut short: %w", ErrDamaged)
		}
		return nil
	}
	for len(b)-p > datatotal {
		if err := need(1); err != nil {
			return err
		}
		id := b[p]
		p++
		switch {
		case id == blockIDDataShort:
			if err := need(1); err != nil {
				return err
			}
			mainLen = int(b[p])
			p++
		case id == blockIDDataLong:
			if err := need(4); err != nil {
				return err
			}
			mainLen = int(le.Uint32(b[p:]))
			p += 4
		case id == blockIDOrigin:
			p += 2
			continue
		case id == blockIDTopLevelXID:
			if err := need(4); err != nil {
				return err
			}
			r.TopXID = le.Uint32(b[p:])
			p += 4
			continue
		case id <= maxBlockID:
			if err := need(3); err != nil {
				return err
			}
			flags := b[p]
			blk := BlockRef{ID: id, Fork: flags & blockForkMask, HasImage: flags&blockHasImage != 0,
				HasData: flags&blockHasData != 0, WillInit: flags&blockWillInit != 0}
			blk.dataLen = int(le.Uint16(b[p+1:]))
			datatotal += blk.dataLen
			p += 3
			if blk.HasImage {
				if err := need(5); err != nil {
					return err
				}
				blk.imageLen = int(le.Uint16(b[p:]))
				datatotal += blk.imageLen
				info := b[p+4]
				p += 5
				blk.Compressed = info&imageCompress5 != 0
				if d.version <= 14 {
					blk.Compressed = info&imageCompress != 0
				}
				if blk.Compressed && info&imageHasHole != 0 {
					p += 2
				}
			}
			if flags&blockSameRel == 0 {
				if err := need(12); err != nil {
					return err
				}
				last = RelFileNode{Spc: le.Uint32(b[p:]), DB: le.Uint32(b[p+4:]), Rel: le.Uint32(b[p+8:])}
				haveRel = true
				p += 12
			} else if !haveRel {
				return fmt.Errorf("block %d says same relation before any: %w", id, ErrDamaged)
			}
			if err := need(4); err != nil {
				return err
			}
			blk.Rel = last
			blk.Block = le.Uint32(b[p:])
			p += 4
			r.Blocks = append(r.Blocks, blk)
			continue
		default:
			return fmt.Errorf("block id %d: %w", id, ErrDamaged)
		}
		datatotal += mainLen
		break
	}
	if p+datatotal != len(b) {
		return fmt.Errorf("headers and data make %d bytes, the record has %d: %w", p+datatotal, len(b), ErrDamaged)
	}
	// After the headers: each block's image, then its data, in order.
	for i := range r.Blocks {
		blk := &r.Blocks[i]
		if blk.HasImage {
			blk.Image = b[p : p+blk.imageLen]
		}
		p += blk.imageLen + blk.dataLen
	}
	r.MainData = b[len(b)-mainLen:]
	return nil
}
