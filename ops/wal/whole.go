package wal

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/logging"
)

// wholeWriter stores full segments whole, behind the stream, and deletes
// their chunks. The bytes are durable as chunks before a segment reaches
// it, so compressing and writing 16 MB never holds up the next flush; a
// segment it could not store stays as chunks, which the next session's
// resume stores whole (repairWholes).
type wholeWriter struct {
	arch    *backup.WALArchive
	size    uint64
	timeout time.Duration
	queue   chan *openSegment
	errc    chan error
	done    chan struct{}
}

// wholeQueue is how many full segments may wait: the stream blocks
// beyond it (the server keeps the WAL meanwhile).
const wholeQueue = 2

func startWholeWriter(arch *backup.WALArchive, size uint64, timeout time.Duration) *wholeWriter {
	w := &wholeWriter{arch: arch, size: size, timeout: timeout,
		queue: make(chan *openSegment, wholeQueue), errc: make(chan error, 1), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *wholeWriter) run() {
	defer close(w.done)
	for o := range w.queue {
		if err := w.store(o); err != nil {
			w.errc <- err
			for range w.queue { // drain: the session ends; resume repairs
			}
			return
		}
	}
}

func (w *wholeWriter) store(o *openSegment) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	if _, err := w.arch.PutSegmentFrames(ctx, o.seg, w.size, o.data, o.wholeFrames()); err != nil {
		return fmt.Errorf("store segment %s whole: %w", o.seg.Name(w.size), err)
	}
	for _, k := range o.chunks {
		if err := w.arch.Store.DeleteObject(ctx, k); err != nil {
			slog.Warn("wal stream: delete a stored segment's chunk", "key", k, logging.Err(err))
		}
	}
	return nil
}

// add queues a full segment; it fails when the writer failed.
func (w *wholeWriter) add(ctx context.Context, o *openSegment) error {
	select {
	case err := <-w.errc:
		return err
	default:
	}
	select {
	case w.queue <- o:
		return nil
	case err := <-w.errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failed returns the writer's failure, nil while it works.
func (w *wholeWriter) failed() error {
	select {
	case err := <-w.errc:
		return err
	default:
		return nil
	}
}

// close waits for the queued segments to be stored.
func (w *wholeWriter) close() error {
	close(w.queue)
	<-w.done
	return w.failed()
}

// repairWholes stores whole every segment whose chunks run from its
// start to its end without a whole object: one a stopped session's
// writer never stored.
func repairWholes(ctx context.Context, arch *backup.WALArchive, cat *backup.WALCatalog) (int, error) {
	size := cat.Info.SegmentSize
	n := 0
	for _, tli := range cat.Timelines() {
		for _, seg := range cat.OpenSegments(tli) {
			data, err := arch.ReadPartial(ctx, cat, seg)
			if err != nil || uint64(len(data)) != size {
				continue
			}
			if _, err := arch.PutSegment(ctx, seg, size, data); err != nil {
				return n, err
			}
			for _, q := range cat.Partials[tli] {
				if q.Segment == seg {
					_ = arch.Store.DeleteObject(ctx, q.Key)
				}
			}
			n++
		}
	}
	return n, nil
}
