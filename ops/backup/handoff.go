package backup

import (
	"errors"
	"io"
	"sync"
)

// handoff carries a byte stream from one goroutine to another in large
// buffers, so that the two run at the same time: the writer copies into a
// buffer and hands it over when it is full; the reader takes whole buffers
// and gives them back. At most n buffers of size bytes exist, allocated
// as they are first needed and reused, so memory is bounded and a Write
// allocates nothing once they are made. io.Pipe hands each Write over and
// waits until it is read: with pg_dump's 4 KiB writes that was a
// goroutine switch (and often a futex) per 4 KiB.
//
// One goroutine writes (Write, then CloseWrite); one reads (Next and
// Release, or Read, or WriteTo) to the end of the stream. A reader that
// cannot go on calls Fail, so that the writer's next Write returns its
// error, and still takes the rest (Discard).
type handoff struct {
	size int
	full chan []byte // written buffers, in order
	free chan []byte // buffers to reuse
	made int         // buffers allocated (writer's count)
	n    int
	cur  []byte // the writer's buffer being filled

	mu       sync.Mutex
	err      error // the reader's failure
	writeErr error // how the writer ended (nil: EOF)

	// reader side (Read)
	rbuf []byte
	roff int
}

func newHandoff(size, n int) *handoff {
	return &handoff{size: size, n: n, full: make(chan []byte, n), free: make(chan []byte, n)}
}

// failed is the reader's error, if it gave up.
func (h *handoff) failed() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// buffer returns an empty buffer: a free one, a new one while fewer than
// n exist, else the next one the reader gives back.
func (h *handoff) buffer() []byte {
	select {
	case b := <-h.free:
		return b[:0]
	default:
	}
	if h.made < h.n {
		h.made++
		return make([]byte, 0, h.size)
	}
	return (<-h.free)[:0]
}

// Write implements io.Writer.
func (h *handoff) Write(p []byte) (int, error) {
	if err := h.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		if h.cur == nil {
			h.cur = h.buffer()
		}
		c := copy(h.cur[len(h.cur):cap(h.cur)], p)
		h.cur = h.cur[:len(h.cur)+c]
		p = p[c:]
		if len(h.cur) == cap(h.cur) {
			h.full <- h.cur
			h.cur = nil
			if err := h.failed(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// CloseWrite hands over what is buffered and ends the stream: the reader
// sees err after the last buffer (io.EOF when err is nil). It returns the
// reader's error if it gave up.
func (h *handoff) CloseWrite(err error) error {
	if len(h.cur) > 0 && err == nil {
		h.full <- h.cur
	}
	h.cur = nil
	h.mu.Lock()
	h.writeErr = err
	h.mu.Unlock()
	close(h.full)
	return h.failed()
}

// Next returns the next written buffer; ok is false at the end of the
// stream, and err then says how the writer ended (nil: cleanly). The
// buffer goes back with Release.
func (h *handoff) Next() (b []byte, ok bool, err error) {
	b, ok = <-h.full
	if !ok {
		h.mu.Lock()
		err = h.writeErr
		h.mu.Unlock()
	}
	return b, ok, err
}

// Release gives a buffer from Next back to the writer.
func (h *handoff) Release(b []byte) { h.free <- b }

// Fail is the reader giving up with err: the writer's next Write or
// CloseWrite returns it. The reader still takes every buffer to the end
// of the stream (Discard), so that the writer never waits on it.
func (h *handoff) Fail(err error) {
	if err == nil {
		err = errors.New("the reader stopped")
	}
	h.mu.Lock()
	if h.err == nil {
		h.err = err
	}
	h.mu.Unlock()
}

// Discard takes and gives back every buffer up to the end of the stream.
func (h *handoff) Discard() {
	_, _ = h.WriteTo(io.Discard)
}

// WriteTo implements io.WriterTo: each buffer goes to w whole, uncopied.
func (h *handoff) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if h.rbuf != nil {
		m, err := w.Write(h.rbuf[h.roff:])
		n += int64(m)
		h.Release(h.rbuf)
		h.rbuf = nil
		if err != nil {
			return n, err
		}
	}
	for {
		b, ok, err := h.Next()
		if !ok {
			return n, err
		}
		m, werr := w.Write(b)
		n += int64(m)
		h.Release(b)
		if werr != nil {
			return n, werr
		}
	}
}

// Read implements io.Reader over the handed-over buffers.
func (h *handoff) Read(p []byte) (int, error) {
	for h.rbuf == nil || h.roff == len(h.rbuf) {
		if h.rbuf != nil {
			h.Release(h.rbuf)
			h.rbuf = nil
		}
		b, ok, err := h.Next()
		if !ok {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		h.rbuf, h.roff = b, 0
	}
	n := copy(p, h.rbuf[h.roff:])
	h.roff += n
	return n, nil
}
