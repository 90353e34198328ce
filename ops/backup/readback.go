package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// readBack re-reads a local file while it is written: through a
// descriptor of its own (opened by path, as a later reader would), behind
// the writer, only bytes whose write has returned. When the writer has
// synced and closed the file it reads the rest, checks that nothing lies
// past the end, and records the SHA-256 and size of what it read with the
// file's identity (device, inode, size, modification and change times).
// LocalStore.Proved compares these with the manifest and the committed
// file: the same check as re-reading the committed file, made while the
// dump was still running instead of after it.
type readBack struct {
	r     *os.File
	mark  atomic.Int64 // bytes written so far: safe to read
	final atomic.Bool  // the writer synced and closed: mark is the size
	wake  chan struct{}
	stop  chan struct{}
	done  chan localProof
	poked int64 // the writer's: mark when it last woke the reader
}

// localProof is what a read-back saw.
type localProof struct {
	size   int64
	sha256 string
	id     fileIdentity
	err    error
}

func startReadBack(path string) *readBack {
	r, err := os.Open(path)
	if err != nil {
		return nil
	}
	rb := &readBack{r: r, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan localProof, 1)}
	go func() { rb.done <- rb.run() }()
	return rb
}

// readBackStep is how far the writer gets ahead before it wakes the reader.
const readBackStep = 4 << 20

// wrote tells the reader that the file holds n bytes now.
func (rb *readBack) wrote(n int64) {
	rb.mark.Store(n)
	if n-rb.poked >= readBackStep {
		rb.poked = n
		rb.poke()
	}
}

func (rb *readBack) poke() {
	select {
	case rb.wake <- struct{}{}:
	default:
	}
}

// finish tells the reader that the file is complete, synced and closed at
// n bytes, and waits for what it saw.
func (rb *readBack) finish(n int64) localProof {
	rb.mark.Store(n)
	rb.final.Store(true)
	rb.poke()
	return <-rb.done
}

// abort stops the reader.
func (rb *readBack) abort() {
	close(rb.stop)
	<-rb.done
}

func (rb *readBack) run() localProof {
	defer rb.r.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var off int64
	for {
		final := rb.final.Load() // before mark: the last mark is then seen
		mark := rb.mark.Load()
		for off < mark {
			n, err := rb.r.ReadAt(buf[:min(int64(len(buf)), mark-off)], off)
			h.Write(buf[:n])
			off += int64(n)
			if err != nil {
				return localProof{err: fmt.Errorf("read back at %d: %w", off, err)}
			}
		}
		if final {
			if n, err := rb.r.ReadAt(buf[:1], off); n != 0 || !errors.Is(err, io.EOF) {
				return localProof{err: fmt.Errorf("read back: the file goes on past the %d bytes written", off)}
			}
			fi, err := rb.r.Stat()
			if err != nil {
				return localProof{err: err}
			}
			id, ok := identityOf(fi)
			if !ok || fi.Size() != off {
				return localProof{err: errors.New("read back: no file identity")}
			}
			return localProof{size: off, sha256: hex.EncodeToString(h.Sum(nil)), id: id}
		}
		select {
		case <-rb.wake:
		case <-rb.stop:
			return localProof{err: errors.New("aborted")}
		}
	}
}
