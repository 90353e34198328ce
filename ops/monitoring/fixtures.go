package monitoring

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// inputSeries is one synthetic series of a promtool unit test.
type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// fixture makes the synthetic series under which an alert's expression
// evaluates to a chosen value, and says which labels the alert then has.
type fixture struct {
	// series returns series whose expression value is v, sampled every
	// minute for at least the test's length.
	series func(v float64) []inputSeries
	// labels are the alert's labels from the series (besides alertname and
	// the rule's own labels).
	labels map[string]string
	// kind picks the test values: threshold (higher is worse), flag (fires
	// at 0, quiet at 1) or age (seconds since a timestamp).
	kind fixtureKind
	// cap bounds values that cannot exceed it (100 for a percentage); 0 if none.
	cap float64
}

type fixtureKind int

const (
	kindThreshold fixtureKind = iota
	kindFlag
	kindAge
)

// testMinutes is how long every synthetic series runs; alerts are evaluated
// at evalMinutes, after the longest `for` (10m) and rate window (5m).
const (
	testMinutes = 40
	evalMinutes = 30
)

// counter is a counter growing by perMinute every minute.
func counter(perMinute float64) string {
	return fmt.Sprintf("0+%sx%d", number(perMinute), testMinutes)
}

// gauge is a constant.
func gauge(v float64) string { return fmt.Sprintf("%s+0x%d", number(v), testMinutes) }

// seriesName writes a series selector with sorted labels.
func seriesName(metric string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}

// with returns labels plus extra.
func with(labels map[string]string, extra ...string) map[string]string {
	out := make(map[string]string, len(labels)+len(extra)/2)
	for k, v := range labels {
		out[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		out[extra[i]] = extra[i+1]
	}
	return out
}

var (
	apiPod    = map[string]string{"job": JobAPI, "instance": "10.0.1.7:8000", "pod": "api-7d9f8c6b5-2xk4p", "namespace": "stockapp"}
	node1     = map[string]string{"job": JobNode, "instance": "node-01"}
	pgExp     = map[string]string{"job": JobPostgres, "instance": "10.0.2.4:9187"}
	redisExp  = map[string]string{"job": JobRedis, "instance": "10.0.2.5:9121"}
	rootFS    = with(node1, "device", "/dev/nvme0n1p1", "fstype", "ext4", "mountpoint", "/")
	backupDB  = with(node1, "component", "database")
	walSlot   = with(node1, "slot", "opsdeck")
	pgSlot    = with(pgExp, "slot_name", "opsdeck")
	tmpfsNode = with(node1, "device", "tmpfs", "fstype", "tmpfs", "mountpoint", "/run")
)

var errorRateFixture = fixture{
	kind: kindThreshold, cap: 100, labels: map[string]string{"job": JobAPI},
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("http_requests_total", with(apiPod, "code", "500", "handler", "/api/quotes")), counter(v)},
			{seriesName("http_requests_total", with(apiPod, "code", "200", "handler", "/api/quotes")), counter(100 - v)},
		}
	},
}

// latencyFixture puts every request in one bucket (0, v/0.95], so that
// the interpolated 95th percentile is v.
var latencyFixture = fixture{
	kind: kindThreshold, labels: map[string]string{"job": JobAPI},
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("http_request_duration_seconds_bucket", with(apiPod, "le", number(v/0.95))), counter(60)},
			{seriesName("http_request_duration_seconds_bucket", with(apiPod, "le", "+Inf")), counter(60)},
		}
	},
}

func upFixture(metric, job, instance string) fixture {
	labels := map[string]string{"job": job, "instance": instance}
	return fixture{
		kind: kindFlag, labels: labels,
		series: func(v float64) []inputSeries { return []inputSeries{{seriesName(metric, labels), gauge(v)}} },
	}
}

var memoryFixture = fixture{
	kind: kindThreshold, cap: 100, labels: node1,
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("node_memory_MemTotal_bytes", node1), gauge(1000)},
			{seriesName("node_memory_MemAvailable_bytes", node1), gauge(1000 - 10*v)},
		}
	},
}

