package wal

import (
	"bytes"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

func TestReceiverSplitsSegments(t *testing.T) {
	const size = 1 << 20
	r := &receiver{tli: 1, size: size, next: 3 * size}
	chunk := bytes.Repeat([]byte{7}, size/2+100)
	var filled []*openSegment
	at := pgwal.LSN(3 * size)
	for i := 0; i < 4; i++ {
		f, err := r.add(at, chunk)
		if err != nil {
			t.Fatal(err)
		}
		filled = append(filled, f...)
		at += pgwal.LSN(len(chunk))
	}
	if len(filled) != 2 || filled[0].seg.No != 3 || filled[1].seg.No != 4 || len(filled[1].data) != size {
		t.Fatalf("filled %d segments", len(filled))
	}
	if r.cur == nil || r.cur.seg.No != 5 || len(r.cur.data) != 400 || r.next != at {
		t.Fatalf("open segment %+v next %s", r.cur, r.next)
	}
	if _, err := r.add(at+1, chunk); err == nil || !strings.Contains(err.Error(), "hole") {
		t.Fatalf("a hole: %v", err)
	}
	mid := &receiver{tli: 1, size: size, next: 3*size + 10}
	if _, err := mid.add(3*size+10, chunk); err == nil || !strings.Contains(err.Error(), "without its beginning") {
		t.Fatalf("mid-segment start: %v", err)
	}
}
