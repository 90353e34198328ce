package sandbox

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

// EnvInt reads a positive integer knob of a benchmark from the
// environment (OPSDECK_BENCH_SCALE and the like), def when unset or bad.
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// ProcessCPU is the CPU time used so far by this process and its
// waited-for children (pg_dump, pg_restore, redis-cli): what a benchmark
// compares besides wall time, since it hardly moves with the load other
// work puts on a shared machine. The servers' share is not in it.
func ProcessCPU() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// FileSize is the size of the file at p, -1 when it cannot be read.
func FileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}
