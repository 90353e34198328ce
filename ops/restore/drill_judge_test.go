package restore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

func TestJudgeDrills(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := func(ago time.Duration, outcome string, rto time.Duration) oprestore.DrillRecord {
		return oprestore.DrillRecord{Kind: "database", Components: []string{"database"}, Start: now.Add(-ago), Outcome: outcome, RTO: rto}
	}
	cfg := config.DefaultDrill()
	cfg.RTOTarget = 5 * time.Minute
	for _, tc := range []struct {
		name string
		recs []oprestore.DrillRecord
		want health.Status
		text string
	}{
		{"never", nil, health.Warn, "never proven"},
		{"fresh", []oprestore.DrillRecord{rec(24*time.Hour, oprestore.Proven, 130*time.Second)}, health.OK, "RTO 2m10s"},
		{"older than max_age", []oprestore.DrillRecord{rec(36*24*time.Hour, oprestore.Proven, time.Minute)}, health.Warn, "36d ago"},
		{"last failed", []oprestore.DrillRecord{rec(48*time.Hour, oprestore.Proven, time.Minute), rec(time.Hour, oprestore.Failing, time.Minute)}, health.Warn, "failed"},
		{"slow", []oprestore.DrillRecord{rec(time.Hour, oprestore.Proven, 6*time.Minute)}, health.Warn, "RTO 6m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := oprestore.JudgeDrills(tc.recs, []string{"database"}, cfg, now)
			if len(rs) != 1 || rs[0].Status != tc.want || !strings.Contains(rs[0].Value, tc.text) || rs[0].Name != "drill/database" {
				t.Fatalf("%+v", rs)
			}
		})
	}
}

func TestRenderDrillMetrics(t *testing.T) {
	end := time.Unix(1772366400, 0)
	recs := []oprestore.DrillRecord{
		{Components: []string{"database"}, Start: end.Add(-time.Minute), End: end, Outcome: oprestore.Proven, RTO: 130 * time.Second},
		{Components: []string{"database"}, Start: end.Add(time.Hour), End: end.Add(2 * time.Hour), Outcome: oprestore.Failing},
	}
	got := string(oprestore.RenderDrillMetrics(recs))
	for _, want := range []string{
		`opsdeck_drill_last_success_timestamp_seconds{component="database"} 1772366400`,
		`opsdeck_drill_rto_seconds{component="database"} 130.000`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
