package kube

import "sync"

// DefaultLogLines is how many lines a LogRing keeps when not told.
const DefaultLogLines = 10_000

// MaxLogLineBytes bounds one kept line (the kubelet splits longer ones at
// 16 KiB): a ring's memory is at most its length times this.
const MaxLogLineBytes = 16 << 10

// LogLine is one line of a container's log, secrets redacted.
type LogLine struct {
	// Seq numbers the lines of a stream from 1 in the order they arrived.
	Seq       uint64 `json:"-"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Text      string `json:"text"`
}

// LogRing keeps the last N lines of a log stream, so that following a
// chatty pod for hours takes fixed memory. It is safe for concurrent use:
// the stream's goroutines add, readers take copies.
type LogRing struct {
	mu    sync.Mutex
	lines []LogLine // circular once full
	next  int       // where the next line goes once full
	seq   uint64    // lines ever added
}

// NewLogRing keeps the last n lines (DefaultLogLines when n <= 0).
func NewLogRing(n int) *LogRing {
	if n <= 0 {
		n = DefaultLogLines
	}
	return &LogRing{lines: make([]LogLine, 0, n)}
}

// Cap is how many lines the ring keeps.
func (r *LogRing) Cap() int { return cap(r.lines) }

// Add appends l, dropping the oldest line when full, and returns its Seq.
func (r *LogRing) Add(l LogLine) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	l.Seq = r.seq
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, l)
		return l.Seq
	}
	r.lines[r.next] = l
	r.next = (r.next + 1) % len(r.lines)
	return l.Seq
}

// Len is the number of lines kept.
func (r *LogRing) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

// Total is the number of lines ever added; Total - Len were dropped.
func (r *LogRing) Total() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// Lines returns a copy of the lines kept, oldest first.
func (r *LogRing) Lines() []LogLine {
	lines, _ := r.After(0)
	return lines
}

// After returns a copy of the kept lines whose Seq is above seq, oldest
// first, and how many lines above seq were dropped before they could be
// read (a reader that fell behind).
func (r *LogRing) After(seq uint64) (lines []LogLine, missed uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq >= r.seq {
		return nil, 0
	}
	oldest := r.seq - uint64(len(r.lines)) + 1 // Seq of the oldest kept line
	if seq+1 < oldest {
		missed = oldest - seq - 1
		seq = oldest - 1
	}
	n := int(r.seq - seq)
	out := make([]LogLine, 0, n)
	start := len(r.lines) - n // index in oldest-first order
	for i := start; i < len(r.lines); i++ {
		out = append(out, r.lines[(r.next+i)%len(r.lines)])
	}
	return out, missed
}
