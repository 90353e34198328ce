package metrics

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// benchSnapshot is a full engine's worth of series (27, as the sandbox
// samples) with 15 minutes of history each.
func benchSnapshot(at time.Time) opmetrics.Snapshot {
	s := opmetrics.Snapshot{At: at, Window: 15 * time.Minute}
	units := []opmetrics.Unit{opmetrics.UnitPerSec, opmetrics.UnitPercent, opmetrics.UnitSeconds, opmetrics.UnitBytes, opmetrics.UnitNone}
	sources := []string{"postgres", "redis", "kubernetes", "prometheus", "business"}
	for i := range 27 {
		v := opmetrics.SeriesView{SeriesInfo: opmetrics.SeriesInfo{
			ID: fmt.Sprintf("bench.s%d", i), Source: sources[i%len(sources)], Title: fmt.Sprintf("series %d", i),
			Unit: units[i%len(units)], Threshold: opmetrics.Threshold{Name: "x", Limit: config.Limit{Warn: 80, Crit: 95}},
		}}
		for j := range 450 {
			v.Points = append(v.Points, opmetrics.Point{At: at.Add(time.Duration(j-449) * 2 * time.Second), V: 50 + 40*math.Sin(float64(i+j)/20)})
		}
		v.Value = v.Points[449].V
		v.State = v.Threshold.Judge(v.Value)
		v.Detail = "detail text that is long enough to be truncated in a panel of forty columns"
		s.Series = append(s.Series, v)
	}
	for _, name := range sources {
		s.Sources = append(s.Sources, opmetrics.SourceStatus{Name: name, OK: true, Runs: 10})
	}
	return s
}

// BenchmarkRender200x60 is one frame of the Metrics tab at 200x60 (a body
// of 200x58) when a new snapshot arrives: taking it in Update and rendering
// every panel, every sparkline drawn anew (as when all series moved).
// Goal: under 5 ms.
func BenchmarkRender200x60(b *testing.B) {
	tab := New(tuitest.Common(), Sources{Engine: benchEngine{}})
	tab.SetSize(200, 58)
	snaps := []opmetrics.Snapshot{benchSnapshot(tuitest.Now), benchSnapshot(tuitest.Now.Add(2 * time.Second))}
	i := 0
	for b.Loop() {
		tab.sparks = nil // new data: no sparkline can be reused
		tab.Update(snapshotMsg{snap: snaps[i%2]})
		_ = tab.View()
		i++
	}
}

// BenchmarkRenderEnlarged200x60 is a frame of the enlarged line chart.
func BenchmarkRenderEnlarged200x60(b *testing.B) {
	tab := New(tuitest.Common(), Sources{Engine: benchEngine{}})
	tab.SetSize(200, 58)
	tab.Update(snapshotMsg{snap: benchSnapshot(tuitest.Now)})
	tab.Update(tuitest.Key("enter"))
	snaps := []opmetrics.Snapshot{benchSnapshot(tuitest.Now), benchSnapshot(tuitest.Now.Add(2 * time.Second))}
	i := 0
	for b.Loop() {
		tab.Update(snapshotMsg{snap: snaps[i%2]})
		_ = tab.View()
		i++
	}
}

// BenchmarkKeyPress200x60 is a frame after a key that moves the selection
// (the sparklines are reused).
func BenchmarkKeyPress200x60(b *testing.B) {
	tab := New(tuitest.Common(), Sources{Engine: benchEngine{}})
	tab.SetSize(200, 58)
	tab.Update(snapshotMsg{snap: benchSnapshot(tuitest.Now)})
	keys := []string{"right", "left"}
	i := 0
	for b.Loop() {
		tab.Update(tuitest.Key(keys[i%2]))
		_ = tab.View()
		i++
	}
}

type benchEngine struct{}

func (benchEngine) Snapshot(time.Duration) opmetrics.Snapshot { return opmetrics.Snapshot{} }
func (benchEngine) Window() time.Duration                     { return 15 * time.Minute }
func (benchEngine) Interval() time.Duration                   { return 2 * time.Second }

func TestBuckets(t *testing.T) {
	from := tuitest.Now
	at := func(s int) time.Time { return from.Add(time.Duration(s) * time.Second) }
	pts := []opmetrics.Point{{At: at(4), V: 1}, {At: at(5), V: 3}, {At: at(8), V: 2}}
	got := buckets(pts, from, at(10), 5) // 2s columns
	want := []float64{math.NaN(), math.NaN(), 3, 3, 2}
	for i := range want {
		if (math.IsNaN(want[i]) != math.IsNaN(got[i])) || (!math.IsNaN(want[i]) && got[i] != want[i]) {
			t.Fatalf("buckets = %v, want %v (max per column, carried over gaps)", got, want)
		}
	}
}
