package metrics

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

var t0 = time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)

func TestRing(t *testing.T) {
	r := NewRing(4)
	if _, ok := r.Last(); ok || r.Len() != 0 {
		t.Fatal("empty ring has a point")
	}
	for i := range 10 {
		r.Push(Point{At: t0.Add(time.Duration(i) * time.Second), V: float64(i)})
		if r.Len() != min(i+1, 4) {
			t.Fatalf("after %d pushes Len = %d", i+1, r.Len())
		}
	}
	if r.Cap() != 4 {
		t.Errorf("Cap = %d", r.Cap())
	}
	var got []float64
	for _, p := range r.Since(nil, time.Time{}) {
		got = append(got, p.V)
	}
	if want := []float64{6, 7, 8, 9}; !equalFloats(got, want) {
		t.Errorf("points = %v, want the newest four %v", got, want)
	}
	if last, _ := r.Last(); last.V != 9 {
		t.Errorf("Last = %v", last)
	}
	tests := []struct {
		since time.Duration
		want  []float64
	}{
		{7 * time.Second, []float64{7, 8, 9}},
		{7500 * time.Millisecond, []float64{8, 9}},
		{9 * time.Second, []float64{9}},
		{10 * time.Second, nil},
	}
	for _, tt := range tests {
		var vs []float64
		for _, p := range r.Since(nil, t0.Add(tt.since)) {
			vs = append(vs, p.V)
		}
		if !equalFloats(vs, tt.want) {
			t.Errorf("Since(+%v) = %v, want %v", tt.since, vs, tt.want)
		}
	}
	lo, hi, ok := MinMax(r.Since(nil, time.Time{}))
	if !ok || lo != 6 || hi != 9 {
		t.Errorf("MinMax = %v %v %v", lo, hi, ok)
	}
	if _, _, ok := MinMax(nil); ok {
		t.Error("MinMax of nothing is ok")
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCounter(t *testing.T) {
	type step struct {
		v      float64
		after  time.Duration
		want   float64
		wantOK bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first reading has no rate", []step{{100, 0, 0, false}, {120, 2 * time.Second, 10, true}, {120, 2 * time.Second, 0, true}}},
		{"reset counts from zero", []step{{1000, 0, 0, false}, {1100, 10 * time.Second, 10, true}, {30, 10 * time.Second, 3, true}, {60, 10 * time.Second, 3, true}}},
		{"reset to zero", []step{{500, 0, 0, false}, {0, time.Second, 0, true}}},
		{"clock did not move", []step{{1, 0, 0, false}, {5, 0, 0, false}, {9, time.Second, 4, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Counter
			at := t0
			for i, s := range tt.steps {
				at = at.Add(s.after)
				got, ok := c.Rate(s.v, at)
				if ok != s.wantOK || (ok && math.Abs(got-s.want) > 1e-9) {
					t.Errorf("step %d: Rate(%v) = %v, %v; want %v, %v", i, s.v, got, ok, s.want, s.wantOK)
				}
			}
		})
	}
	var c Counter
	c.Per(10, t0, time.Minute)
	if got, ok := c.Per(12, t0.Add(30*time.Second), time.Minute); !ok || got != 4 {
		t.Errorf("Per = %v %v, want 4 a minute", got, ok)
	}
}

func TestRatio(t *testing.T) {
	var r Ratio
	if _, ok := r.Percent(90, 10, t0); ok {
		t.Error("first reading gave a ratio")
	}
	if got, ok := r.Percent(180, 20, t0.Add(time.Second)); !ok || got != 90 {
		t.Errorf("Percent = %v %v, want 90", got, ok)
	}
	if _, ok := r.Percent(180, 20, t0.Add(2*time.Second)); ok {
		t.Error("no lookups in between gave a ratio")
	}
	// A restart resets both counters: the new readings are the increases.
	if got, ok := r.Percent(3, 1, t0.Add(3*time.Second)); !ok || got != 75 {
		t.Errorf("after a reset Percent = %v %v, want 75", got, ok)
	}
}

func TestThreshold(t *testing.T) {
	th := config.DefaultThresholds()
	conn := namedThreshold(th, "db_connections_percent", 1)
	hit := namedThreshold(th, "cache_hit_ratio_percent", 1)
	temp := namedThreshold(th, "db_temp_mib_per_sec", 1<<20)
	p95 := namedThreshold(th, "api_p95", 1)
	tests := []struct {
		name string
		th   Threshold
		v    float64
		want health.Status
	}{
		{"below warn", conn, 79.9, health.OK},
		{"at warn", conn, 80, health.Warn},
		{"at crit", conn, 95, health.Crit},
		{"hit fine", hit, 99, health.OK},
		{"hit under warn", hit, 89.9, health.Warn},
		{"hit at crit", hit, 80, health.Crit},
		{"scaled MiB", temp, 11 << 20, health.Warn},
		{"seconds", p95, 2.5, health.Warn},
		{"no value", conn, math.NaN(), health.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.th.Judge(tt.v); got != tt.want {
				t.Errorf("Judge(%v) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
	for _, f := range []struct {
		th   Threshold
		u    Unit
		want string
	}{
		{conn, UnitPercent, "warn ≥80% crit ≥95%"},
		{hit, UnitPercent, "warn <90% crit ≤80%"},
		{temp, UnitBytesPerSec, "warn ≥10Mi/s crit ≥100Mi/s"},
		{p95, UnitSeconds, "warn ≥2s crit ≥5s"},
	} {
		if got := f.th.Format(f.u); got != f.want {
			t.Errorf("Format = %q, want %q", got, f.want)
		}
	}
}

func TestEveryThresholdNameExists(t *testing.T) {
	cfg := config.Default()
	cfg.Postgres.DSN = "postgres://x@localhost/db"
	cfg.Redis.URL = "redis://localhost:6379"
	cfg.Prometheus.URL = "http://localhost:9090"
	s, err := Build(cfg, &KubeSource{Usage: func(context.Context) (u kube.Usage, err error) { return }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[string]bool{}
	for _, v := range s.Engine.Snapshot(0).Series {
		if seen[v.ID] {
			t.Errorf("series %s twice", v.ID)
		}
		seen[v.ID] = true
		if v.Threshold.Name == "" || (v.Threshold.Limit == config.Limit{}) {
			t.Errorf("series %s has no threshold", v.ID)
		}
		if v.State != health.Unknown || !v.Waiting {
			t.Errorf("series %s before any sample: state %v waiting %v", v.ID, v.State, v.Waiting)
		}
	}
	if len(seen) != 8+1+6+5+3+4 {
		t.Errorf("%d series, want every sampler's", len(seen))
	}
	if len(s.Absent) != 0 {
		t.Errorf("Absent = %v", s.Absent)
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		u    Unit
		want string
	}{
		{12.345, UnitPercent, "12.3%"},
		{99.972, UnitPercent, "99.97%"},
		{100, UnitPercent, "100%"},
		{0.5, UnitPercent, "0.5%"},
		{0.34, UnitSeconds, "340ms"},
		{2.5, UnitSeconds, "2.5s"},
		{330, UnitSeconds, "5m30s"},
		{0, UnitSeconds, "0s"},
		{4.4e6, UnitBytes, "4.2Mi"},
		{1234.4, UnitPerSec, "1234/s"},
		{12345, UnitPerSec, "12.3k/s"},
		{2.26, UnitPerSec, "2.3/s"},
		{0.25, UnitPerMin, "0.25/min"},
		{7, UnitNone, "7"},
		{3.2e6, UnitNone, "3.2M"},
		{math.NaN(), UnitPercent, "–"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v, tt.u); got != tt.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tt.v, tt.u, got, tt.want)
		}
	}
}

// fakeSampler returns what the test tells it to.
type fakeSampler struct {
	name     string
	series   []SeriesInfo
	readings func(n int) ([]Reading, error)
	n        int
}

func (f *fakeSampler) Name() string            { return f.name }
func (f *fakeSampler) Interval() time.Duration { return time.Second }
func (f *fakeSampler) Series() []SeriesInfo    { return f.series }
func (f *fakeSampler) Sample(context.Context, time.Time) ([]Reading, error) {
	f.n++
	return f.readings(f.n)
}

func TestEngine(t *testing.T) {
	now := t0
	limit := Threshold{Name: "x", Limit: config.Limit{Warn: 50, Crit: 90}}
	good := &fakeSampler{name: "good", series: []SeriesInfo{{ID: "good.a", Threshold: limit}, {ID: "good.b", Threshold: limit}},
		readings: func(n int) ([]Reading, error) {
			return []Reading{{ID: "good.a", Value: float64(n * 10)}, {ID: "good.b", Value: math.NaN(), Err: errors.New("bad query")}}, nil
		}}
	bad := &fakeSampler{name: "bad", series: []SeriesInfo{{ID: "bad.a", Threshold: limit}},
		readings: func(n int) ([]Reading, error) {
			if n == 2 {
				panic("boom")
			}
			if n > 1 {
				return nil, errors.New("unreachable")
			}
			return []Reading{{ID: "bad.a", Value: 95}}, nil
		}}
	e := NewEngine(Options{Window: 4 * time.Second, Now: func() time.Time { return now }}, good, bad)
	for i := range 8 {
		now = t0.Add(time.Duration(i) * time.Second)
		e.SampleOnce(context.Background())
	}
	select {
	case <-e.Changes():
	default:
		t.Error("no change notified")
	}
	snap := e.Snapshot(0)
	a, _ := snap.Find("good.a")
	if a.Value != 80 || a.State != health.Warn || len(a.Points) != 5 || a.Min != 40 || a.Max != 80 {
		t.Errorf("good.a = value %v state %v points %d min %v max %v", a.Value, a.State, len(a.Points), a.Min, a.Max)
	}
	if !a.Since.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("good.a warn since %v, want when it reached 50", a.Since)
	}
	if b, _ := snap.Find("good.b"); b.Err != "bad query" || b.State != health.Unknown || len(b.Points) != 0 {
		t.Errorf("good.b = %+v", b)
	}
	ba, _ := snap.Find("bad.a")
	if ba.Err != "unreachable" || ba.State != health.Unknown || ba.Value != 95 || len(ba.Points) != 0 {
		t.Errorf("bad.a = err %q state %v value %v points %d (the window moved past its one point)", ba.Err, ba.State, ba.Value, len(ba.Points))
	}
	if st := snap.Sources[1]; st.OK || st.Err != "unreachable" || st.Runs != 8 || !st.LastOK.Equal(t0) {
		t.Errorf("bad source = %+v", st)
	}
	if two := e.Snapshot(2 * time.Second); len(two.Series[0].Points) != 3 {
		t.Errorf("2s window holds %d points", len(two.Series[0].Points))
	}
}

func TestEngineRunsAndStops(t *testing.T) {
	slow := &fakeSampler{name: "slow", series: []SeriesInfo{{ID: "slow.a"}}, readings: func(int) ([]Reading, error) {
		return []Reading{{ID: "slow.a", Value: 1}}, nil
	}}
	e := NewEngine(Options{Window: time.Minute}, slow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.Start(ctx)
	e.Start(ctx) // no-op
	select {
	case <-e.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no first sample")
	}
	e.Stop()
	e.Stop()
	if s := e.Snapshot(0); s.Sources[0].Runs < 1 {
		t.Errorf("runs = %d", s.Sources[0].Runs)
	}
}

func TestEngineTimeout(t *testing.T) {
	hang := &fakeSampler{name: "hang", series: []SeriesInfo{{ID: "hang.a"}}}
	hang.readings = func(int) ([]Reading, error) { return nil, nil }
	blocking := samplerFunc{fakeSampler: hang, sample: func(ctx context.Context) ([]Reading, error) {
		<-ctx.Done()
		return nil, nil
	}}
	e := NewEngine(Options{Timeout: 50 * time.Millisecond}, blocking)
	start := time.Now()
	e.SampleOnce(context.Background())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a hanging sampler held SampleOnce for %v", d)
	}
	if st := e.Snapshot(0).Sources[0]; st.OK || st.Err == "" {
		t.Errorf("a sampler that ran out of time: %+v", st)
	}
}

type samplerFunc struct {
	*fakeSampler
	sample func(ctx context.Context) ([]Reading, error)
}

func (s samplerFunc) Sample(ctx context.Context, _ time.Time) ([]Reading, error) {
	return s.sample(ctx)
}
