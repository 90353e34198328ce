package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"512", 512, false},
		{"512B", 512, false},
		{"1KiB", 1024, false},
		{"1MiB", 1 << 20, false},
		{"20Gi", 20 << 30, false},
		{"1.5TB", 1500e9, false},
		{"100 MB", 100e6, false},
		{"2k", 2000, false},
		{"-1Gi", 0, true},
		{"lots", 0, true},
		{"10XB", 0, true},
		{"1e30TiB", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, bad %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestValidateMaintenance(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *MaintenanceConfig)
		want   []string
	}{
		{"defaults", func(*MaintenanceConfig) {}, nil},
		{"archives and volume", func(m *MaintenanceConfig) {
			m.LogArchives = []string{"/var/log/stockapp/*.gz", "~/logs/app-*.log.zst"}
			m.Capacity.DatabaseVolume = "100Gi"
			m.AllowedSuperusers = []string{"dba"}
		}, nil},
		{"dead tuples swapped", func(m *MaintenanceConfig) { m.DeadTuplePercent = Limit{Warn: 20, Crit: 10} }, []string{"maintenance.dead_tuple_percent: warn (20) must be below crit (10)"}},
		{"dead tuples not percent", func(m *MaintenanceConfig) { m.DeadTuplePercent = Limit{Warn: 10, Crit: 200} }, []string{"maintenance.dead_tuple_percent: levels are percentages"}},
		{"days left higher is better", func(m *MaintenanceConfig) { m.Capacity.DaysLeft = Limit{Warn: 30, Crit: 90} }, []string{"maintenance.capacity.days_left: warn (30) must be above crit (90)"}},
		{"long query", func(m *MaintenanceConfig) { m.LongQuery.Warn = 0 }, []string{"maintenance.long_query: needs 0 < warn < crit"}},
		{"index size", func(m *MaintenanceConfig) { m.UnusedIndexMinSize = "big" }, []string{`maintenance.unused_index_min_size: "big" is not a size`}},
		{"volume", func(m *MaintenanceConfig) { m.Capacity.DatabaseVolume = "-3G" }, []string{"maintenance.capacity.database_volume"}},
		{"retention", func(m *MaintenanceConfig) { m.LogRetention = time.Minute }, []string{"maintenance.log_retention: 1m0s is too short"}},
		{"relative archive", func(m *MaintenanceConfig) { m.LogArchives = []string{"logs/*.gz"} }, []string{`maintenance.log_archives[0]: "logs/*.gz" is relative`}},
		{"wildcard directory", func(m *MaintenanceConfig) { m.LogArchives = []string{"/var/log/*/app.gz"} }, []string{"must name one directory without wildcards"}},
		{"root directory", func(m *MaintenanceConfig) { m.LogArchives = []string{"/*.gz"} }, []string{"must name one directory without wildcards"}},
		{"bad glob", func(m *MaintenanceConfig) { m.LogArchives = []string{"/var/log/[.gz"} }, []string{"is not a glob pattern"}},
		{"separator", func(m *MaintenanceConfig) { m.Redis.Separator = "" }, []string{"maintenance.redis.separator: is empty"}},
		{"scan count", func(m *MaintenanceConfig) { m.Redis.ScanCount = 1 }, []string{"maintenance.redis.scan_count: 1 is out of range"}},
		{"ops cap", func(m *MaintenanceConfig) { m.Redis.MaxOpsPerSec = -5 }, []string{"maintenance.redis.max_ops_per_sec: -5 is out of range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c.Maintenance)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want %q", tc.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a FieldError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMaintenanceFromFile(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(`
maintenance:
  dead_tuple_percent: {warn: 5, crit: 50}
  log_archives: [/var/log/stockapp/*.gz]
  redis: {separator: "|", max_ops_per_sec: 0}
  capacity: {database_volume: 50Gi}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Maintenance
	if m.DeadTuplePercent.Warn != 5 || m.Redis.Separator != "|" || m.Redis.MaxOpsPerSec != 0 || m.Redis.ScanCount != 1000 {
		t.Errorf("maintenance = %+v", m)
	}
	if m.DatabaseVolumeBytes() != 50<<30 || m.UnusedIndexMinBytes() != 1<<20 {
		t.Errorf("sizes = %d, %d", m.DatabaseVolumeBytes(), m.UnusedIndexMinBytes())
	}
	if _, err := Parse("test.yaml", []byte("maintenance:\n  vacum_lock_timeout: 5s\n")); err == nil || !strings.Contains(err.Error(), "vacum_lock_timeout") {
		t.Errorf("unknown key not reported: %v", err)
	}
}
