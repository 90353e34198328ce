package backup

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

func TestWALKeys(t *testing.T) {
	const size = 1 << 20
	sha := strings.Repeat("ab", 32)
	p := "wal/42/"
	for _, tc := range []struct {
		key  string
		ok   bool
		kind WALKind
	}{
		{p + "00000001/000000010000000000000003-" + sha + ".zst", true, WALSegment},
		{p + "00000001/000000010000000000000003-" + sha + ".zst.age", true, WALSegment},
		{p + "00000002/000000020000000000000004.partial-00000000-00010000-" + sha + ".zst", true, WALPartial},
		{p + "00000002.history-" + sha + ".zst", true, WALHistory},
		{p + "00000001/000000020000000000000003-" + sha + ".zst", false, 0},                           // timeline folder and name differ
		{p + "00000001/000000010000000000000003-" + sha, false, 0},                                    // no codec suffix
		{p + "00000001/000000010000000000000003.partial-00010000-00000000-" + sha + ".zst", false, 0}, // empty chunk
		{p + "00000001/000000010000000000000003-" + strings.ToUpper(sha) + ".zst", false, 0},
	} {
		w, ok := parseWALKey(Object{Key: tc.key}, p, size)
		if ok != tc.ok || (ok && w.Kind != tc.kind) {
			t.Errorf("%s: ok %v kind %v", tc.key, ok, w.Kind)
		}
	}
	seg := pgwal.Segment{Timeline: 2, No: 4}
	w, _ := parseWALKey(Object{Key: p + "00000002/000000020000000000000004.partial-00000100-00010000-" + sha + ".zst.age"}, p, size)
	if w.Segment != seg || w.From != 0x100 || w.To != 0x10000 || !w.Encrypted || w.Timeline != 2 {
		t.Errorf("partial: %+v", w)
	}
}

func TestParseHistory(t *testing.T) {
	h, err := ParseHistory([]byte("1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-12-07\n"))
	if err != nil || len(h) != 2 || h[1].Parent != 2 || h[1].Switch != 0x5000000 || h[0].Reason != "no recovery target specified" {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := ParseHistory([]byte("x\t0/1\n")); err == nil {
		t.Error("bad history parsed")
	}
}
