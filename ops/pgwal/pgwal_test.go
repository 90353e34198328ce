package pgwal

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestLSN(t *testing.T) {
	l, err := ParseLSN("16/B374D848")
	if err != nil || uint64(l) != 0x16B374D848 || l.String() != "16/B374D848" {
		t.Fatalf("%v %v", l, err)
	}
	for _, bad := range []string{"", "16", "x/1", "1/100000000"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestSegmentNames(t *testing.T) {
	const mib16 = 16 << 20
	s := SegmentOf(1, 0x16B374D848, mib16)
	if got := s.Name(mib16); got != "0000000100000016000000B3" {
		t.Fatalf("name %s", got)
	}
	back, err := ParseSegmentName("0000000100000016000000B3", mib16)
	if err != nil || back != s {
		t.Fatalf("%+v %v", back, err)
	}
	// 1 MiB segments: 4096 per "xlogid".
	s = SegmentOf(2, 0x1_00500000, 1<<20)
	if got := s.Name(1 << 20); got != "000000020000000100000005" {
		t.Fatalf("1 MiB name %s", got)
	}
	if _, err := ParseSegmentName("000000010000000000000100", mib16); err == nil {
		t.Error("segment number past the xlogid accepted")
	}
	if tli, ok := ParseHistoryName(HistoryName(10)); !ok || tli != 10 || HistoryName(10) != "0000000A.history" {
		t.Errorf("history %d %v", tli, ok)
	}
}

// page builds a WAL page header.
func page(magic, info uint16, tli uint32, addr LSN, long bool, sysid uint64, segSize uint32) []byte {
	p := make([]byte, PageSize)
	le := binary.LittleEndian
	le.PutUint16(p[0:], magic)
	if long {
		info |= infoLongHeader
	}
	le.PutUint16(p[2:], info)
	le.PutUint32(p[4:], tli)
	le.PutUint64(p[8:], uint64(addr))
	if long {
		le.PutUint64(p[24:], sysid)
		le.PutUint32(p[32:], segSize)
		le.PutUint32(p[36:], PageSize)
	}
	p[100] = 1 // some record bytes
	return p
}

func TestCheckSegment(t *testing.T) {
	const size = 1 << 20
	seg := Segment{Timeline: 2, No: 5}
	build := func(pages int) []byte {
		data := make([]byte, 0, size)
		for i := 0; i < size/PageSize; i++ {
			if i >= pages {
				data = append(data, make([]byte, PageSize)...)
				continue
			}
			data = append(data, page(0xD110, 0, 2, seg.Start(size)+LSN(i*PageSize), i == 0, 42, size)...)
		}
		return data
	}
	f, err := CheckSegment(build(128), seg, size, 42)
	if err != nil || f.Pages != 128 || f.Zeroed != 0 || f.SystemID != 42 {
		t.Fatalf("%+v %v", f, err)
	}
	if f, err := CheckSegment(build(3), seg, size, 0); err != nil || f.Pages != 3 {
		t.Fatalf("partly filled: %+v %v", f, err)
	}
	for name, tc := range map[string]struct {
		mutate func([]byte)
		want   string
	}{
		"other system":   {func(b []byte) {}, "system identifier"},
		"moved page":     {func(b []byte) { binary.LittleEndian.PutUint64(b[PageSize*7+8:], 0) }, "says it is at"},
		"flipped magic":  {func(b []byte) { b[PageSize*9] ^= 0xff }, "magic"},
		"later timeline": {func(b []byte) { binary.LittleEndian.PutUint32(b[PageSize*2+4:], 3) }, "timeline 3"},
		"hole":           {func(b []byte) { clear(b[PageSize*4 : PageSize*5]) }, "follows a zeroed page"},
	} {
		b := build(128)
		tc.mutate(b)
		sys := uint64(42)
		if name == "other system" {
			sys = 43
		}
		if _, err := CheckSegment(b, seg, size, sys); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := CheckSegment(build(128)[:size-1], seg, size, 0); err == nil {
		t.Error("short segment accepted")
	}
}
