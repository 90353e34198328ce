package backup

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// withBaseFacts gives a set's base component the facts of a backup that
// starts at lsn on timeline 1.
func withBaseFacts(s Set, lsn pgwal.LSN) Set {
	if c, ok := s.Manifest.Component(Base); ok {
		c.Base = &BaseFacts{SystemID: 7716520006782380785, Timeline: 1, StartLSN: lsn, StopLSN: lsn + 0x100}
	}
	return s
}

// Base backups are kept by count and age, never the newest verified one
// whatever its age; KeptBases lists what is kept for the WAL prune.
func TestPlanPruneBase(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	keep := config.BaseRetention{Count: 2, Days: 14}
	base := func(id string, verified bool, lsn pgwal.LSN, comps ...string) Set {
		if len(comps) == 0 {
			comps = []string{Base}
		}
		return withBaseFacts(mkSet(id, verified, comps...), lsn)
	}
	tests := []struct {
		name    string
		sets    []Set
		deletes []string
		kept    []string
	}{
		{"the newest count", []Set{
			base("20260531_020000", true, 0x5000000), base("20260525_020000", true, 0x4000000), base("20260515_020000", true, 0x3000000),
			base("20260501_020000", true, 0x2000000), base("20260401_020000", true, 0x1000000),
		}, []string{"20260515_020000", "20260501_020000", "20260401_020000"}, []string{"20260531_020000", "20260525_020000"}},
		{"every one younger than days", []Set{
			base("20260531_020000", true, 5), base("20260529_020000", true, 4), base("20260525_020000", true, 3),
			base("20260520_020000", true, 2), base("20260510_020000", true, 1),
		}, []string{"20260510_020000"}, []string{"20260531_020000", "20260529_020000", "20260525_020000", "20260520_020000"}},
		{"the newest verified whatever its age", []Set{
			base("20260531_020000", false, 4), base("20260530_020000", false, 3), base("20260401_020000", true, 2), base("20260301_020000", true, 1),
		}, []string{"20260301_020000"}, []string{"20260531_020000", "20260530_020000", "20260401_020000"}},
		{"a failed base counts for nothing", []Set{
			base("20260531_020000", true, 9, Database, Base+"!"), base("20260401_020000", true, 3), base("20260301_020000", true, 2),
			base("20260201_020000", true, 1),
		}, []string{"20260201_020000"}, []string{"20260401_020000", "20260301_020000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanPrune(tt.sets, nil, config.DefaultBackupRetention(), keep, now)
			var got []string
			for _, d := range plan.Deletes() {
				got = append(got, d.ID)
			}
			if strings.Join(got, ",") != strings.Join(tt.deletes, ",") {
				t.Errorf("deletes %v, want %v\n%+v", got, tt.deletes, plan.Decisions)
			}
			var kept []string
			for _, b := range plan.KeptBases() {
				kept = append(kept, b.ID)
				if b.Timeline != 1 || b.SystemID != 7716520006782380785 || b.Start == 0 {
					t.Errorf("kept base %+v", b)
				}
			}
			if strings.Join(kept, ",") != strings.Join(tt.kept, ",") {
				t.Errorf("kept bases %v, want %v", kept, tt.kept)
			}
		})
	}
	// No verified base set: every one is kept, with a warning.
	plan := PlanPrune([]Set{base("20260301_020000", false, 2), base("20260201_020000", false, 1)}, nil, config.DefaultBackupRetention(), keep, now)
	if len(plan.Deletes()) != 0 || !strings.Contains(strings.Join(plan.Warnings, ";"), "no verified base backup") {
		t.Errorf("unverified bases: %+v", plan)
	}
}
