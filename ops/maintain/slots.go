package maintain

import (
	"fmt"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// rbSlotRetaining explains a slot that keeps WAL on the server.
const rbSlotRetaining = "backup-restore.md#slot-retaining-wal"

// slotCheck is the check name of the replication slot findings.
const slotCheck = "replication slot"

// SlotFindings judges the server's replication slots: an inactive
// physical slot that keeps WAL is critical (the WAL grows with every
// write until the disk is full), a lost one too; any slot keeping more
// than slot_retained_bytes is judged against it. It is pure. A server
// without slots gives no finding.
func SlotFindings(slots []postgres.SlotUsage, missing []postgres.MissingFact, cfg *config.Config) []Finding {
	var fs []Finding
	for _, m := range missing {
		fs = append(fs, na(AreaDB, slotCheck, "", m.Reason))
	}
	lim := cfg.Thresholds.SlotRetainedBytes
	threshold := fmt.Sprintf("threshold: slot_retained_bytes warn ≥%s crit ≥%s", progress.Bytes(int64(lim.Warn)), progress.Bytes(int64(lim.Crit)))
	ok := 0
	for _, s := range slots {
		st := health.Above(float64(s.RetainedBytes), lim)
		keeps := s.RestartLSN != ""
		inactivePhysical := !s.Active && s.Type == "physical" && keeps
		switch {
		case s.WALStatus == "lost" || inactivePhysical:
			st = health.Crit
		case !s.Active && keeps:
			st = max(st, health.Warn)
		}
		if st == health.OK {
			ok++
			continue
		}
		state := "active"
		if !s.Active {
			state = "inactive"
		}
		f := Finding{
			Area: AreaDB, Check: slotCheck, Status: st, Object: s.Name,
			Summary: fmt.Sprintf("%s %s slot keeps %s of WAL on the server", state, s.Type, progress.Bytes(s.RetainedBytes)),
			Evidence: []string{
				fmt.Sprintf("slot: %s (%s, %s)", s.Name, s.Type, state),
				"restart LSN: " + orNone(s.RestartLSN),
				"retained: " + progress.Bytes(s.RetainedBytes),
				"wal_status: " + orNone(s.WALStatus),
				threshold,
			},
			Why:     "the server keeps every WAL segment from the slot's restart LSN on until its consumer takes it: pg_wal grows with every write until the disk is full and PostgreSQL stops",
			Runbook: rbSlotRetaining,
		}
		drop := fmt.Sprintf("SELECT pg_drop_replication_slot('%s');", s.Name)
		switch {
		case s.WALStatus == "lost":
			f.Summary = fmt.Sprintf("%s %s slot has lost WAL the server removed", state, s.Type)
			f.Why = "the server removed WAL the slot still needed (max_slot_wal_keep_size): its consumer cannot continue without a gap"
			f.Suggestion = fmt.Sprintf("drop the slot (%s) and let its consumer create it again", drop)
			if s.Name == cfg.Postgres.WAL.Slot {
				f.Suggestion += "; the WAL archive has a hole there: take a base backup once the streamer (opsdeck wal stream) runs again"
			}
		case s.Active:
			f.Summary += ": its consumer is connected but not acknowledging"
			f.Suggestion = "look at the consumer: for opsdeck's WAL streamer, its log and the store (full, unreachable, slow); for a standby, its replay"
		case s.Name == cfg.Postgres.WAL.Slot:
			f.Summary = fmt.Sprintf("inactive WAL archive slot keeps %s of WAL on the server, and more with every write", progress.Bytes(s.RetainedBytes))
			f.Suggestion = fmt.Sprintf("start the WAL streamer: opsdeck wal stream (or opsdeck serve with postgres.wal.stream: true); if the archive is retired, drop the slot: %s", drop)
		default:
			f.Suggestion = fmt.Sprintf("start the standby or tool that uses slot %s; if it is gone for good, drop the slot: %s", s.Name, drop)
		}
		fs = append(fs, f)
	}
	if ok > 0 && ok == len(slots) {
		fs = append(fs, Finding{Area: AreaDB, Check: slotCheck, Status: health.OK, Runbook: rbSlotRetaining,
			Summary: fmt.Sprintf("%d replication slots, none inactive or past %s", ok, progress.Bytes(int64(lim.Warn)))})
	}
	return fs
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
