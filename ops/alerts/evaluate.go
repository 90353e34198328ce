package alerts

import (
	"fmt"
	"strings"

	"github.com/opsdeck/opsdeck/ops/health"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
)

// referenceNames are the reference system's alert names for the series
// its rules cover; other series get a name made from their ID.
var referenceNames = map[string]string{
	opmetrics.PGConnections:       "PostgreSQLHighConnections",
	opmetrics.RedisMemory:         "RedisHighMemoryUsage",
	opmetrics.KubeCPU:             "HighCPUUsage",
	opmetrics.KubeMemory:          "HighMemoryUsage",
	"prometheus.api_error_rate":   "HighAPIErrorRate",
	"prometheus.api_p95":          "HighAPIResponseTime",
	"prometheus.api_request_rate": "HighAPIRequestRate",
}

// downNames are the alerts for a source that cannot be sampled.
var downNames = map[string]string{
	"postgres":   "PostgreSQLDown",
	"redis":      "RedisDown",
	"kubernetes": "KubernetesUnreachable",
	"prometheus": "PrometheusUnreachable",
	"business":   "BusinessMetricsFailing",
}

// AlertName returns the alert name of a series: the reference name when
// there is one, else the ID in CamelCase ("postgres.cache_hit" →
// "PostgresCacheHit").
func AlertName(id string) string {
	if n, ok := referenceNames[id]; ok {
		return n
	}
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// Evaluate applies the threshold rules to a metrics snapshot, as
// Alertmanager would with rules generated from the same thresholds: every
// series at warn or crit is an alert (warning or critical, since the state
// began), and every source that cannot be sampled is a critical one.
func Evaluate(snap opmetrics.Snapshot) []Alert {
	var out []Alert
	for _, src := range snap.Sources {
		name, ok := downNames[src.Name]
		if !ok || src.OK || src.Runs == 0 {
			continue
		}
		since := src.LastOK
		if since.IsZero() {
			since = snap.At
		}
		out = append(out, Alert{
			Name: name, Severity: "critical", Summary: src.Err, Since: since, State: StateFiring, Source: SourceOpsdeck,
			Labels: map[string]string{"alertname": name, "severity": "critical", "source": src.Name},
		})
	}
	for _, s := range snap.Series {
		if s.State != health.Warn && s.State != health.Crit {
			continue
		}
		sev, level := "warning", s.Threshold.Limit.Warn
		if s.State == health.Crit {
			sev, level = "critical", s.Threshold.Limit.Crit
		}
		op := "≥"
		if s.Threshold.Lower {
			op = "≤"
			if s.State == health.Warn {
				op = "<"
			}
		}
		summary := fmt.Sprintf("%s %s %s %s", s.Title, opmetrics.FormatValue(s.Value, s.Unit), op, opmetrics.FormatValue(level, s.Unit))
		if s.Detail != "" {
			summary += " (" + s.Detail + ")"
		}
		name := AlertName(s.ID)
		out = append(out, Alert{
			Name: name, Severity: sev, Summary: summary, Since: s.Since, State: StateFiring, Source: SourceOpsdeck,
			Labels: map[string]string{"alertname": name, "severity": sev, "source": s.Source, "series": s.ID, "threshold": s.Threshold.Name},
		})
	}
	Sort(out)
	return out
}
