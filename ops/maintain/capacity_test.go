package maintain

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

const gib = 1 << 30

func TestFitGrowthAndDaysLeft(t *testing.T) {
	day := 24 * time.Hour
	line := func(n int, start, perDay float64) []Point {
		var ps []Point
		for i := range n {
			ps = append(ps, Point{At: now.Add(-time.Duration(n-1-i) * day), Value: start + perDay*float64(i)})
		}
		return ps
	}
	tests := []struct {
		name   string
		points []Point
		ok     bool
		perDay float64
	}{
		{"empty", nil, false, 0},
		{"one point", line(1, 10*gib, gib), false, 0},
		{"two points an hour apart", []Point{{now.Add(-time.Hour), 10}, {now, 10 + 1.0/24}}, true, 1},
		{"two points a minute apart", []Point{{now.Add(-time.Minute), 10}, {now, 20}}, false, 0},
		{"steady growth", line(30, 10*gib, 0.5*gib), true, 0.5 * gib},
		{"shrinking", line(10, 10*gib, -gib), true, -gib},
		{"flat", line(10, 5*gib, 0), true, 0},
		{"outside the window", line(200, 1, 1)[:10], false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := FitGrowth(tc.points, 90*day, now)
			if g.OK != tc.ok || math.Abs(g.PerDay-tc.perDay) > 1e-6*math.Max(1, math.Abs(tc.perDay)) {
				t.Errorf("FitGrowth = %+v, want ok %v, %g/day", g, tc.ok, tc.perDay)
			}
		})
	}
	for _, tc := range []struct {
		used, capacity, perDay, want float64
		ok                           bool
	}{
		{50, 100, 5, 10, true},
		{100, 100, 5, 0, true},
		{120, 100, 5, 0, true},
		{50, 100, 0, 0, false},
		{50, 100, -1, 0, false},
		{50, 0, 5, 0, false},
	} {
		if got, ok := DaysLeft(tc.used, tc.capacity, tc.perDay); ok != tc.ok || got != tc.want {
			t.Errorf("DaysLeft(%g, %g, %g) = %g, %v", tc.used, tc.capacity, tc.perDay, got, ok)
		}
	}
}

// catalog returns n verified daily database sets whose dumps grow by
// step bytes a day, the newest today.
func catalog(n int, first, step int64) []backup.Set {
	var sets []backup.Set
	for i := range n {
		start := now.Add(-time.Duration(n-1-i) * 24 * time.Hour)
		m := &backup.Manifest{ID: backup.NewID(start), Kind: "database", Status: backup.StatusOK, Start: start,
			Components: []backup.Component{{Name: backup.Database, Status: backup.StatusOK,
				Files: []backup.File{{Name: "database.dump.zst", Size: (first + step*int64(i)) / 4, RawSize: first + step*int64(i)}}}}}
		sets = append([]backup.Set{{ID: m.ID, Manifest: m, Verify: &backup.VerifyResult{OK: true}}}, sets...)
	}
	return sets
}

func capacityConfig() *config.Config {
	cfg := config.Default()
	cfg.Maintenance.Capacity.DatabaseVolume = "100Gi"
	return cfg
}

func TestCapacityEmptyAndOneEntryHistory(t *testing.T) {
	cfg := capacityConfig()
	for _, tc := range []struct {
		name    string
		history []Sample
		sets    []backup.Set
	}{
		{"no history, no catalog", []Sample{{At: now, DatabaseBytes: 40 * gib}}, nil},
		{"one catalog entry", []Sample{{At: now, DatabaseBytes: 40 * gib}}, catalog(1, 4*gib, 0)},
		{"empty catalog", []Sample{{At: now, DatabaseBytes: 40 * gib}}, []backup.Set{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, fs := Capacity(CapacityInput{Config: cfg, Now: now, History: tc.history, Sets: tc.sets, HaveDatabase: true})
			if len(d.Projections) != 1 || d.Projections[0].Growth.OK || d.Projections[0].HasDaysLeft || d.First != "" {
				t.Fatalf("projection: %+v", d.Projections)
			}
			p := d.Projections[0]
			if p.Used != 40*gib || p.Capacity != 100*gib || p.Percent != 40 {
				t.Errorf("projection: %+v", p)
			}
			first := find(fs, "runs out first")
			if len(first) != 1 || first[0].Status != health.OK || !strings.Contains(first[0].Summary, "nothing grows") {
				t.Errorf("runs out first: %+v", first)
			}
		})
	}
}

