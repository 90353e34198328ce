package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FactSlots is every replication slot of the server (ReadSlots).
const FactSlots Fact = "replication_slots"

// SlotUsage is one replication slot and the WAL it keeps on the server.
type SlotUsage struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // physical or logical
	Database string `json:"database,omitempty"`
	Active   bool   `json:"active"`
	// RestartLSN is the oldest WAL kept for the slot ("" when it keeps
	// none: a slot created without reserving).
	RestartLSN string `json:"restart_lsn,omitempty"`
	// WALStatus: reserved, extended, unreserved or lost.
	WALStatus string `json:"wal_status,omitempty"`
	// RetainedBytes is the server's WAL position minus RestartLSN.
	RetainedBytes int64 `json:"retained_bytes"`
}

const slotsSQL = `
SELECT slot_name::text, slot_type, coalesce(database::text, ''), active,
       coalesce(restart_lsn::text, ''), coalesce(wal_status, ''),
       coalesce((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
                 - restart_lsn)::bigint, 0)
  FROM pg_replication_slots
 ORDER BY slot_name`

// ReadSlots reads every replication slot in its own read-only transaction
// under timeout. A read the server refuses is a MissingFact; failing to
// reach the server is an *Error.
func ReadSlots(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) ([]SlotUsage, []MissingFact, error) {
	var out []SlotUsage
	missing, err := readEachFact(ctx, pool, timeout, []namedRead{{FactSlots, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, slotsSQL)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SlotUsage, error) {
			var s SlotUsage
			err := r.Scan(&s.Name, &s.Type, &s.Database, &s.Active, &s.RestartLSN, &s.WALStatus, &s.RetainedBytes)
			return s, err
		})
		return err
	}}})
	return out, missing, err
}
