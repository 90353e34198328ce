package pgwal

import (
	"fmt"
	"strconv"
)

// Sizes the server may use. The segment size is read from the server
// (wal_segment_size, or a segment's long page header), never assumed.
const (
	MinSegmentSize = 1 << 20
	MaxSegmentSize = 1 << 30
	// PageSize is XLOG_BLCKSZ, fixed at 8 KiB in every build opsdeck
	// supports (a long page header says otherwise and is refused).
	PageSize = 8192
)

// ValidSegmentSize reports whether size is a power of two between 1 MiB
// and 1 GiB, as initdb --wal-segsize allows.
func ValidSegmentSize(size uint64) bool {
	return size >= MinSegmentSize && size <= MaxSegmentSize && size&(size-1) == 0
}

// Segment is one WAL segment file of a timeline.
type Segment struct {
	Timeline uint32
	No       uint64 // the segment number: LSN / segment size
}

// SegmentOf returns the segment holding lsn.
func SegmentOf(tli uint32, lsn LSN, size uint64) Segment {
	return Segment{Timeline: tli, No: uint64(lsn) / size}
}

// Start is the segment's first LSN.
func (s Segment) Start(size uint64) LSN { return LSN(s.No * size) }

// End is the LSN just past the segment.
func (s Segment) End(size uint64) LSN { return LSN((s.No + 1) * size) }

// Name is the segment's file name, as the server names it in pg_wal:
// timeline, then the segment number in two halves of 8 hex digits.
func (s Segment) Name(size uint64) string {
	per := uint64(0x100000000) / size
	return fmt.Sprintf("%08X%08X%08X", s.Timeline, uint32(s.No/per), uint32(s.No%per))
}

// ParseSegmentName reads a 24-hex-digit segment file name.
func ParseSegmentName(name string, size uint64) (Segment, error) {
	if len(name) != 24 || !ValidSegmentSize(size) {
		return Segment{}, fmt.Errorf("bad WAL segment name %q", name)
	}
	tli, err1 := strconv.ParseUint(name[0:8], 16, 32)
	hi, err2 := strconv.ParseUint(name[8:16], 16, 32)
	lo, err3 := strconv.ParseUint(name[16:24], 16, 32)
	per := uint64(0x100000000) / size
	if err1 != nil || err2 != nil || err3 != nil || tli == 0 || lo >= per {
		return Segment{}, fmt.Errorf("bad WAL segment name %q", name)
	}
	return Segment{Timeline: uint32(tli), No: hi*per + lo}, nil
}

// IsSegmentName reports whether name looks like a segment file name
// (24 upper-case hex digits), without knowing the segment size.
func IsSegmentName(name string) bool {
	if len(name) != 24 {
		return false
	}
	for _, r := range name {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

// HistoryName is the file name of timeline tli's history: "00000002.history".
func HistoryName(tli uint32) string { return fmt.Sprintf("%08X.history", tli) }

// ParseHistoryName reads "00000002.history".
func ParseHistoryName(name string) (uint32, bool) {
	if len(name) != len("00000002.history") || name[8:] != ".history" {
		return 0, false
	}
	v, err := strconv.ParseUint(name[:8], 16, 32)
	return uint32(v), err == nil && v > 0
}
