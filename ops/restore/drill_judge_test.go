package restore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
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

func TestJudgeSets(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	set := func(id string, ago time.Duration, verified bool, comps ...string) backup.Set {
		m := &backup.Manifest{ID: id, Start: now.Add(-ago)}
		for _, c := range comps {
			m.Components = append(m.Components, backup.Component{Name: c, Status: backup.StatusOK})
		}
		s := backup.Set{ID: id, Manifest: m}
		if verified {
			s.Verify = &backup.VerifyResult{ID: id, OK: true}
		}
		return s
	}
	sets := []backup.Set{ // newest first
		set("20260301_100000", 2*time.Hour, false, "database"),
		set("20260301_020000", 10*time.Hour, true, "database", "redis"),
		set("20260220_040000", 9*24*time.Hour, true, "config"),
		set("20260215_020000", 14*24*time.Hour, true, "database", "redis", "config"),
		set("20260214_010000", 15*24*time.Hour, true, "base"),
	}
	recs := []oprestore.DrillRecord{
		{Components: []string{"database"}, Set: "20260215_020000", Start: now.Add(-13 * 24 * time.Hour), Outcome: oprestore.Proven},
		{Components: []string{"database"}, Set: "20260301_020000", Start: now.Add(-time.Hour), Outcome: oprestore.Failing},
		{Kind: oprestore.PITR, Components: []string{oprestore.PITR}, Set: "20260214_010000", Start: now.Add(-2 * 24 * time.Hour), Outcome: oprestore.Proven},
	}
	rs := oprestore.JudgeSets(sets, recs, []string{"database", "redis", "config", "logs", "base"}, config.DefaultBackupEvery(), now)
	want := []struct {
		name   string
		status health.Status
		text   []string
	}{
		{"set/database", health.OK, []string{"verified 20260301_020000 (10h ago)", "proven 20260215_020000 (drill 2026-02-"}},
		{"set/redis", health.OK, []string{"verified 20260301_020000", "no set proven by a drill"}},
		{"set/config", health.Warn, []string{"verified 20260220_040000"}},
		{"set/logs", health.Warn, []string{"no verified logs set"}},
		// A weekly base backup, 15 days old; proven by a PITR drill.
		{"set/base", health.Warn, []string{"verified 20260214_010000", "proven 20260214_010000 (drill 2026-02-27)"}},
	}
	if len(rs) != len(want) {
		t.Fatalf("%d lines: %+v", len(rs), rs)
	}
	for i, w := range want {
		r := rs[i]
		if r.Name != w.name || r.Status != w.status {
			t.Errorf("line %d: %s %v, want %s %v (%s)", i, r.Name, r.Status, w.name, w.status, r.Value)
		}
		for _, s := range w.text {
			if !strings.Contains(r.Value, s) {
				t.Errorf("%s: %q lacks %q", r.Name, r.Value, s)
			}
		}
	}
	if !strings.Contains(rs[2].Threshold, "170h") {
		t.Errorf("config threshold %q", rs[2].Threshold)
	}
}
