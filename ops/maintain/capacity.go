package maintain

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// rbCapacity is the runbook section of capacity planning.
const rbCapacity = "maintenance.md#monthly"

// Unit of a projection's numbers.
const (
	UnitBytes      = "bytes"
	UnitMillicores = "millicores"
)

// Projection is one resource's use, its growth and when it runs out.
type Projection struct {
	Resource string `json:"resource"`
	Unit     string `json:"unit"`
	Used     int64  `json:"used"`
	// Capacity is 0 when unknown (no volume size configured, no maxmemory).
	Capacity int64   `json:"capacity"`
	Percent  float64 `json:"percent"`
	// Growth is per day, in Unit; GrowthSource says what it was fitted on.
	Growth       Growth `json:"growth"`
	GrowthSource string `json:"growth_source,omitempty"`
	// DaysLeft is set (HasDaysLeft) when the resource grows and has a size.
	DaysLeft    float64 `json:"days_left"`
	HasDaysLeft bool    `json:"has_days_left"`
	// Limit is the percentage threshold the use is judged against.
	Limit config.Limit `json:"-"`
}

// CapacityDetail is what `maintain capacity` worked out.
type CapacityDetail struct {
	Projections []Projection `json:"projections"`
	// First names the resource that runs out first ("" when none grows).
	First string `json:"first,omitempty"`
	// HistorySamples and HistoryBad describe the history file read.
	HistorySamples int `json:"history_samples"`
	HistoryBad     int `json:"history_bad,omitempty"`
}

// runCapacity measures every resource, appends the sample to the history
// and projects each resource's growth.
func (e *Engine) runCapacity(ctx context.Context, rep *Report, p progress.Func) ([]Finding, []string) {
	now := e.now()
	var fs []Finding
	var notes []string
	s := Sample{At: now.UTC()}
	in := CapacityInput{Config: e.Config, Now: now}

	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "capacity", Message: "measuring the database"})
	if pool, err := e.pool(ctx); err != nil {
		fs = append(fs, targetFailure(AreaCapacity, "postgres", err, false))
	} else if snap, err := postgres.TakeSnapshot(ctx, pool); err != nil {
		fs = append(fs, targetFailure(AreaCapacity, "postgres", err, true))
	} else {
		s.Database, s.DatabaseBytes = snap.Server.Database, snap.DatabaseSizeBytes
		if dbs, err := postgres.ListDatabases(ctx, pool, ""); err == nil {
			for _, d := range dbs {
				s.ServerBytes += max(d.Bytes, 0)
			}
		}
		if up, err := postgres.ReadUpkeep(ctx, pool, e.statementTimeout()); err == nil && up.Has(postgres.FactTables) {
			tables := slices.Clone(up.Tables)
			slices.SortFunc(tables, func(a, b postgres.TableStat) int { return cmp.Compare(b.TotalBytes, a.TotalBytes) })
			s.Tables = map[string]int64{}
			for _, t := range tables[:min(len(tables), 20)] {
				s.Tables[t.Qualified()] = t.TotalBytes
			}
		}
		in.HaveDatabase = true
	}
	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "capacity", Message: "measuring Redis"})
	if client, err := e.redisUp(ctx); err != nil {
		fs = append(fs, targetFailure(AreaCapacity, "redis", err, false))
	} else if snap, err := redis.TakeSnapshot(ctx, client); err != nil {
		fs = append(fs, targetFailure(AreaCapacity, "redis", err, true))
	} else {
		s.RedisUsed, s.RedisMax = snap.UsedMemory, snap.MaxMemory
		in.HaveRedis = true
	}
	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "capacity", Message: "reading node requests"})
	if client, err := e.kube(); err != nil {
		fs = append(fs, na(AreaCapacity, "nodes", "kubernetes", err.Error()))
	} else if u, err := kube.FetchUsage(ctx, client, client.Namespaces()); err != nil && len(u.Nodes) == 0 {
		kind, msg := kube.Classify(err)
		f := na(AreaCapacity, "nodes", "kubernetes", msg)
		if kind == kube.KindUnreachable {
			f = Finding{Area: AreaCapacity, Check: "nodes", Status: health.Crit, Object: "kubernetes", Summary: msg}
		}
		fs = append(fs, f)
	} else {
		in.Nodes = u.Nodes
		for _, n := range u.Nodes {
			s.CPURequested += n.CPURequested
			s.CPUAllocatable += n.CPUAllocatable
			s.MemRequested += n.MemRequested
			s.MemAllocatable += n.MemAllocatable
		}
	}
	if eng, ok, err := e.backupEngine(); err != nil {
		fs = append(fs, na(AreaCapacity, "backups", "backup store", err.Error()))
	} else if ok {
		sets, err := backup.List(ctx, eng.Store)
		if err != nil {
			fs = append(fs, na(AreaCapacity, "backups", "backup store", err.Error()))
		} else {
			in.Sets = sets
			for _, set := range sets {
				if set.Manifest != nil {
					s.BackupBytes += set.Manifest.Size()
				}
			}
			in.HaveBackups = true
			if e.Config.Backup.S3.Bucket == "" {
				in.StoreDisk, in.StoreFree = diskSpace(e.Config.Backup.Dir)
			}
		}
	}

	path := filepath.Join(e.stateDir(), historyName)
	h, err := ReadHistory(path)
	if err != nil {
		notes = append(notes, err.Error())
	}
	if h.Bad > 0 {
		notes = append(notes, fmt.Sprintf("%d unreadable lines of %s were skipped", h.Bad, path))
	}
	in.History = append(h.Samples, s)
	if err := AppendHistory(path, s); err != nil {
		notes = append(notes, "this run was not added to the capacity history: "+err.Error())
	}
	detail, cfs := Capacity(in)
	detail.HistorySamples, detail.HistoryBad = len(in.History), h.Bad
	rep.Capacity = &detail
	return append(fs, cfs...), notes
}

