package config

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaintenanceConfig drives `opsdeck maintain` and the Maintenance tab: the
// levels its findings are judged against, what cleanup may delete and how
// gently the Redis keyspace is read.
type MaintenanceConfig struct {
	// DeadTuplePercent judges a table's dead tuples as a share of its live
	// and dead ones; tables at or past warn are vacuumed by `maintain db`
	// (default warn 10, crit 20).
	DeadTuplePercent Limit `yaml:"dead_tuple_percent" json:"dead_tuple_percent"`
	// MinDeadTuples keeps small tables out of the dead-tuple findings
	// (default 1000).
	MinDeadTuples int64 `yaml:"min_dead_tuples" json:"min_dead_tuples"`
	// LongQuery judges statements that have been running (default warn 1m, crit 10m).
	LongQuery DurationLimit `yaml:"long_query" json:"long_query"`
	// IdleInTransaction judges sessions idle inside an open transaction
	// (default warn 1m, crit 10m).
	IdleInTransaction DurationLimit `yaml:"idle_in_transaction" json:"idle_in_transaction"`
	// LockWait judges sessions waiting for a lock (default warn 10s, crit 1m).
	LockWait DurationLimit `yaml:"lock_wait" json:"lock_wait"`
	// UnusedIndexMinSize: indexes never scanned and at least this big are
	// reported (default "1MiB"; sizes take B, KiB, MiB, GiB, TiB, or k8s Ki/Mi/Gi/Ti).
	UnusedIndexMinSize string `yaml:"unused_index_min_size" json:"unused_index_min_size"`
	// BloatPercent judges the estimated share of a table or index that is
	// dead space (default warn 30, crit 60).
	BloatPercent Limit `yaml:"bloat_percent" json:"bloat_percent"`
	// StatementTimeout bounds each expensive read (sizes, bloat, index
	// statistics) on the server (default 30s).
	StatementTimeout time.Duration `yaml:"statement_timeout" json:"statement_timeout"`
	// VacuumLockTimeout is how long a VACUUM waits for its table's lock
	// before it skips the table (default 10s).
	VacuumLockTimeout time.Duration `yaml:"vacuum_lock_timeout" json:"vacuum_lock_timeout"`
	// AllowedSuperusers are roles expected to be superusers besides the
	// bootstrap superuser and the database's owner.
	AllowedSuperusers []string `yaml:"allowed_superusers,omitempty" json:"allowed_superusers"`

	// LogArchives are glob patterns of the application's log archives, e.g.
	// "/var/log/stockapp/*.gz"; files older than LogRetention are cleaned up.
	LogArchives []string `yaml:"log_archives,omitempty" json:"log_archives"`
	// LogRetention is how long log archives are kept (default 168h, 7 days).
	LogRetention time.Duration `yaml:"log_retention" json:"log_retention"`
	// PreRestoreRetention is how long the <db>_pre_<timestamp> databases
	// that restores leave behind are kept (default 168h, 7 days).
	PreRestoreRetention time.Duration `yaml:"pre_restore_retention" json:"pre_restore_retention"`

	// Redis tunes the keyspace analysis.
	Redis MaintenanceRedis `yaml:"redis" json:"redis"`
	// Capacity tunes capacity planning.
	Capacity MaintenanceCapacity `yaml:"capacity" json:"capacity"`
}

// MaintenanceRedis tunes the keyspace analysis of `maintain redis`.
type MaintenanceRedis struct {
	// Separator splits key names into prefix segments (default ":").
	Separator string `yaml:"separator" json:"separator"`
	// PrefixDepth is how many leading segments make a prefix (default 2).
	PrefixDepth int `yaml:"prefix_depth" json:"prefix_depth"`
	// MemorySamples is MEMORY USAGE's SAMPLES: nested values sampled per key,
	// 0 for all (exact but slower on big keys; default 5, as Redis).
	MemorySamples int `yaml:"memory_samples" json:"memory_samples"`
	// MaxOpsPerSec caps the commands the analysis sends per second so that
	// production is not hurt; 0 means no cap (default 10000).
	MaxOpsPerSec int `yaml:"max_ops_per_sec" json:"max_ops_per_sec"`
	// ScanCount is SCAN's COUNT hint (default 1000).
	ScanCount int `yaml:"scan_count" json:"scan_count"`
	// TopKeys is how many of the biggest keys are kept per type (default 10).
	TopKeys int `yaml:"top_keys" json:"top_keys"`
}

