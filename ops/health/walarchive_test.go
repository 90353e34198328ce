package health_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

func TestJudgeWALArchive(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	th := config.DefaultThresholds()
	on := config.WALConfig{Stream: true, Slot: "opsdeck"}
	off := config.WALConfig{Slot: "opsdeck"}
	fact := func(f func(s *postgres.ArchiveSlot)) *postgres.ArchivingFact {
		a := &postgres.ArchivingFact{Archiving: postgres.Archiving{WALLevel: "replica", MaxWALSenders: 10, MaxReplicationSlots: 10, CanReplicate: true}}
		a.Slot = postgres.ArchiveSlot{Exists: true, Physical: true, Active: true, RestartLSN: "0/3000000", WALStatus: "reserved",
			RetainedBytes: 48 << 20, LagBytes: 1024, FlushLag: 200 * time.Millisecond}
		if f != nil {
			f(&a.Slot)
		}
		return a
	}
	head := health.ArchiveHead{LastWrite: now.Add(-2 * time.Second), LastSegment: now.Add(-3 * time.Minute)}
	tests := []struct {
		name    string
		f       *postgres.ArchivingFact
		missing []postgres.MissingFact
		head    health.ArchiveHead
		w       config.WALConfig
		want    health.Status
		runbook string
		value   []string // parts the value must hold; none: no result
	}{
		{"not in use: nothing", fact(func(s *postgres.ArchiveSlot) { *s = postgres.ArchiveSlot{} }), nil, head, off, 0, "", nil},
		{"unreadable, not in use: nothing", nil, []postgres.MissingFact{{Reason: "denied"}}, head, off, 0, "", nil},
		{"unreadable while streaming is on", nil, []postgres.MissingFact{{Reason: "denied"}}, head, on, health.Unknown, "archive-lagging", []string{"n/a"}},
		{"streaming", fact(nil), nil, head, on, health.OK, "archive-lagging",
			[]string{"streaming (slot opsdeck)", "lag 200ms / 1.0 KiB", "keeps 48.0 MiB (reserved)", "last segment 3m ago"}},
		{"streaming by a unit, stream off", fact(nil), nil, head, off, health.OK, "archive-lagging", []string{"streaming (slot opsdeck)"}},
		{"lag past warn", fact(func(s *postgres.ArchiveSlot) { s.FlushLag = 90 * time.Second }), nil, head, on, health.Warn, "archive-lagging", []string{"lag 1m30s"}},
		{"retention past crit", fact(func(s *postgres.ArchiveSlot) { s.RetainedBytes = 5 << 30; s.WALStatus = "extended" }), nil, head, on, health.Crit, "slot-retaining-wal", []string{"keeps 5.0 GiB (extended)"}},
		{"inactive, recent write: at least warn", fact(func(s *postgres.ArchiveSlot) { s.Active = false; s.FlushLag = -1 }), nil, head, on, health.Warn, "archive-lagging",
			[]string{"NOT streaming (slot opsdeck inactive)", "lag 2s since last write"}},
		{"inactive, silent for 6m", fact(func(s *postgres.ArchiveSlot) { s.Active = false; s.FlushLag = -1 }), nil,
			health.ArchiveHead{LastWrite: now.Add(-6 * time.Minute), LastSegment: now.Add(-6 * time.Minute)}, on, health.Crit, "archive-lagging", []string{"lag 6m since"}},
		{"inactive, store unknown", fact(func(s *postgres.ArchiveSlot) { s.Active = false; s.FlushLag = -1 }), nil, health.ArchiveHead{Err: "no store"}, on, health.Warn, "archive-lagging",
			[]string{"lag ?", "last segment unknown"}},
		{"lost", fact(func(s *postgres.ArchiveSlot) { s.Active = false; s.WALStatus = "lost"; s.FlushLag = -1 }), nil, head, on, health.Crit, "slot-retaining-wal", []string{"(lost)"}},
		{"lag hidden from the role", fact(func(s *postgres.ArchiveSlot) { s.FlushLag = -1 }), nil, head, on, health.OK, "archive-lagging", []string{"lag ? / "}},
		{"no slot while streaming is on", fact(func(s *postgres.ArchiveSlot) { *s = postgres.ArchiveSlot{} }), nil, head, on, health.Warn, "archive-lagging", []string{`no slot "opsdeck"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.f != nil && tt.name == "lag hidden from the role" {
				tt.f.ConnectionHidden = true
			}
			rs := health.JudgeWALArchive(tt.f, tt.missing, tt.head, tt.w, th, now)
			if tt.value == nil {
				if len(rs) != 0 {
					t.Fatalf("want no result, got %+v", rs)
				}
				return
			}
			if len(rs) != 1 {
				t.Fatalf("want one result, got %+v", rs)
			}
			r := rs[0]
			if r.Name != health.WALArchiveCheck || r.Status != tt.want || r.Runbook != tt.runbook {
				t.Errorf("got %s %s runbook %s, want %s runbook %s (value %q)", r.Name, r.Status, r.Runbook, tt.want, tt.runbook, r.Value)
			}
			for _, part := range tt.value {
				if !strings.Contains(r.Value, part) {
					t.Errorf("value %q lacks %q", r.Value, part)
				}
			}
			if r.Status != health.OK && r.Hint == "" {
				t.Error("no hint for a problem")
			}
			if r.Threshold != "lag warn ≥1m crit ≥5m; slot warn ≥1.0 GiB crit ≥4.0 GiB" {
				t.Errorf("threshold %q", r.Threshold)
			}
		})
	}
}