// diskSpace returns the size and free bytes of the filesystem holding dir.
func diskSpace(dir string) (total, free int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize)
}

// CapacityInput is what Capacity projects from: the history (this run's
// sample last), the backup catalog, node usage and the store's disk.
type CapacityInput struct {
	Config  *config.Config
	Now     time.Time
	History []Sample
	Sets    []backup.Set
	Nodes   []kube.NodeUsage
	// StoreDisk and StoreFree are the local backup store's filesystem.
	StoreDisk, StoreFree int64

	HaveDatabase, HaveRedis, HaveBackups bool
}

// Capacity projects each resource from the input. It is pure.
func Capacity(in CapacityInput) (CapacityDetail, []Finding) {
	cfg := in.Config
	m, th := cfg.Maintenance.Capacity, cfg.Thresholds
	var d CapacityDetail
	last := Sample{At: in.Now}
	if len(in.History) > 0 {
		last = in.History[len(in.History)-1]
	}
	series := func(f func(Sample) int64) []Point {
		var ps []Point
		for _, s := range in.History {
			if v := f(s); v > 0 {
				ps = append(ps, Point{At: s.At, Value: float64(v)})
			}
		}
		return ps
	}
	historySource := func(g Growth) string {
		return fmt.Sprintf("%d runs of opsdeck over %s", g.Points, health.ShortDuration(g.Span.Truncate(time.Minute)))
	}
	if in.HaveDatabase {
		used := max(last.ServerBytes, last.DatabaseBytes)
		pr := Projection{Resource: "database volume", Unit: UnitBytes, Used: used, Capacity: cfg.Maintenance.DatabaseVolumeBytes(), Limit: th.DiskPercent}
		pr.Growth = FitGrowth(series(func(s Sample) int64 { return max(s.ServerBytes, s.DatabaseBytes) }), m.Window, in.Now)
		pr.GrowthSource = historySource(pr.Growth)
		if pr.Growth.Span < 24*time.Hour {
			if g, ok := catalogGrowth(in.Sets, used, m.Window, in.Now); ok {
				pr.Growth, pr.GrowthSource = g, fmt.Sprintf("the backup catalog: %d database dumps over %s, scaled to the database size", g.Points, health.ShortDuration(g.Span.Truncate(time.Minute)))
			}
		}
		d.Projections = append(d.Projections, project(pr))
	}
	if in.HaveRedis {
		pr := Projection{Resource: "redis memory", Unit: UnitBytes, Used: last.RedisUsed, Capacity: last.RedisMax, Limit: th.RedisMemoryPercent}
		pr.Growth = FitGrowth(series(func(s Sample) int64 { return s.RedisUsed }), m.Window, in.Now)
		pr.GrowthSource = historySource(pr.Growth)
		d.Projections = append(d.Projections, project(pr))
	}
	if len(in.Nodes) > 0 {
		for _, r := range []struct {
			name        string
			unit        string
			used, alloc int64
			hist        func(Sample) int64
			limit       config.Limit
		}{
			{"cluster cpu requests", UnitMillicores, last.CPURequested, last.CPUAllocatable, func(s Sample) int64 { return s.CPURequested }, th.CPUPercent},
			{"cluster memory requests", UnitBytes, last.MemRequested, last.MemAllocatable, func(s Sample) int64 { return s.MemRequested }, th.MemoryPercent},
		} {
			pr := Projection{Resource: r.name, Unit: r.unit, Used: r.used, Capacity: r.alloc, Limit: r.limit}
			pr.Growth = FitGrowth(series(r.hist), m.Window, in.Now)
			pr.GrowthSource = historySource(pr.Growth)
			d.Projections = append(d.Projections, project(pr))
		}
	}
	if in.HaveBackups && in.StoreDisk > 0 {
		used := in.StoreDisk - in.StoreFree
		pr := Projection{Resource: "backup store disk", Unit: UnitBytes, Used: used, Capacity: in.StoreDisk, Limit: th.DiskPercent}
		pr.Growth = FitGrowth(series(func(s Sample) int64 { return s.BackupBytes }), m.Window, in.Now)
		pr.GrowthSource = historySource(pr.Growth) + " (the store's own size)"
		d.Projections = append(d.Projections, project(pr))
	}

	var fs []Finding
	for _, pr := range d.Projections {
		fs = append(fs, projectionFinding(pr, m))
	}
	fs = append(fs, nodeFindings(in.Nodes, th)...)
	if first, ok := runsOutFirst(d.Projections); ok {
		d.First = first.Resource
		st := health.Below(first.DaysLeft, m.DaysLeft)
		fs = append(fs, Finding{Area: AreaCapacity, Check: "runs out first", Status: st, Object: first.Resource, Runbook: rbCapacity,
			Summary:  fmt.Sprintf("%s, in %s at %s/day", first.Resource, days(first.DaysLeft), amount(int64(first.Growth.PerDay), first.Unit)),
			Evidence: []string{"growth from " + first.GrowthSource, fmt.Sprintf("threshold: warn < %g days, crit ≤ %g days", m.DaysLeft.Warn, m.DaysLeft.Crit)}})
	} else if len(d.Projections) > 0 {
		fullest := slices.MaxFunc(d.Projections, func(a, b Projection) int { return cmp.Compare(a.Percent, b.Percent) })
		fs = append(fs, Finding{Area: AreaCapacity, Check: "runs out first", Status: health.OK, Object: fullest.Resource, Runbook: rbCapacity,
			Summary:    fmt.Sprintf("nothing grows in the history yet; the fullest is %s at %.0f%%", fullest.Resource, fullest.Percent),
			Evidence:   []string{fmt.Sprintf("%d samples in the history: growth needs at least two, %s apart", len(in.History), health.ShortDuration(minSpan))},
			Suggestion: "run opsdeck maintain capacity daily (cron) so that growth can be measured"})
	}
	return d, fs
}