// MaintenanceCapacity tunes capacity planning.
type MaintenanceCapacity struct {
	// DatabaseVolume is the size of the volume holding the database, e.g.
	// "100Gi"; empty: days until full are not computed.
	DatabaseVolume string `yaml:"database_volume" json:"database_volume"`
	// DaysLeft judges the days until a resource runs out; lower is worse
	// (default warn 90, crit 30).
	DaysLeft Limit `yaml:"days_left" json:"days_left"`
	// Window is how much history growth rates are computed from
	// (default 2160h, 90 days).
	Window time.Duration `yaml:"window" json:"window"`
}

// DefaultMaintenance returns the maintenance defaults.
func DefaultMaintenance() MaintenanceConfig {
	return MaintenanceConfig{
		DeadTuplePercent:    Limit{Warn: 10, Crit: 20},
		MinDeadTuples:       1000,
		LongQuery:           DurationLimit{Warn: time.Minute, Crit: 10 * time.Minute},
		IdleInTransaction:   DurationLimit{Warn: time.Minute, Crit: 10 * time.Minute},
		LockWait:            DurationLimit{Warn: 10 * time.Second, Crit: time.Minute},
		UnusedIndexMinSize:  "1MiB",
		BloatPercent:        Limit{Warn: 30, Crit: 60},
		StatementTimeout:    30 * time.Second,
		VacuumLockTimeout:   10 * time.Second,
		LogRetention:        7 * 24 * time.Hour,
		PreRestoreRetention: 7 * 24 * time.Hour,
		Redis: MaintenanceRedis{
			Separator: ":", PrefixDepth: 2, MemorySamples: 5, MaxOpsPerSec: 10000, ScanCount: 1000, TopKeys: 10,
		},
		Capacity: MaintenanceCapacity{
			DaysLeft: Limit{Warn: 90, Crit: 30},
			Window:   90 * 24 * time.Hour,
		},
	}
}

// clone copies the lists so that a clone shares nothing.
func (m MaintenanceConfig) clone() MaintenanceConfig {
	m.AllowedSuperusers = slices.Clone(m.AllowedSuperusers)
	m.LogArchives = slices.Clone(m.LogArchives)
	return m
}

// UnusedIndexMinBytes returns UnusedIndexMinSize in bytes (0 when it does
// not parse; Validate reports that).
func (m MaintenanceConfig) UnusedIndexMinBytes() int64 {
	n, _ := ParseSize(m.UnusedIndexMinSize)
	return n
}

// DatabaseVolumeBytes returns Capacity.DatabaseVolume in bytes, 0 when unset.
func (m MaintenanceConfig) DatabaseVolumeBytes() int64 {
	n, _ := ParseSize(m.Capacity.DatabaseVolume)
	return n
}

// sizeUnits are the suffixes ParseSize accepts, longest first.
var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	{"B", 1},
}

// ParseSize reads a size such as "512", "100MiB", "20Gi" or "1.5TB" as
// bytes. "" is 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	num, mult := s, 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return int64(v * mult), nil
}

