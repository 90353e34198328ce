package pgwal

import (
	"encoding/binary"
	"fmt"
)

// The page header of every WAL page (XLogPageHeaderData, access/xlog_internal.h):
//
//	uint16 xlp_magic     uint16 xlp_info    uint32 xlp_tli
//	uint64 xlp_pageaddr  uint32 xlp_rem_len (+4 bytes of padding)
//
// and on the first page of a segment the long header adds
// (XLogLongPageHeaderData):
//
//	uint64 xlp_sysid  uint32 xlp_seg_size  uint32 xlp_xlog_blcksz
const (
	shortHeaderSize = 24
	longHeaderSize  = 40

	infoLongHeader = 0x0002 // XLP_LONG_HEADER
	infoAllFlags   = 0x000F // XLP_FIRST_IS_CONTRECORD | XLP_LONG_HEADER | XLP_BKP_REMOVABLE | XLP_FIRST_IS_OVERWRITE_CONTRECORD
)

// Magics maps XLOG_PAGE_MAGIC to the major version that writes it.
var Magics = map[uint16]int{
	0xD097: 10, 0xD098: 11, 0xD101: 12, 0xD106: 13, 0xD10D: 14, 0xD110: 15, 0xD113: 16, 0xD116: 17, 0xD118: 18,
}

// PageHeader is a decoded WAL page header.
type PageHeader struct {
	Magic    uint16
	Info     uint16
	Timeline uint32
	PageAddr LSN
	RemLen   uint32
	// On a segment's first page:
	Long        bool
	SystemID    uint64
	SegmentSize uint32
	BlockSize   uint32
}

// ReadPageHeader decodes the header at the start of page (at least the
// long header's size on a segment's first page).
func ReadPageHeader(page []byte) (PageHeader, error) {
	if len(page) < shortHeaderSize {
		return PageHeader{}, fmt.Errorf("page of %d bytes: shorter than a page header", len(page))
	}
	le := binary.LittleEndian
	h := PageHeader{
		Magic:    le.Uint16(page[0:]),
		Info:     le.Uint16(page[2:]),
		Timeline: le.Uint32(page[4:]),
		PageAddr: LSN(le.Uint64(page[8:])),
		RemLen:   le.Uint32(page[16:]),
	}
	if h.Info&infoLongHeader != 0 {
		if len(page) < longHeaderSize {
			return h, fmt.Errorf("long page header cut short (%d bytes)", len(page))
		}
		h.Long = true
		h.SystemID = le.Uint64(page[24:])
		h.SegmentSize = le.Uint32(page[32:])
		h.BlockSize = le.Uint32(page[36:])
	}
	return h, nil
}

// SegmentFacts is what a segment's pages say about it.
type SegmentFacts struct {
	Magic    uint16
	SystemID uint64
	// Pages is the number of pages that carry a header; a segment the
	// server had not filled yet ends in zeroed pages, counted in Zeroed.
	Pages, Zeroed int
}

// CheckSegment decodes the header of every page of a whole segment's
// bytes and checks each against where it must be: the same magic
// throughout, the page's own address, a timeline no later than the
// segment's, the long header on the first page naming the segment size,
// the page size and (when sysid is not 0) the system. Pages after the
// first zeroed one must be zeroed too (the server pre-zeroes a segment
// and fills it in order). It does not decode records.
func CheckSegment(data []byte, seg Segment, size uint64, sysid uint64) (SegmentFacts, error) {
	var f SegmentFacts
	if uint64(len(data)) != size {
		return f, fmt.Errorf("segment %s is %d bytes, want %d", seg.Name(size), len(data), size)
	}
	start := seg.Start(size)
	for off := 0; off < len(data); off += PageSize {
		page := data[off : off+PageSize]
		if allZero(page) {
			f.Zeroed++
			continue
		}
		if f.Zeroed > 0 {
			return f, fmt.Errorf("segment %s: page at offset %d follows a zeroed page", seg.Name(size), off)
		}
		h, err := ReadPageHeader(page)
		if err != nil {
			return f, fmt.Errorf("segment %s offset %d: %w", seg.Name(size), off, err)
		}
		at := fmt.Sprintf("segment %s, page at offset %d", seg.Name(size), off)
		if _, ok := Magics[h.Magic]; !ok {
			return f, fmt.Errorf("%s: magic %#04x is no PostgreSQL WAL page", at, h.Magic)
		}
		if f.Pages == 0 {
			f.Magic = h.Magic
		} else if h.Magic != f.Magic {
			return f, fmt.Errorf("%s: magic %#04x, the segment began with %#04x", at, h.Magic, f.Magic)
		}
		if h.Info&^infoAllFlags != 0 {
			return f, fmt.Errorf("%s: unknown flags %#04x", at, h.Info)
		}
		if want := start + LSN(off); h.PageAddr != want {
			return f, fmt.Errorf("%s: the page says it is at %s, want %s", at, h.PageAddr, want)
		}
		if h.Timeline == 0 || h.Timeline > seg.Timeline {
			return f, fmt.Errorf("%s: timeline %d in a segment of timeline %d", at, h.Timeline, seg.Timeline)
		}
		if off == 0 {
			if !h.Long {
				return f, fmt.Errorf("%s: the first page has no long header", at)
			}
			if uint64(h.SegmentSize) != size || h.BlockSize != PageSize {
				return f, fmt.Errorf("%s: segment size %d and page size %d, want %d and %d", at, h.SegmentSize, h.BlockSize, size, PageSize)
			}
			if sysid != 0 && h.SystemID != sysid {
				return f, fmt.Errorf("%s: system identifier %d, the archive's is %d", at, h.SystemID, sysid)
			}
			f.SystemID = h.SystemID
		} else if h.Long {
			return f, fmt.Errorf("%s: a long header past the first page", at)
		}
		f.Pages++
	}
	if f.Pages == 0 {
		return f, fmt.Errorf("segment %s is all zeroes", seg.Name(size))
	}
	return f, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
