package maintain

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

func TestSlotFindings(t *testing.T) {
	cfg := config.Default()
	cfg.Postgres.WAL.Slot = "opsdeck"
	slot := func(name string, active bool, retained int64, status string) postgres.SlotUsage {
		return postgres.SlotUsage{Name: name, Type: "physical", Active: active, RestartLSN: "0/3000000", WALStatus: status, RetainedBytes: retained}
	}
	tests := []struct {
		name   string
		slots  []postgres.SlotUsage
		status health.Status
		parts  []string // in the summary, evidence and suggestion
	}{
		{"archive slot inactive", []postgres.SlotUsage{slot("opsdeck", false, 64<<20, "reserved")}, health.Crit,
			[]string{"inactive WAL archive slot keeps 64.0 MiB", "restart LSN: 0/3000000", "wal_status: reserved", "opsdeck wal stream", "SELECT pg_drop_replication_slot('opsdeck');"}},
		{"another inactive physical slot", []postgres.SlotUsage{slot("standby_1", false, 1<<20, "reserved")}, health.Crit,
			[]string{"inactive physical slot keeps 1.0 MiB", "SELECT pg_drop_replication_slot('standby_1');"}},
		{"active but keeping 5 GiB", []postgres.SlotUsage{slot("opsdeck", true, 5<<30, "extended")}, health.Crit, []string{"not acknowledging"}},
		{"active and 2 GiB", []postgres.SlotUsage{slot("opsdeck", true, 2<<30, "reserved")}, health.Warn, []string{"2.0 GiB"}},
		{"lost", []postgres.SlotUsage{slot("opsdeck", true, 0, "lost")}, health.Crit, []string{"lost WAL", "base backup"}},
		{"healthy", []postgres.SlotUsage{slot("opsdeck", true, 1<<20, "reserved")}, health.OK, []string{"1 replication slots, none inactive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := SlotFindings(tt.slots, nil, cfg)
			if len(fs) != 1 {
				t.Fatalf("findings %+v", fs)
			}
			f := fs[0]
			if f.Status != tt.status || f.Check != "replication slot" || f.Runbook != rbSlotRetaining {
				t.Errorf("got %s %s %s", f.Status, f.Check, f.Runbook)
			}
			all := f.Summary + "\n" + strings.Join(f.Evidence, "\n") + "\n" + f.Suggestion
			for _, p := range tt.parts {
				if !strings.Contains(all, p) {
					t.Errorf("lacks %q:\n%s", p, all)
				}
			}
		})
	}
	if fs := SlotFindings(nil, nil, cfg); len(fs) != 0 {
		t.Errorf("no slots: %+v", fs)
	}
	if fs := SlotFindings(nil, []postgres.MissingFact{{Reason: "denied"}}, cfg); len(fs) != 1 || !fs[0].NA {
		t.Errorf("missing: %+v", fs)
	}
}