// project fills in the percentage and the days left.
func project(pr Projection) Projection {
	if pr.Capacity > 0 {
		pr.Percent = 100 * float64(pr.Used) / float64(pr.Capacity)
	}
	if pr.Growth.OK {
		pr.DaysLeft, pr.HasDaysLeft = DaysLeft(float64(pr.Used), float64(pr.Capacity), pr.Growth.PerDay)
	}
	return pr
}

// catalogGrowth estimates the database's growth from the dumps in the
// backup catalog: their raw sizes' relative growth, applied to the
// database's size now.
func catalogGrowth(sets []backup.Set, dbBytes int64, window time.Duration, now time.Time) (Growth, bool) {
	var ps []Point
	var latest Point
	for _, s := range sets {
		if s.Manifest == nil {
			continue
		}
		c, ok := s.Manifest.Component(backup.Database)
		if !ok || c.Status != backup.StatusOK {
			continue
		}
		var raw int64
		for _, f := range c.Files {
			raw += f.RawSize
		}
		if raw <= 0 {
			continue
		}
		p := Point{At: s.Manifest.Start, Value: float64(raw)}
		ps = append(ps, p)
		if p.At.After(latest.At) {
			latest = p
		}
	}
	g := FitGrowth(ps, window, now)
	if !g.OK || g.Span < 24*time.Hour || latest.Value <= 0 {
		return g, false
	}
	g.PerDay = g.PerDay / latest.Value * float64(dbBytes)
	return g, true
}