// validateMaintenance checks the maintenance section.
func (c *Config) validateMaintenance() []error {
	m := c.Maintenance
	var errs []error
	one := func(path, reason, hint string) {
		errs = append(errs, c.fieldError([]string{path}, reason, hint, nil))
	}
	for _, l := range []struct {
		path  string
		limit Limit
		lower bool
		pct   bool
	}{
		{"maintenance.dead_tuple_percent", m.DeadTuplePercent, false, true},
		{"maintenance.bloat_percent", m.BloatPercent, false, true},
		{"maintenance.capacity.days_left", m.Capacity.DaysLeft, true, false},
	} {
		switch {
		case math.IsNaN(l.limit.Warn) || math.IsNaN(l.limit.Crit) || l.limit.Warn < 0 || l.limit.Crit < 0:
			one(l.path, "levels must be numbers >= 0", "e.g. {warn: 10, crit: 20}")
		case l.pct && (l.limit.Warn > 100 || l.limit.Crit > 100):
			one(l.path, "levels are percentages", "use values from 0 to 100")
		case l.lower && l.limit.Warn <= l.limit.Crit:
			one(l.path, fmt.Sprintf("warn (%g) must be above crit (%g): fewer days left is worse", l.limit.Warn, l.limit.Crit), "e.g. {warn: 90, crit: 30}")
		case !l.lower && l.limit.Warn >= l.limit.Crit:
			one(l.path, fmt.Sprintf("warn (%g) must be below crit (%g)", l.limit.Warn, l.limit.Crit), "swap them or raise crit")
		}
	}
	for _, d := range []struct {
		path  string
		limit DurationLimit
	}{
		{"maintenance.long_query", m.LongQuery},
		{"maintenance.idle_in_transaction", m.IdleInTransaction},
		{"maintenance.lock_wait", m.LockWait},
	} {
		if d.limit.Warn <= 0 || d.limit.Crit <= 0 || d.limit.Warn >= d.limit.Crit {
			one(d.path, fmt.Sprintf("needs 0 < warn < crit, got warn %v, crit %v", d.limit.Warn, d.limit.Crit), `e.g. {warn: 1m, crit: 10m}`)
		}
	}
	if m.MinDeadTuples < 0 {
		one("maintenance.min_dead_tuples", fmt.Sprintf("%d is negative", m.MinDeadTuples), "use 0 or more")
	}
	if _, err := ParseSize(m.UnusedIndexMinSize); err != nil {
		one("maintenance.unused_index_min_size", err.Error(), `e.g. "1MiB" or "0" for every unused index`)
	}
	if _, err := ParseSize(m.Capacity.DatabaseVolume); err != nil {
		one("maintenance.capacity.database_volume", err.Error(), `e.g. "100Gi", or leave it empty`)
	}
	for _, d := range []struct {
		path string
		v    time.Duration
		min  time.Duration
	}{
		{"maintenance.statement_timeout", m.StatementTimeout, 100 * time.Millisecond},
		{"maintenance.vacuum_lock_timeout", m.VacuumLockTimeout, 10 * time.Millisecond},
		{"maintenance.log_retention", m.LogRetention, time.Hour},
		{"maintenance.pre_restore_retention", m.PreRestoreRetention, time.Hour},
		{"maintenance.capacity.window", m.Capacity.Window, 24 * time.Hour},
	} {
		if d.v < d.min {
			one(d.path, fmt.Sprintf("%v is too short", d.v), fmt.Sprintf("use at least %v", d.min))
		}
	}
	for i, g := range m.LogArchives {
		path := fmt.Sprintf("maintenance.log_archives[%d]", i)
		if _, err := filepath.Match(g, ""); err != nil || g == "" {
			one(path, fmt.Sprintf("%q is not a glob pattern", g), `e.g. "/var/log/stockapp/*.gz"`)
			continue
		}
		if !filepath.IsAbs(expandHome(g)) {
			one(path, fmt.Sprintf("%q is relative", g), "give an absolute pattern: cron runs in another directory")
		}
		if dir := filepath.Dir(expandHome(g)); dir == "/" || strings.ContainsAny(dir, "*?[") {
			one(path, fmt.Sprintf("%q must name one directory without wildcards", g), `put the wildcard in the file name only, e.g. "/var/log/stockapp/*.gz"`)
		}
	}
	r := m.Redis
	if r.Separator == "" {
		one("maintenance.redis.separator", "is empty", `use the separator of your key names, e.g. ":"`)
	}
	for _, n := range []struct {
		path      string
		v, lo, hi int
	}{
		{"maintenance.redis.prefix_depth", r.PrefixDepth, 1, 10},
		{"maintenance.redis.memory_samples", r.MemorySamples, 0, 10000},
		{"maintenance.redis.max_ops_per_sec", r.MaxOpsPerSec, 0, 10_000_000},
		{"maintenance.redis.scan_count", r.ScanCount, 10, 100000},
		{"maintenance.redis.top_keys", r.TopKeys, 1, 1000},
	} {
		if n.v < n.lo || n.v > n.hi {
			one(n.path, fmt.Sprintf("%d is out of range", n.v), fmt.Sprintf("use %d to %d", n.lo, n.hi))
		}
	}
	return errs
}
