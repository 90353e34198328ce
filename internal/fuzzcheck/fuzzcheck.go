// Package fuzzcheck is what the fuzz targets share: it runs a reader on
// one input and fails the target when the reader takes too long or
// allocates more than its input can justify.
//
// The bound is the project's rule for every reader of bytes from the store
// or the user: no input may allocate more than [Factor] times its size plus
// [Slack] (fixed buffers), nor take longer than [Deadline] (plus a second
// per MiB): a length field read from the input is never trusted to size an
// allocation, and the work is bounded by the bytes actually there.
package fuzzcheck

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

const (
	// Factor is how many bytes a reader may allocate per input byte.
	Factor = 64
	// Slack is what a reader may allocate whatever its input (buffers).
	Slack = 1 << 20
	// Deadline is how long one input may take (a hang, not a slow run:
	// seeds run under -race on a shared machine).
	Deadline = 10 * time.Second
)

// Limit is the allocation bound for an input of n bytes.
func Limit(n int) uint64 { return Factor*uint64(n) + Slack }

// Run calls fn, which reads an input of size bytes, and fails t when fn
// allocates more than Limit(size). The allocation is the TotalAlloc
// difference around the call, which counts every goroutine: fn must not
// start goroutines, and a measurement over the limit is taken again (up
// to three times, the smallest counts) so that an allocation elsewhere in
// the process cannot fail it. fn may therefore run more than once and
// must give the same result each time.
//
// When fn has not returned after the deadline the process panics with the
// stacks of every goroutine: the fuzzer records the input as a crasher.
func Run(t testing.TB, size int, fn func()) {
	t.Helper()
	limit := Limit(size)
	var least uint64
	for attempt := range 3 {
		got := measure(size, fn)
		if attempt == 0 || got < least {
			least = got
		}
		if least <= limit {
			return
		}
	}
	t.Fatalf("allocated %d bytes reading %d bytes of input: more than %d× its size + %d (%d)", least, size, Factor, Slack, limit)
}

// Allocated returns the bytes fn allocates (the smallest of three runs),
// for tests that pin a reader's allocation.
func Allocated(size int, fn func()) uint64 {
	least := measure(size, fn)
	for range 2 {
		least = min(least, measure(size, fn))
	}
	return least
}

func measure(size int, fn func()) uint64 {
	d := Deadline + time.Duration(size>>20)*time.Second
	start := time.Now()
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "fuzzcheck: reading %d bytes of input took longer than %v:\n%s\n", size, time.Since(start).Round(time.Millisecond), buf)
		panic(fmt.Sprintf("fuzzcheck: reading %d bytes of input did not finish in %v (a hang)", size, d))
	})
	defer timer.Stop()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
