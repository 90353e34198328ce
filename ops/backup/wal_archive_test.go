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

// Only a base component that succeeded and carries its facts is a start
// for the WAL; the list is oldest first.
func TestWALStarts(t *testing.T) {
	base := func(id string, status string, facts *BaseFacts) Set {
		return Set{ID: id, Manifest: &Manifest{ID: id, Components: []Component{{Name: Base, Status: status, Base: facts}}}}
	}
	facts := &BaseFacts{SystemID: 7, Timeline: 2, StartLSN: 0x3000028, StopLSN: 0x3000100}
	sets := []Set{ // newest first, as List returns them
		base("20261203_020000", StatusOK, facts),
		base("20261202_020000", "failed", facts),
		base("20261201_020000", StatusOK, nil),
		{ID: "20261130_020000", Manifest: &Manifest{ID: "20261130_020000", Components: []Component{{Name: Database, Status: StatusOK}}}},
		{ID: "broken"},
		base("20261129_020000", StatusOK, facts),
	}
	got := WALStarts(sets)
	if len(got) != 2 || got[0].ID != "20261129_020000" || got[1].ID != "20261203_020000" || got[1].Start != 0x3000028 || got[1].Timeline != 2 {
		t.Fatalf("%+v", got)
	}
}