// projectionFinding judges one projection: its use against the threshold
// and its days left against maintenance.capacity.days_left.
func projectionFinding(pr Projection, m config.MaintenanceCapacity) Finding {
	f := Finding{Area: AreaCapacity, Check: pr.Resource, Object: pr.Resource, Status: health.OK, Runbook: rbCapacity}
	use := amount(pr.Used, pr.Unit)
	if pr.Capacity > 0 {
		use = fmt.Sprintf("%s of %s (%.0f%%)", use, amount(pr.Capacity, pr.Unit), pr.Percent)
		f.Status = health.Above(pr.Percent, pr.Limit)
		f.Evidence = append(f.Evidence, "threshold: "+health.Percent(pr.Limit))
	}
	switch {
	case pr.Growth.OK:
		f.Evidence = append(f.Evidence, fmt.Sprintf("growth %s/day from %s", amount(int64(pr.Growth.PerDay), pr.Unit), pr.GrowthSource))
	default:
		f.Evidence = append(f.Evidence, fmt.Sprintf("no growth rate yet: %d sample(s) within the window, over %s", pr.Growth.Points, health.ShortDuration(pr.Growth.Span.Truncate(time.Minute))))
	}
	f.Summary = use
	if pr.HasDaysLeft {
		f.Summary += ", full in " + days(pr.DaysLeft)
		if st := health.Below(pr.DaysLeft, m.DaysLeft); st.Worse(f.Status) {
			f.Status = st
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("days left: warn < %g, crit ≤ %g", m.DaysLeft.Warn, m.DaysLeft.Crit))
	} else if pr.Growth.OK && pr.Growth.PerDay <= 0 {
		f.Summary += ", not growing"
	}
	if pr.Capacity == 0 {
		switch pr.Resource {
		case "database volume":
			f.Suggestion = "set maintenance.capacity.database_volume to the volume's size to get days until full"
		case "redis memory":
			f.Suggestion = "maxmemory is 0 (unlimited): set it, so that Redis evicts before the pod is OOM-killed"
		}
	}
	if f.Status != health.OK {
		f.Why = "when it runs out, writes fail (disk, Redis) or new pods cannot be scheduled (requests)"
		if f.Suggestion == "" {
			f.Suggestion = "add capacity before it runs out, or find what grows (the biggest tables, prefixes or workloads)"
		}
	}
	return f
}

// nodeFindings report nodes whose requests are past the thresholds.
func nodeFindings(nodes []kube.NodeUsage, th config.Thresholds) []Finding {
	var fs []Finding
	for _, n := range nodes {
		for _, r := range []struct {
			what        string
			unit        string
			used, alloc int64
			limit       config.Limit
		}{
			{"cpu", UnitMillicores, n.CPURequested, n.CPUAllocatable, th.CPUPercent},
			{"memory", UnitBytes, n.MemRequested, n.MemAllocatable, th.MemoryPercent},
		} {
			if r.alloc <= 0 {
				continue
			}
			p := 100 * float64(r.used) / float64(r.alloc)
			if st := health.Above(p, r.limit); st != health.OK {
				fs = append(fs, Finding{Area: AreaCapacity, Check: "node " + r.what + " requests", Status: st, Object: "node " + n.Name, Runbook: rbKubeResources,
					Summary:    fmt.Sprintf("%s of %s allocatable requested (%.0f%%)", amount(r.used, r.unit), amount(r.alloc, r.unit), p),
					Evidence:   []string{"threshold: " + health.Percent(r.limit), "requests of the watched namespaces' pods"},
					Why:        "a node full of requests takes no new pods: a rollout or a rescheduled pod stays Pending",
					Suggestion: "add a node, or lower the requests of pods that ask for more than they use (kubectl top pod)"})
			}
		}
	}
	return fs
}

// runsOutFirst returns the projection with the fewest days left.
func runsOutFirst(ps []Projection) (Projection, bool) {
	var best Projection
	found := false
	for _, p := range ps {
		if p.HasDaysLeft && (!found || p.DaysLeft < best.DaysLeft) {
			best, found = p, true
		}
	}
	return best, found
}

func amount(n int64, unit string) string {
	if unit == UnitMillicores {
		if n%1000 == 0 {
			return fmt.Sprintf("%d cpu", n/1000)
		}
		return fmt.Sprintf("%dm cpu", n)
	}
	if n < 0 {
		return "-" + progress.Bytes(-n)
	}
	return progress.Bytes(n)
}

func days(d float64) string {
	switch {
	case math.IsInf(d, 0) || d > 3650:
		return "more than 10 years"
	case d < 1:
		return "less than a day"
	}
	return fmt.Sprintf("%.0f days", d)
}