func TestCapacityFromHistory(t *testing.T) {
	cfg := capacityConfig()
	var hist []Sample
	for i := range 11 {
		at := now.Add(-time.Duration(10-i) * 24 * time.Hour)
		hist = append(hist, Sample{At: at, DatabaseBytes: int64(50+i) * gib, RedisUsed: 100 << 20, RedisMax: 256 << 20,
			CPURequested: 10000, CPUAllocatable: 22800, MemRequested: int64(40+2*i) * gib, MemAllocatable: 90 * gib})
	}
	nodes := []kube.NodeUsage{
		{Name: "node-1", CPUAllocatable: 3800, CPURequested: 3700, MemAllocatable: 15 * gib, MemRequested: 4 * gib},
		{Name: "node-2", CPUAllocatable: 3800, CPURequested: 1000, MemAllocatable: 15 * gib, MemRequested: 4 * gib},
	}
	d, fs := Capacity(CapacityInput{Config: cfg, Now: now, History: hist, Nodes: nodes, HaveDatabase: true, HaveRedis: true})
	byName := map[string]Projection{}
	for _, p := range d.Projections {
		byName[p.Resource] = p
	}
	db := byName["database volume"]
	// 60 GiB of 100 GiB, growing 1 GiB a day: 40 days, a warning (< 90).
	if !db.Growth.OK || math.Abs(db.Growth.PerDay-gib) > 1 || math.Abs(db.DaysLeft-40) > 0.01 {
		t.Errorf("database: %+v", db)
	}
	mem := byName["cluster memory requests"]
	// 60 GiB of 90 GiB requested, +2 GiB a day: 15 days, critical (≤ 30).
	if math.Abs(mem.DaysLeft-15) > 0.01 {
		t.Errorf("memory requests: %+v", mem)
	}
	if r := byName["redis memory"]; !r.Growth.OK || r.HasDaysLeft || r.Growth.PerDay != 0 {
		t.Errorf("flat redis: %+v", r)
	}
	if d.First != "cluster memory requests" {
		t.Errorf("runs out first: %q", d.First)
	}
	first := find(fs, "runs out first")
	if len(first) != 1 || first[0].Status != health.Crit || !strings.Contains(first[0].Summary, "in 15 days") {
		t.Errorf("runs out first: %+v", first)
	}
	if f := find(fs, "database volume"); len(f) != 1 || f[0].Status != health.Warn || !strings.Contains(f[0].Summary, "full in 40 days") {
		t.Errorf("database finding: %+v", f)
	}
	if f := find(fs, "node cpu requests"); len(f) != 1 || f[0].Object != "node node-1" || f[0].Status != health.Crit {
		t.Errorf("node finding: %+v", f)
	}
}

func TestCapacityFromBackupCatalog(t *testing.T) {
	cfg := capacityConfig()
	// One run of opsdeck only, but two weeks of nightly dumps growing 2%/day
	// of the newest dump: the database grows 2% of its size a day.
	sets := catalog(15, 10*gib, 200<<20)
	newest := float64(10*gib + 14*(200<<20))
	hist := []Sample{{At: now, DatabaseBytes: 50 * gib}}
	d, _ := Capacity(CapacityInput{Config: cfg, Now: now, History: hist, Sets: sets, HaveDatabase: true})
	p := d.Projections[0]
	want := float64(200<<20) / newest * 50 * gib
	if !p.Growth.OK || math.Abs(p.Growth.PerDay-want) > 1 || !strings.Contains(p.GrowthSource, "backup catalog: 15 database dumps") {
		t.Errorf("from the catalog: %+v, want %g/day", p, want)
	}
	if !p.HasDaysLeft || math.Abs(p.DaysLeft-50*gib/want) > 0.01 {
		t.Errorf("days left %g", p.DaysLeft)
	}
}

func TestHistoryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", historyName)
	h, err := ReadHistory(path)
	if err != nil || len(h.Samples) != 0 {
		t.Fatalf("missing history: %+v %v", h, err)
	}
	for i := range 3 {
		if err := AppendHistory(path, Sample{At: now.Add(time.Duration(i) * time.Hour), DatabaseBytes: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	// A torn last line (killed mid-write) and a hand edit are skipped.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json\n{\"at\":\"2026-11-25T10:00:00Z\",\"database_by")
	f.Close()
	h, err = ReadHistory(path)
	if err != nil || len(h.Samples) != 3 || h.Bad != 2 || h.Samples[2].DatabaseBytes != 3 {
		t.Errorf("history: %d samples, %d bad, %v", len(h.Samples), h.Bad, err)
	}
	// The next run starts on a line of its own.
	if err := AppendHistory(path, Sample{At: now.Add(5 * time.Hour), DatabaseBytes: 9}); err != nil {
		t.Fatal(err)
	}
	if h, _ = ReadHistory(path); len(h.Samples) != 4 || h.Samples[3].DatabaseBytes != 9 {
		t.Errorf("after a torn line: %d samples, last %+v", len(h.Samples), h.Samples[len(h.Samples)-1])
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("history mode %v", st.Mode().Perm())
	}
	if err := AppendHistory(filepath.Join("/proc/no-such-dir", historyName), Sample{At: now}); err == nil {
		t.Error("appending under /proc succeeded")
	}
}