// cpuFixture: one CPU whose idle counter grows by (1 - v/100) a second.
var cpuFixture = fixture{
	kind: kindThreshold, cap: 100, labels: map[string]string{"instance": node1["instance"]},
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("node_cpu_seconds_total", with(node1, "cpu", "0", "mode", "idle")), counter(60 * (1 - v/100))},
			{seriesName("node_cpu_seconds_total", with(node1, "cpu", "0", "mode", "user")), counter(60 * v / 100)},
		}
	},
}

// diskFixture also has a full tmpfs, which must never alert.
var diskFixture = fixture{
	kind: kindThreshold, cap: 100, labels: rootFS,
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("node_filesystem_size_bytes", rootFS), gauge(1000)},
			{seriesName("node_filesystem_avail_bytes", rootFS), gauge(1000 - 10*v)},
			{seriesName("node_filesystem_size_bytes", tmpfsNode), gauge(1000)},
			{seriesName("node_filesystem_avail_bytes", tmpfsNode), gauge(0)},
		}
	},
}

var connectionsFixture = fixture{
	kind: kindThreshold, cap: 100, labels: map[string]string{"instance": pgExp["instance"]},
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("pg_stat_activity_count", with(pgExp, "datname", "stockdb", "state", "active")), gauge(v / 2)},
			{seriesName("pg_stat_activity_count", with(pgExp, "datname", "stockdb", "state", "idle")), gauge(v / 2)},
			{seriesName("pg_settings_max_connections", pgExp), gauge(100)},
		}
	},
}

var redisMemoryFixture = fixture{
	kind: kindThreshold, cap: 100, labels: redisExp,
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("redis_memory_max_bytes", redisExp), gauge(1000)},
			{seriesName("redis_memory_used_bytes", redisExp), gauge(10 * v)},
		}
	},
}

// backupStaleFixture: the last success happened v seconds before the
// evaluation time.
var backupStaleFixture = fixture{
	kind: kindAge, labels: backupDB,
	series: func(age float64) []inputSeries {
		at := float64(evalMinutes*60) - age
		return []inputSeries{{seriesName("opsdeck_backup_last_success_timestamp_seconds", backupDB), gauge(at)}}
	},
}

// drillStaleFixture: the last successful drill ended v seconds before the
// evaluation time.
var drillStaleFixture = fixture{
	kind: kindAge, labels: backupDB,
	series: func(age float64) []inputSeries {
		at := float64(evalMinutes*60) - age
		return []inputSeries{{seriesName("opsdeck_drill_last_success_timestamp_seconds", backupDB), gauge(at)}}
	},
}

var backupFailedFixture = fixture{
	kind: kindFlag, labels: backupDB,
	series: func(v float64) []inputSeries {
		return []inputSeries{{seriesName("opsdeck_backup_last_run_success", backupDB), gauge(v)}}
	},
}

// walLagFixture: the streamer wrote a lag of v-10 seconds 10 seconds
// before each sample (its update time follows the clock), so the
// expression is v at every evaluation, the whole `for` long.
var walLagFixture = fixture{
	kind: kindThreshold, labels: walSlot,
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("opsdeck_wal_archive_lag_seconds", walSlot), gauge(v - 10)},
			{seriesName("opsdeck_wal_updated_timestamp_seconds", walSlot), fmt.Sprintf("-10+60x%d", testMinutes)},
		}
	},
}

// slotRetentionFixture has a second slot that keeps nothing and must
// never alert.
var slotRetentionFixture = fixture{
	kind: kindThreshold, labels: pgSlot,
	series: func(v float64) []inputSeries {
		return []inputSeries{
			{seriesName("pg_replication_slots_pg_wal_lsn_diff", pgSlot), gauge(v)},
			{seriesName("pg_replication_slots_pg_wal_lsn_diff", with(pgExp, "slot_name", "standby_1")), gauge(0)},
		}
	},
}

// humanize formats a value as Prometheus's humanize template function
// does: four significant digits with an SI prefix.
func humanize(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4g", v)
	}
	prefix := ""
	if math.Abs(v) >= 1 {
		for _, p := range []string{"k", "M", "G", "T", "P", "E", "Z", "Y"} {
			if math.Abs(v) < 1000 {
				break
			}
			prefix = p
			v /= 1000
		}
		return fmt.Sprintf("%.4g%s", v, prefix)
	}
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(v) >= 1 {
			break
		}
		prefix = p
		v *= 1000
	}
	return fmt.Sprintf("%.4g%s", v, prefix)
}
