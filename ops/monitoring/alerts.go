package monitoring

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/runbook"
)

// Components an alert belongs to; each maps to a team in monitoring.teams.
const (
	ComponentAPI            = "api"
	ComponentDatabase       = "database"
	ComponentCache          = "cache"
	ComponentInfrastructure = "infrastructure"
	ComponentBackups        = "backups"
)

// RunbookFile is the runbook that explains every alert, one section each.
const RunbookFile = "monitoring.md"

// Level is one severity of an alert and the value past which it fires.
type Level struct {
	Severity  string
	Threshold float64
}

// Alert is one alert (one alertname), at one or two severities. Both
// severities share the name, so Alertmanager's inhibition lets the
// critical one mute the warning on the same instance.
type Alert struct {
	Name      string
	Component string
	// Levels in the order the rules are written: critical first.
	Levels []Level
	For    time.Duration
	// Expr is the expression for a threshold; %s in it is replaced.
	Expr string
	// Summary and Description are annotation templates; %s in them is the
	// level's threshold as written by Unit.
	Summary, Description string
	// Unit formats a threshold for people: "%", "s", "B" (bytes, binary
	// prefixes) or "" (a plain number).
	Unit string
	// fixture makes synthetic series for promtool tests.
	fixture fixture
}

// Anchor is the alert's section in the monitoring runbook.
func (a Alert) Anchor() string { return runbook.Slug(a.Name) }

// RunbookURL is the alert's runbook_url annotation.
func (a Alert) RunbookURL(base string) string {
	return strings.TrimRight(base, "/") + "/" + RunbookFile + "#" + a.Anchor()
}

// exprAt returns the expression firing past the threshold.
func (a Alert) exprAt(threshold float64) string {
	if !strings.Contains(a.Expr, "%s") {
		return a.Expr
	}
	return strings.ReplaceAll(a.Expr, "%s", number(threshold))
}

// shown writes a threshold for people: "5%", "2s", "26h".
func (a Alert) shown(threshold float64) string {
	switch a.Unit {
	case "%":
		return number(threshold) + "%"
	case "s":
		return shortDuration(time.Duration(threshold * float64(time.Second)))
	case "B":
		return binaryBytes(threshold)
	}
	return number(threshold)
}

// binaryBytes writes a byte count with a binary prefix when it is a whole
// number of them: "1GiB", "512MiB", "1500B".
func binaryBytes(v float64) string {
	for _, u := range []struct {
		name string
		size float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.size && math.Mod(v, u.size) == 0 {
			return number(v/u.size) + u.name
		}
	}
	return number(v) + "B"
}

// number writes a float the shortest way: 5, 2.5, 0.25.
func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// selectors used by the expressions; the jobs are the scrape config's.
const (
	apiJob   = `job="` + JobAPI + `"`
	pgJob    = `job="` + JobPostgres + `"`
	redisJob = `job="` + JobRedis + `"`
	nodeJob  = `job="` + JobNode + `"`
	// realFS leaves out the pseudo filesystems of containers.
	realFS = `fstype!~"tmpfs|overlay|squashfs|nsfs|ramfs"`
)

