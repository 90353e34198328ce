package backup

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// walSegmentBytes is a segment whose every page has the header the
// server writes.
func walSegmentBytes(seg pgwal.Segment, size uint64, sysid uint64) []byte {
	data := make([]byte, size)
	le := binary.LittleEndian
	for off := uint64(0); off < size; off += pgwal.PageSize {
		p := data[off : off+pgwal.PageSize]
		le.PutUint16(p[0:], 0xD110)
		le.PutUint32(p[4:], seg.Timeline)
		le.PutUint64(p[8:], uint64(seg.Start(size))+off)
		if off == 0 {
			le.PutUint16(p[2:], 0x0002)
			le.PutUint64(p[24:], sysid)
			le.PutUint32(p[32:], uint32(size))
			le.PutUint32(p[36:], pgwal.PageSize)
		}
		p[100] = byte(off >> 13)
	}
	return data
}

func testArchive(t *testing.T) (*WALArchive, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := NewLocalStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := &WALArchive{Store: st, Codec: Codec{Level: 3}, SystemID: 42}
	if _, err := a.Init(context.Background(), ArchiveInfo{SegmentSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	return a, dir
}

// A byte flipped in a stored segment is named by verify; a missing
// segment between two is a gap that cuts off the base backup before it.
func TestWALVerifyNamesAFlippedByteAndAGap(t *testing.T) {
	ctx := context.Background()
	const size = 1 << 20
	a, dir := testArchive(t)
	var keys []string
	for no := uint64(3); no <= 7; no++ {
		seg := pgwal.Segment{Timeline: 1, No: no}
		k, err := a.PutSegment(ctx, seg, size, walSegmentBytes(seg, size, 42))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	base := WALStart{ID: "b", SystemID: 42, Timeline: 1, Start: 3<<20 + 40, Stop: 3<<20 + 4096, At: time.Now()}
	res, err := a.VerifyWAL(ctx, []WALStart{base}, true, nil)
	if err != nil || !res.OK() || len(res.Coverage) != 1 || res.Coverage[0].To != 8<<20 || len(res.Spans) != 1 {
		t.Fatalf("good archive: %v %+v", err, res)
	}

	// Flip one byte of the stored (compressed) bytes of segment 5.
	path := filepath.Join(dir, filepath.FromSlash(keys[2]))
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0x40
	os.WriteFile(path, b, 0o600)
	res, _ = a.VerifyWAL(ctx, []WALStart{base}, false, nil)
	if res.OK() || !strings.Contains(strings.Join(res.Problems, "\n"), keys[2]) {
		t.Fatalf("flipped byte: %q", res.Problems)
	}

	// A segment whose content was swapped for another valid one: the name's
	// SHA-256 no longer matches.
	seg6 := pgwal.Segment{Timeline: 1, No: 6}
	swapped, _ := a.Codec.Seal(walSegmentBytes(pgwal.Segment{Timeline: 1, No: 7}, size, 42))
	os.WriteFile(filepath.Join(dir, filepath.FromSlash(keys[3])), swapped, 0o600)
	res, _ = a.VerifyWAL(ctx, nil, false, nil)
	if !strings.Contains(strings.Join(res.Problems, "\n"), seg6.Name(size)) {
		t.Fatalf("swapped segment: %q", res.Problems)
	}

	// A missing segment: a gap, and the base backup before it is cut off.
	os.Remove(path)
	os.WriteFile(filepath.Join(dir, filepath.FromSlash(keys[3])), func() []byte {
		s, _ := a.Codec.Seal(walSegmentBytes(seg6, size, 42))
		return s
	}(), 0o600)
	res, _ = a.VerifyWAL(ctx, []WALStart{base}, true, nil)
	all := strings.Join(res.Problems, "\n")
	if len(res.Gaps) != 1 || res.Gaps[0].First != "000000010000000000000005" || !strings.Contains(all, "segment 000000010000000000000005 missing") || res.Coverage[0].To != 5<<20 {
		t.Fatalf("gap: %+v %q %+v", res.Gaps, all, res.Coverage)
	}
}

// Prune deletes the WAL before the oldest kept base backup's segment and
// the chunks of segments stored whole, nothing else; with no base kept,
// only those chunks.
func TestPlanWALPrune(t *testing.T) {
	ctx := context.Background()
	const size = 1 << 20
	a, _ := testArchive(t)
	for no := uint64(1); no <= 6; no++ {
		seg := pgwal.Segment{Timeline: 1, No: no}
		if _, err := a.PutSegment(ctx, seg, size, walSegmentBytes(seg, size, 42)); err != nil {
			t.Fatal(err)
		}
	}
	stale := pgwal.Segment{Timeline: 1, No: 6}
	if _, _, err := a.PutPartial(ctx, stale, size, 0, walSegmentBytes(stale, size, 42)[:8192]); err != nil {
		t.Fatal(err)
	}
	open := pgwal.Segment{Timeline: 1, No: 7}
	if _, _, err := a.PutPartial(ctx, open, size, 0, walSegmentBytes(open, size, 42)[:8192]); err != nil {
		t.Fatal(err)
	}
	// Relation maps at 1.5, 2.5, 4 and 5 MiB: those before the newest at
	// or before the kept start (4 MiB) go.
	for _, at := range []pgwal.LSN{3 << 19, 5 << 19, 4 << 20, 5 << 20} {
		if _, err := a.PutRelMap(ctx, &pgwal.RelMap{LSN: at, Database: "stockdb"}); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := a.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := PlanWALPrune(cat, nil); len(got) != 1 || got[0].Segment != stale {
		t.Fatalf("no base kept: %+v", got)
	}
	keep := []WALStart{{SystemID: 42, Timeline: 1, Start: 4<<20 + 100}, {SystemID: 43, Timeline: 1, Start: 0}}
	got := PlanWALPrune(cat, keep)
	var names []string
	for _, o := range got {
		names = append(names, o.Name(size))
	}
	if strings.Join(names, " ") != "000000010000000000000006 000000010000000000000001 000000010000000000000002 000000010000000000000003 "+
		"relation map at 0/180000 relation map at 0/280000" {
		t.Fatalf("pruned %v", names)
	}
	if len(cat.RelMaps) != 4 || len(cat.Stray) != 0 {
		t.Fatalf("catalog: %d maps, stray %v", len(cat.RelMaps), cat.Stray)
	}
	m, err := a.ReadRelMap(ctx, cat.RelMaps[2])
	if err != nil || m.LSN != 4<<20 || m.Database != "stockdb" {
		t.Fatalf("map %+v, %v", m, err)
	}
}

// A segment stored from its chunks' frames reads back whole and passes
// verify, sealed with age too: the frames decode one after another.
func TestWALSegmentFromChunkFrames(t *testing.T) {
	ctx := context.Background()
	const size = 1 << 20
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, encrypted := range []bool{false, true} {
		a, _ := testArchive(t)
		if encrypted {
			a.Codec.Recipients, a.IDs = []age.Recipient{id.Recipient()}, []age.Identity{id}
		}
		seg := pgwal.Segment{Timeline: 1, No: 3}
		data := walSegmentBytes(seg, size, 42)
		var frames [][]byte
		for _, cut := range [][2]int{{0, 300_000}, {300_000, 700_001}, {700_001, size}} {
			_, f, err := a.PutPartial(ctx, seg, size, uint32(cut[0]), data[cut[0]:cut[1]])
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, f)
		}
		if _, err := a.PutSegmentFrames(ctx, seg, size, data, frames); err != nil {
			t.Fatal(err)
		}
		cat, err := a.Catalog(ctx)
		if err != nil || len(cat.Segments[1]) != 1 {
			t.Fatalf("encrypted=%v: catalog %v %+v", encrypted, err, cat)
		}
		got, err := a.Read(ctx, cat.Segments[1][0])
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("encrypted=%v: read back %d bytes, %v", encrypted, len(got), err)
		}
		res, err := a.VerifyWAL(ctx, nil, true, nil)
		if err != nil || !res.OK() {
			t.Fatalf("encrypted=%v: verify %v %+v", encrypted, err, res)
		}
	}
}
