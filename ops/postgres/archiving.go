package postgres

import (
	"context"
	"fmt"
	"time"
)

// Archiving is what the server says about the WAL archive's needs and its
// slot: the settings streaming needs, what is in use, and the slot's
// state with the WAL it keeps. Read with a plain connection (postgres.dsn).
type Archiving struct {
	WALLevel            string
	MaxWALSenders       int
	SendersInUse        int
	MaxReplicationSlots int
	SlotsInUse          int
	// CanReplicate: the role is superuser or has REPLICATION.
	CanReplicate bool
	InRecovery   bool
	// CurrentLSN is the server's WAL position now (the replay position
	// on a standby).
	CurrentLSN string

	Slot ArchiveSlot
}

// ArchiveSlot is the streamer's replication slot as the server sees it.
type ArchiveSlot struct {
	Exists   bool
	Physical bool
	Active   bool
	// RestartLSN is the oldest WAL kept for the slot ("" before any).
	RestartLSN string
	// WALStatus: reserved, extended, unreserved or lost.
	WALStatus string
	// RetainedBytes is the WAL the slot keeps: current position − restart.
	RetainedBytes int64
	// The streamer's connection, when active (pg_stat_replication):
	SentLSN, FlushLSN string
	// FlushLag is the server's own measure of the time between its WAL
	// flush and the streamer's report that the bytes are durable; -1
	// when unknown. ReplyTime is the streamer's last report.
	FlushLag  time.Duration
	ReplyTime time.Time
	// LagBytes is how far the streamer's durable position is behind the
	// server: current − flush (current − restart when no streamer is
	// connected).
	LagBytes int64
}

// ReadArchiving reads the settings and slot, in one read-only statement.
func ReadArchiving(ctx context.Context, q Querier, slot string) (Archiving, error) {
	var a Archiving
	var restart, sent, flush, status *string
	var lagSec *float64
	var reply *time.Time
	var active, exists, physical *bool
	var retained, lag *int64
	err := q.QueryRow(ctx, `
WITH pos AS (
  SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn
), s AS (
  SELECT * FROM pg_replication_slots WHERE slot_name = $1
), r AS (
  SELECT r.* FROM pg_stat_replication r JOIN s ON s.active_pid = r.pid
)
SELECT current_setting('wal_level'),
       current_setting('max_wal_senders')::int,
       (SELECT count(*) FROM pg_stat_replication)::int,
       current_setting('max_replication_slots')::int,
       (SELECT count(*) FROM pg_replication_slots)::int,
       (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user),
       pg_is_in_recovery(),
       (SELECT lsn::text FROM pos),
       (SELECT true FROM s), (SELECT slot_type = 'physical' FROM s), (SELECT active FROM s),
       (SELECT restart_lsn::text FROM s), (SELECT wal_status FROM s),
       (SELECT (pos.lsn - s.restart_lsn)::bigint FROM s, pos),
       (SELECT sent_lsn::text FROM r), (SELECT flush_lsn::text FROM r),
       (SELECT extract(epoch FROM flush_lag)::float8 FROM r), (SELECT reply_time FROM r),
       (SELECT (pos.lsn - coalesce(r.flush_lsn, s.restart_lsn))::bigint FROM pos, s LEFT JOIN r ON true)
`, slot).Scan(&a.WALLevel, &a.MaxWALSenders, &a.SendersInUse, &a.MaxReplicationSlots, &a.SlotsInUse,
		&a.CanReplicate, &a.InRecovery, &a.CurrentLSN,
		&exists, &physical, &active, &restart, &status, &retained, &sent, &flush, &lagSec, &reply, &lag)
	if err != nil {
		return a, fmt.Errorf("read the WAL archiving settings: %w", err)
	}
	s := &a.Slot
	s.Exists = exists != nil && *exists
	s.Physical = physical != nil && *physical
	s.Active = active != nil && *active
	s.RestartLSN = deref(restart)
	s.WALStatus = deref(status)
	s.SentLSN, s.FlushLSN = deref(sent), deref(flush)
	if retained != nil {
		s.RetainedBytes = *retained
	}
	if lag != nil {
		s.LagBytes = *lag
	}
	s.FlushLag = -1
	if lagSec != nil {
		s.FlushLag = time.Duration(*lagSec * float64(time.Second))
	} else if s.Active && flush != nil {
		s.FlushLag = 0 // caught up: the server reports no lag when idle
	}
	if reply != nil {
		s.ReplyTime = *reply
	}
	return a, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Problems lists what stops the WAL from being streamed with slot, each
// with its fix; none when streaming can start. A slot of another kind is
// one; a missing slot is not (the streamer creates it).
func (a Archiving) Problems(slot string) []string {
	var out []string
	if a.WALLevel == "minimal" {
		out = append(out, `wal_level is "minimal": set wal_level = replica on the server (a restart) — with minimal the WAL cannot be streamed or archived`)
	}
	if !a.CanReplicate {
		out = append(out, "the role has neither REPLICATION nor superuser: ALTER ROLE <role> REPLICATION, or set postgres.wal.dsn to a role that has it")
	}
	if a.MaxWALSenders == 0 {
		out = append(out, "max_wal_senders is 0: set it to at least 2 on the server (a restart)")
	} else if a.SendersInUse >= a.MaxWALSenders && !a.Slot.Active {
		out = append(out, fmt.Sprintf("all %d WAL senders are in use: raise max_wal_senders on the server (a restart) or end an unused replication connection", a.MaxWALSenders))
	}
	if a.MaxReplicationSlots == 0 {
		out = append(out, "max_replication_slots is 0: set it to at least 1 on the server (a restart)")
	} else if !a.Slot.Exists && a.SlotsInUse >= a.MaxReplicationSlots {
		out = append(out, fmt.Sprintf("all %d replication slots are in use: raise max_replication_slots (a restart) or drop an unused slot", a.MaxReplicationSlots))
	}
	if a.Slot.Exists && !a.Slot.Physical {
		out = append(out, fmt.Sprintf("slot %q is a logical slot: choose another name in postgres.wal.slot", slot))
	}
	if a.Slot.WALStatus == "lost" {
		out = append(out, fmt.Sprintf("slot %q has lost WAL the server removed (max_slot_wal_keep_size): the archive has a gap — drop the slot (SELECT pg_drop_replication_slot('%s')), let the streamer create it again and take a base backup", slot, slot))
	}
	return out
}
