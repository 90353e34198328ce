//go:build linux

package runner

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The program's stdout, read by polling. pg_dump writes its archive 4 KiB
// at a time (stdio's buffer on a pipe). Read through Go's netpoller, every
// one of those writes woke the runtime: an epoll event, a goroutine
// switch, often a futex and a thread wakeup — about half a second of CPU
// for 160 MB, more than compressing it on very compressible data. Instead
// the pipe is made 1 MiB, its read end is non-blocking and kept out of the
// netpoller, and the runner reads whatever is there, then sleeps
// pollInterval when it found less than a quarter of the pipe: the writer
// fills the pipe meanwhile without waking anybody, and the reads are
// hundreds of kilobytes. A 1 MiB pipe read every millisecond carries up to
// 1 GB/s, so the program never waits on it; when the kernel refuses a
// large pipe (the user's pipe quota, fs.pipe-user-pages-soft) the runner
// falls back to the netpoller.
const (
	pipeWant     = 1 << 20
	pipeMin      = 256 << 10
	pollInterval = time.Millisecond
)

// polledPipe is a pipe whose write end is the program's stdout and whose
// read end the runner polls.
type polledPipe struct {
	r    int
	w    *os.File
	size int
	stop atomic.Bool
}

// newPolledPipe returns the pipe, or nil when the kernel will not make one
// large enough.
func newPolledPipe() *polledPipe {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil
	}
	size, err := unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeWant)
	if err == nil && size >= pipeMin {
		err = unix.SetNonblock(fds[0], true)
	}
	if err != nil || size < pipeMin {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil
	}
	return &polledPipe{r: fds[0], w: os.NewFile(uintptr(fds[1]), "stdout"), size: size}
}

// errStopped is the copy abandoned after the program exited: something
// (a grandchild) kept its stdout open past the grace period.
var errStopped = errors.New("stopped reading stdout: still open after the program exited")

// copyTo copies the pipe to dst until the write end is closed everywhere,
// dst fails, or Stop. It closes the read end before it returns, so a
// program still writing gets EPIPE.
func (p *polledPipe) copyTo(dst io.Writer) error {
	defer unix.Close(p.r)
	buf := make([]byte, p.size)
	for {
		if p.stop.Load() {
			return errStopped
		}
		n, err := unix.Read(p.r, buf)
		switch {
		case n > 0:
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
			if n >= p.size/4 {
				continue // the writer is ahead: read on at once
			}
		case err == nil:
			return nil // end of file
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return err
		}
		time.Sleep(pollInterval)
	}
}

// Stop makes copyTo return at its next poll.
func (p *polledPipe) Stop() { p.stop.Store(true) }
