package metrics

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestMemoryFlatOverAnHour samples 27 series every 2s for an hour of
// simulated time (1800 rounds, four times the 15-minute window) and checks
// that the heap after the last round is no bigger than once the rings were
// first full: history is bounded, nothing else accumulates.
func TestMemoryFlatOverAnHour(t *testing.T) {
	now := t0
	var series []SeriesInfo
	for i := range 27 {
		series = append(series, SeriesInfo{ID: fmt.Sprintf("s.%d", i)})
	}
	f := &fakeSampler{name: "s", series: series, readings: func(n int) ([]Reading, error) {
		rs := make([]Reading, len(series))
		for i := range rs {
			rs[i] = Reading{ID: series[i].ID, Value: float64(n + i), Detail: fmt.Sprintf("reading %d", n)}
		}
		return rs, nil
	}}
	e := NewEngine(Options{Window: 15 * time.Minute, Now: func() time.Time { return now }}, &twoSecond{f})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	round := func(n int) {
		for range n {
			now = now.Add(2 * time.Second)
			e.SampleOnce(context.Background())
			_ = e.Snapshot(5 * time.Minute) // a reader, as the tab takes one per frame
		}
	}
	round(460) // the 15-minute rings are full
	full := heap()
	round(1340)
	hour := heap()
	if s := e.Snapshot(0); len(s.Series[0].Points) != 451 {
		t.Errorf("a series holds %d points, want the window's 451", len(s.Series[0].Points))
	}
	if hour > full+256<<10 {
		t.Errorf("heap grew from %d KiB (rings full) to %d KiB after an hour", full>>10, hour>>10)
	}
	t.Logf("heap: %d KiB with full rings, %d KiB after an hour", full>>10, hour>>10)
}

type twoSecond struct{ *fakeSampler }

func (twoSecond) Interval() time.Duration { return 2 * time.Second }
