package wal

import (
	"context"
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// The chunks of the open segment are written by a flusher goroutine, in
// order, while the stream goes on being read: compressing and fsyncing a
// chunk never holds up the receiving, so the bytes that arrive meanwhile
// go out with the next chunk. The stream learns of each chunk made
// durable (done) and only then tells the server.

// flushJob is bytes [from, to) of a segment to make durable; final marks
// the segment's last job, after which it goes to the whole-segment writer.
type flushJob struct {
	o        *openSegment
	seg      pgwal.Segment
	from, to int
	// data is o.data[from:to], taken by the stream: the flusher never
	// reads o, whose slice the stream goes on appending to (into capacity
	// made once, so these bytes never move).
	data  []byte
	final bool
}

// flushDone is a job's end: the chunk's key, or why it failed.
type flushDone struct {
	job flushJob
	key string
	// frame is the chunk compressed (PutPartial's), kept for the whole
	// segment.
	frame []byte
	err   error
}

// flushQueue is how many jobs may be in flight; the stream waits beyond.
const flushQueue = 4

type flusher struct {
	jobs     chan flushJob
	done     chan flushDone
	inflight int
}

func startFlusher(arch *backup.WALArchive, size uint64, timeout time.Duration) *flusher {
	f := &flusher{jobs: make(chan flushJob, flushQueue), done: make(chan flushDone, flushQueue)}
	go func() {
		defer close(f.done)
		failed := false
		for j := range f.jobs {
			d := flushDone{job: j}
			if failed {
				d.err = fmt.Errorf("an earlier chunk failed")
			} else if j.to > j.from {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				d.key, d.frame, d.err = arch.PutPartial(ctx, j.seg, size, uint32(j.from), j.data)
				cancel()
				if d.err != nil {
					d.err = fmt.Errorf("store the open segment %s: %w", j.seg.Name(size), d.err)
					failed = true
				}
			}
			f.done <- d
		}
	}()
	return f
}

// dispatch queues o's bytes not yet queued (and, when final, the
// segment's end); it first takes in finished jobs when the queue is full.
func (st *stream) dispatch(o *openSegment, final bool) error {
	if o == nil || (len(o.data) == o.queued && !final) {
		return nil
	}
	for st.flush.inflight >= flushQueue {
		if err := st.complete(<-st.flush.done); err != nil {
			return err
		}
	}
	j := flushJob{o: o, seg: o.seg, from: o.queued, to: len(o.data), data: o.data[o.queued:len(o.data)], final: final}
	o.queued = len(o.data)
	st.flush.inflight++
	st.flush.jobs <- j
	return nil
}

// complete takes in a finished job: the chunk joins the segment's, the
// durable position moves and the server is told; a final job hands the
// segment to the whole-segment writer.
func (st *stream) complete(d flushDone) error {
	st.flush.inflight--
	if d.err != nil {
		return d.err
	}
	o := d.job.o
	if d.key != "" {
		o.chunks = append(o.chunks, d.key)
		o.addFrame(d.job.from, d.job.to, d.frame)
	}
	o.durable = d.job.to
	st.madeDurable(o.durableEnd())
	if err := st.status(false); err != nil {
		return err
	}
	if d.job.final {
		return st.wholes.add(context.Background(), o)
	}
	return nil
}

// collect takes in the jobs finished so far, without waiting.
func (st *stream) collect() error {
	for st.flush.inflight > 0 {
		select {
		case d := <-st.flush.done:
			if err := st.complete(d); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// drain waits for every job in flight.
func (st *stream) drain() error {
	var first error
	for st.flush.inflight > 0 {
		if err := st.complete(<-st.flush.done); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// flushNow makes everything received durable before it returns (a stop,
// the end of a timeline).
func (st *stream) flushNow() error {
	if err := st.dispatch(st.rx.cur, false); err != nil {
		return err
	}
	return st.drain()
}

// stopFlusher ends the flusher after what is in flight.
func (st *stream) stopFlusher() error {
	err := st.drain()
	close(st.flush.jobs)
	for range st.flush.done {
	}
	return err
}
