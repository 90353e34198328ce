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

// A full segment is stored from its chunks' frames only when they run
// unbroken from its start and are few; a resumed segment's, or one of
// many small chunks, is compressed again.
func TestWholeFramesOnlyWhenTheyCoverTheSegment(t *testing.T) {
	const size = 1 << 20
	frame := []byte{1}
	fast := newOpenSegment(pgwal.Segment{Timeline: 1, No: 3}, size)
	fast.addFrame(0, size/2, frame)
	fast.addFrame(size/2, size, frame)
	if got := fast.wholeFrames(); len(got) != 2 {
		t.Fatalf("two chunks from the start: %d frames", len(got))
	}
	resumed := newOpenSegment(pgwal.Segment{Timeline: 1, No: 3}, size)
	resumed.addFrame(4096, size, frame) // its first bytes came from the store
	if got := resumed.wholeFrames(); got != nil {
		t.Fatalf("resumed segment: %d frames", len(got))
	}
	slow := newOpenSegment(pgwal.Segment{Timeline: 1, No: 3}, size)
	for from := 0; from < size; from += 64 << 10 {
		slow.addFrame(from, from+64<<10, frame)
	}
	if got := slow.wholeFrames(); got != nil {
		t.Fatalf("16 chunks of 64 KiB: %d frames", len(got))
	}
	short := newOpenSegment(pgwal.Segment{Timeline: 1, No: 3}, size)
	short.addFrame(0, size/2, frame)
	if got := short.wholeFrames(); got != nil {
		t.Fatalf("half a segment: %d frames", len(got))
	}
}