// Alerts returns every alert opsdeck generates, at the levels of th and
// the monitoring section of the config. The reference set — critical:
// HighAPIErrorRate, PostgreSQLDown, RedisDown, HighMemoryUsage; warning:
// HighAPIResponseTime, PostgreSQLHighConnections, RedisHighMemoryUsage,
// HighCPUUsage — each also at its other level, plus HighDiskUsage and the
// backup alerts BackupStale and BackupFailed, DrillStale (no successful
// restore drill within drill.max_age), and the WAL archive's
// PostgreSQLWALArchiveLag and PostgreSQLReplicationSlotRetention.
func Alerts(th config.Thresholds, m config.MonitoringConfig, d config.DrillConfig) []Alert {
	both := func(l config.Limit) []Level {
		return []Level{{"critical", l.Crit}, {"warning", l.Warn}}
	}
	secs := func(l config.DurationLimit) config.Limit {
		return config.Limit{Warn: l.Warn.Seconds(), Crit: l.Crit.Seconds()}
	}
	return []Alert{
		{
			Name: "HighAPIErrorRate", Component: ComponentAPI, Levels: both(th.APIErrorRatePercent), For: 5 * time.Minute, Unit: "%",
			Expr:        `100 * sum by (job) (rate(http_requests_total{` + apiJob + `,code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total{` + apiJob + `}[5m])) > %s`,
			Summary:     "API error rate above %s",
			Description: "{{ $value | humanize }}% of API requests answered 5xx over 5 minutes (threshold %s).",
			fixture:     errorRateFixture,
		},
		{
			Name: "PostgreSQLDown", Component: ComponentDatabase, Levels: []Level{{"critical", 0}}, For: time.Minute,
			Expr:        `pg_up{` + pgJob + `} == 0`,
			Summary:     "PostgreSQL is down",
			Description: "The PostgreSQL exporter {{ $labels.instance }} cannot reach the database.",
			fixture:     upFixture("pg_up", JobPostgres, "postgres-exporter:9187"),
		},
		{
			Name: "RedisDown", Component: ComponentCache, Levels: []Level{{"critical", 0}}, For: time.Minute,
			Expr:        `redis_up{` + redisJob + `} == 0`,
			Summary:     "Redis is down",
			Description: "The Redis exporter {{ $labels.instance }} cannot reach Redis.",
			fixture:     upFixture("redis_up", JobRedis, "redis-exporter:9121"),
		},
		{
			Name: "HighMemoryUsage", Component: ComponentInfrastructure, Levels: both(th.MemoryPercent), For: 5 * time.Minute, Unit: "%",
			Expr:        `100 * (1 - node_memory_MemAvailable_bytes{` + nodeJob + `} / node_memory_MemTotal_bytes{` + nodeJob + `}) > %s`,
			Summary:     "Memory use on {{ $labels.instance }} above %s",
			Description: "Node {{ $labels.instance }} uses {{ $value | humanize }}% of its memory (threshold %s).",
			fixture:     memoryFixture,
		},
		{
			Name: "HighAPIResponseTime", Component: ComponentAPI, Levels: both(secs(th.APIP95)), For: 5 * time.Minute, Unit: "s",
			Expr:        `histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket{` + apiJob + `}[5m]))) > %s`,
			Summary:     "API P95 response time above %s",
			Description: "The API's 95th percentile response time is {{ $value | humanize }}s over 5 minutes (threshold %s).",
			fixture:     latencyFixture,
		},
		{
			Name: "PostgreSQLHighConnections", Component: ComponentDatabase, Levels: both(th.DBConnectionsPercent), For: 5 * time.Minute, Unit: "%",
			Expr:        `100 * sum by (instance) (pg_stat_activity_count{` + pgJob + `}) / on (instance) max by (instance) (pg_settings_max_connections{` + pgJob + `}) > %s`,
			Summary:     "PostgreSQL connections above %s of max_connections",
			Description: "{{ $labels.instance }} uses {{ $value | humanize }}% of max_connections (threshold %s).",
			fixture:     connectionsFixture,
		},
		{
			Name: "RedisHighMemoryUsage", Component: ComponentCache, Levels: both(th.RedisMemoryPercent), For: 5 * time.Minute, Unit: "%",
			Expr:        `100 * redis_memory_used_bytes{` + redisJob + `} / redis_memory_max_bytes{` + redisJob + `} > %s and redis_memory_max_bytes{` + redisJob + `} > 0`,
			Summary:     "Redis memory above %s of maxmemory",
			Description: "{{ $labels.instance }} uses {{ $value | humanize }}% of maxmemory (threshold %s).",
			fixture:     redisMemoryFixture,
		},
		{
			Name: "HighCPUUsage", Component: ComponentInfrastructure, Levels: both(th.CPUPercent), For: 10 * time.Minute, Unit: "%",
			Expr:        `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{` + nodeJob + `,mode="idle"}[5m]))) > %s`,
			Summary:     "CPU use on {{ $labels.instance }} above %s",
			Description: "Node {{ $labels.instance }} is {{ $value | humanize }}% busy over 5 minutes (threshold %s).",
			fixture:     cpuFixture,
		},
		{
			Name: "HighDiskUsage", Component: ComponentInfrastructure, Levels: both(th.DiskPercent), For: 5 * time.Minute, Unit: "%",
			Expr:        `100 * (1 - node_filesystem_avail_bytes{` + nodeJob + `,` + realFS + `} / node_filesystem_size_bytes{` + nodeJob + `,` + realFS + `}) > %s`,
			Summary:     "Disk {{ $labels.mountpoint }} on {{ $labels.instance }} above %s",
			Description: "{{ $labels.mountpoint }} on {{ $labels.instance }} is {{ $value | humanize }}% full (threshold %s).",
			fixture:     diskFixture,
		},
		{
			Name: "BackupStale", Component: ComponentBackups, Levels: []Level{{"critical", m.BackupMaxAge.Seconds()}}, For: 5 * time.Minute, Unit: "s",
			Expr:        `time() - opsdeck_backup_last_success_timestamp_seconds > %s`,
			Summary:     "No good {{ $labels.component }} backup for %s",
			Description: "The last successful {{ $labels.component }} backup is older than %s (monitoring.backup_max_age).",
			fixture:     backupStaleFixture,
		},
		{
			Name: "DrillStale", Component: ComponentBackups, Levels: []Level{{"warning", d.MaxAge.Seconds()}}, For: 5 * time.Minute, Unit: "s",
			Expr:        `time() - opsdeck_drill_last_success_timestamp_seconds > %s`,
			Summary:     "No successful {{ $labels.component }} restore drill for %s",
			Description: "The newest successful {{ $labels.component }} restore drill ended more than %s ago (drill.max_age): nobody has proven lately that the backups restore.",
			fixture:     drillStaleFixture,
		},
		{
			Name: "PostgreSQLWALArchiveLag", Component: ComponentBackups, Levels: both(secs(th.WALArchiveLag)), For: time.Minute, Unit: "s",
			// The lag as the streamer last wrote it, plus the time since it
			// wrote: a streamer that stopped (or a bastion that is gone)
			// lets the figure grow instead of freezing it.
			Expr:        `opsdeck_wal_archive_lag_seconds + (time() - opsdeck_wal_updated_timestamp_seconds) > %s`,
			Summary:     "The WAL archive of slot {{ $labels.slot }} is more than %s behind",
			Description: "The WAL archive streamed through slot {{ $labels.slot }} on {{ $labels.instance }} is {{ $value | humanize }}s behind the server (threshold %s): the writes since are only on the database server.",
			fixture:     walLagFixture,
		},
		{
			Name: "PostgreSQLReplicationSlotRetention", Component: ComponentDatabase, Levels: both(th.SlotRetainedBytes), For: 5 * time.Minute, Unit: "B",
			Expr:        `pg_replication_slots_pg_wal_lsn_diff{` + pgJob + `} > %s`,
			Summary:     "Replication slot {{ $labels.slot_name }} keeps more than %s of WAL",
			Description: "Slot {{ $labels.slot_name }} on {{ $labels.instance }} keeps {{ $value | humanize }}B of WAL on the server (threshold %s): nobody consumes it, and pg_wal grows until the disk is full.",
			fixture:     slotRetentionFixture,
		},
		{
			Name: "BackupFailed", Component: ComponentBackups, Levels: []Level{{"warning", 0}}, For: time.Minute,
			Expr:        `opsdeck_backup_last_run_success == 0`,
			Summary:     "The last {{ $labels.component }} backup failed",
			Description: "The last {{ $labels.component }} backup run failed; the previous good backup is getting older.",
			fixture:     backupFailedFixture,
		},
	}
}

// team returns the team label of a component.
func team(t config.MonitoringTeams, component string) string {
	switch component {
	case ComponentAPI:
		return t.API
	case ComponentDatabase:
		return t.Database
	case ComponentCache:
		return t.Cache
	case ComponentBackups:
		return t.Backups
	}
	return t.Infrastructure
}

// annotate fills a %s template with the level's threshold.
func (a Alert) annotate(tmpl string, threshold float64) string {
	if !strings.Contains(tmpl, "%s") {
		return tmpl
	}
	return fmt.Sprintf(escapePercent(tmpl), a.shown(threshold))
}

// escapePercent doubles every % that is not the %s placeholder, so the
// template can go through Sprintf.
func escapePercent(tmpl string) string {
	const mark = "\x00"
	s := strings.ReplaceAll(tmpl, "%s", mark)
	s = strings.ReplaceAll(s, "%", "%%")
	return strings.ReplaceAll(s, mark, "%s")
}

// shortDuration writes a duration without zero minutes and seconds:
// "26h", "2s", "1h30m", "500ms".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
