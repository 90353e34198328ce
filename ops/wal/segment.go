package wal

import (
	"fmt"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// openSegment is the segment being received: its bytes from the start,
// how many of them are durable in the store, and the keys of the chunks
// that made them durable (deleted once the segment is stored whole).
type openSegment struct {
	seg     pgwal.Segment
	size    uint64
	data    []byte
	durable int
	// queued counts the bytes handed to the flusher (durable or not yet).
	queued int
	chunks []string
	// frames are the compressed chunks of this session from the
	// segment's start, in order, covering framed bytes: when they cover
	// the whole segment and are few (the stream was fast), the segment is
	// stored from them without compressing it again.
	frames [][]byte
	framed int
}

// addFrame keeps a durable chunk's frame while the frames run
// unbroken from the segment's start (a resumed segment's first bytes
// came from the store: it keeps none).
func (o *openSegment) addFrame(from, to int, frame []byte) {
	if from != o.framed || frame == nil {
		return
	}
	o.frames = append(o.frames, frame)
	o.framed = to
}

// minFrameBytes is the smallest mean chunk a whole segment is stored
// from: smaller frames compress worse than the segment would, and a
// stream that slow leaves the CPU free to compress it again.
const minFrameBytes = 256 << 10

// wholeFrames returns the frames to store the full segment from, nil
// when it should be compressed again.
func (o *openSegment) wholeFrames() [][]byte {
	if uint64(o.framed) != o.size || len(o.frames) == 0 || o.size/uint64(len(o.frames)) < minFrameBytes {
		return nil
	}
	return o.frames
}

func newOpenSegment(seg pgwal.Segment, size uint64) *openSegment {
	return &openSegment{seg: seg, size: size, data: make([]byte, 0, size)}
}

// end is the LSN just past the bytes received.
func (o *openSegment) end() pgwal.LSN { return o.seg.Start(o.size) + pgwal.LSN(len(o.data)) }

// durableEnd is the LSN just past the durable bytes.
func (o *openSegment) durableEnd() pgwal.LSN { return o.seg.Start(o.size) + pgwal.LSN(o.durable) }

// full reports whether the whole segment was received.
func (o *openSegment) full() bool { return uint64(len(o.data)) == o.size }

// receiver places the stream's bytes into segments. It is pure: the
// streamer stores what it hands back.
type receiver struct {
	tli  uint32
	size uint64
	cur  *openSegment
	// next is the LSN the next bytes must start at.
	next pgwal.LSN
}

// add takes the bytes of one XLogData message starting at at, and returns
// the segments it filled (in order); r.cur holds the rest.
func (r *receiver) add(at pgwal.LSN, b []byte) ([]*openSegment, error) {
	if at != r.next {
		return nil, fmt.Errorf("the server sent WAL from %s, expected %s: a hole in the stream", at, r.next)
	}
	var full []*openSegment
	for len(b) > 0 {
		if r.cur == nil {
			seg := pgwal.SegmentOf(r.tli, at, r.size)
			if at != seg.Start(r.size) {
				return full, fmt.Errorf("the stream starts at %s, inside segment %s without its beginning", at, seg.Name(r.size))
			}
			r.cur = newOpenSegment(seg, r.size)
		}
		n := min(len(b), int(r.size)-len(r.cur.data))
		r.cur.data = append(r.cur.data, b[:n]...)
		b = b[n:]
		at += pgwal.LSN(n)
		if r.cur.full() {
			full = append(full, r.cur)
			r.cur = nil
		}
	}
	r.next = at
	return full, nil
}
