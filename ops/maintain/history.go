package maintain

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/opsdeck/opsdeck/ops/safefile"
)

// historyName is the capacity history under the state dir: one JSON
// object a line, one line per capacity run.
const historyName = "capacity-history.jsonl"

// historyKeep bounds the history: past historyMax lines it is rewritten
// with the newest historyKeep.
const (
	historyMax  = 20000
	historyKeep = 10000
)

// Sample is one capacity run's sizes. Zero fields were not read.
type Sample struct {
	At time.Time `json:"at"`
	// Database is the configured database and DatabaseBytes its size;
	// ServerBytes adds up every database this user may connect to.
	Database      string `json:"database,omitempty"`
	DatabaseBytes int64  `json:"database_bytes,omitempty"`
	ServerBytes   int64  `json:"server_bytes,omitempty"`
	// Tables are the biggest tables' total sizes, by qualified name.
	Tables map[string]int64 `json:"tables,omitempty"`
	// RedisUsed and RedisMax are used_memory and maxmemory.
	RedisUsed int64 `json:"redis_used,omitempty"`
	RedisMax  int64 `json:"redis_max,omitempty"`
	// CPU in millicores and memory in bytes, requested by pods and
	// allocatable, over the cluster's nodes.
	CPURequested   int64 `json:"cpu_requested,omitempty"`
	CPUAllocatable int64 `json:"cpu_allocatable,omitempty"`
	MemRequested   int64 `json:"mem_requested,omitempty"`
	MemAllocatable int64 `json:"mem_allocatable,omitempty"`
	// BackupBytes is the backup store's size (the committed sets).
	BackupBytes int64 `json:"backup_bytes,omitempty"`
}

// History is the capacity samples read back, oldest first.
type History struct {
	Samples []Sample
	// Bad counts lines that could not be read (a torn write, an edit);
	// they are skipped, never fatal.
	Bad int
}

// ReadHistory reads the history file; a missing file is an empty history.
func ReadHistory(path string) (History, error) {
	var h History
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("read capacity history %s: %w — check its permissions", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var s Sample
		if err := json.Unmarshal(line, &s); err != nil || s.At.IsZero() {
			h.Bad++
			continue
		}
		h.Samples = append(h.Samples, s)
	}
	if err := sc.Err(); err != nil {
		// A line too long to be ours: keep what was read.
		h.Bad++
	}
	return h, nil
}

// AppendHistory adds one sample with a single write to a file opened for
// appending (0600), so a crash leaves at most one torn line, which
// ReadHistory skips. A history grown past its bound is rewritten with its
// newest lines.
func AppendHistory(path string, s Sample) error {
	line, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("capacity history: %w — check state_dir", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("capacity history: %w — check state_dir", err)
	}
	// A line torn by a crash has no newline: start on a fresh line, so
	// that only the torn one is lost.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(path); err == nil {
			if _, err := r.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
				line = append([]byte{'\n'}, line...)
			}
			r.Close()
		}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("capacity history: %w (disk full?)", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return trimHistory(path)
}

// trimHistory rewrites the file with its newest historyKeep lines once it
// holds more than historyMax.
func trimHistory(path string) error {
	h, err := ReadHistory(path)
	if err != nil || len(h.Samples)+h.Bad <= historyMax {
		return err
	}
	keep := h.Samples[max(len(h.Samples)-historyKeep, 0):]
	var buf bytes.Buffer
	for _, s := range keep {
		line, err := json.Marshal(s)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return safefile.Write(path, buf.Bytes(), 0o600)
}

// Point is one measurement of a quantity over time.
type Point struct {
	At    time.Time
	Value float64
}

// Growth is a quantity's rate of change fitted over its points.
type Growth struct {
	// PerDay is the least-squares slope, in the quantity's unit per day.
	PerDay float64
	// Points and Span say what the rate was fitted on.
	Points int
	Span   time.Duration
	// OK is false when there is not enough history: fewer than two points
	// or less than minSpan between the first and the last.
	OK bool
}

// minSpan is the least history a growth rate is computed from.
const minSpan = time.Hour

// FitGrowth fits a line through the points within window before now
// (least squares) and returns its slope per day.
func FitGrowth(points []Point, window time.Duration, now time.Time) Growth {
	var in []Point
	for _, p := range points {
		if !p.At.After(now) && now.Sub(p.At) <= window && !math.IsNaN(p.Value) {
			in = append(in, p)
		}
	}
	g := Growth{Points: len(in)}
	if len(in) < 2 {
		return g
	}
	first, last := in[0].At, in[0].At
	for _, p := range in {
		if p.At.Before(first) {
			first = p.At
		}
		if p.At.After(last) {
			last = p.At
		}
	}
	g.Span = last.Sub(first)
	if g.Span < minSpan {
		return g
	}
	var sx, sy, sxx, sxy float64
	n := float64(len(in))
	for _, p := range in {
		x := p.At.Sub(first).Hours() / 24
		sx += x
		sy += p.Value
		sxx += x * x
		sxy += x * p.Value
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return g
	}
	g.PerDay = (n*sxy - sx*sy) / den
	g.OK = true
	return g
}

// DaysLeft is how many days until used reaches capacity at perDay; ok is
// false when it never does (no capacity, not growing).
func DaysLeft(used, capacity, perDay float64) (days float64, ok bool) {
	if capacity <= 0 || perDay <= 0 {
		return 0, false
	}
	if used >= capacity {
		return 0, true
	}
	return (capacity - used) / perDay, true
}
