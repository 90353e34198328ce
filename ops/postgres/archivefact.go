package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FactArchiving is the WAL archive's slot and the settings streaming
// needs (ReadArchiving), read apart from the snapshot's batch.
const FactArchiving Fact = "wal_archiving"

// ArchivingFact is what the checks know of the WAL archive from the
// server: ReadArchiving's answer, and whether the role could see the
// streamer's connection in pg_stat_replication.
type ArchivingFact struct {
	Archiving
	// ConnectionHidden is true when the slot is active but the role may
	// not see the streamer's positions and lag (pg_stat_replication shows
	// them to superusers and pg_read_all_stats only): the lag is then
	// unknown, not zero.
	ConnectionHidden bool
}

// ReadArchivingFact reads ReadArchiving for slot in its own read-only
// transaction under the statement timeout (DefaultStatementTimeout, or
// less when ctx ends sooner). A read the server refuses comes back as a
// MissingFact (nil fact); failing to reach the server is an *Error.
func ReadArchivingFact(ctx context.Context, pool *pgxpool.Pool, slot string) (*ArchivingFact, []MissingFact, error) {
	var a Archiving
	missing, err := readEachFact(ctx, pool, statementTimeout(ctx), []namedRead{{FactArchiving, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		a, err = ReadArchiving(ctx, tx, slot)
		return err
	}}})
	if err != nil || len(missing) > 0 {
		return nil, missing, err
	}
	f := &ArchivingFact{Archiving: a}
	f.ConnectionHidden = a.Slot.Active && a.Slot.SentLSN == "" && a.Slot.FlushLSN == ""
	return f, nil, nil
}
