package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// relMapPrefix begins the key of a relfilenode map in the archive:
//
//	wal/<sysid>/relmap-<LSN, 16 hex digits>-<sha256>.zst[.age]
//
// wal find names the relations of the records by them (pgwal.RelMap).
const relMapPrefix = "relmap-"

// PutRelMap stores a relfilenode map.
func (a *WALArchive) PutRelMap(ctx context.Context, m *pgwal.RelMap) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	key, _, err := a.put(ctx, fmt.Sprintf("%s%s%016X", a.prefix(), relMapPrefix, uint64(m.LSN)), b, nil)
	return key, err
}

// ReadRelMap reads one stored map.
func (a *WALArchive) ReadRelMap(ctx context.Context, o WALObject) (*pgwal.RelMap, error) {
	b, err := a.Read(ctx, o)
	if err != nil {
		return nil, err
	}
	var m pgwal.RelMap
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Key, err)
	}
	return &m, nil
}

// relMapsToPrune are the maps no kept WAL needs: those before the newest
// map at or before the oldest kept segment's start (that one names the
// files of the first records kept).
func relMapsToPrune(c *WALCatalog, from pgwal.LSN) []WALObject {
	keep := -1
	for i, m := range c.RelMaps {
		if m.At <= from {
			keep = i
		}
	}
	if keep <= 0 {
		return nil
	}
	return append([]WALObject(nil), c.RelMaps[:keep]...)
}

// ReadLiveRelMap reads the configured database's relfilenode map from the
// server, bounded by the connect timeout and a minute.
func (e *Engine) ReadLiveRelMap(ctx context.Context) (*pgwal.RelMap, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, password := ClientConnection(e.Config.Postgres.DSN)
	conn, _, err := connectBackup(ctx, e.Config.Postgres.DSN, e.Config.Timeouts.Connect, []string{password})
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return postgres.ReadRelMap(ctx, conn)
}

// storeBaseRelMap stores the relfilenode map beside a base backup's WAL,
// when the cluster's archive exists: wal find names the files of the
// WAL after the backup by it. A failure is the set's warning, not its
// failure.
func storeBaseRelMap(ctx context.Context, run *ComponentRun, facts *BaseFacts) {
	warn := func(err error) {
		run.Record.Warnings = append(run.Record.Warnings, "relation map not stored (wal find names fewer relations): "+err.Error())
	}
	arch, err := run.e.WALArchive(facts.SystemID)
	if err != nil {
		warn(err)
		return
	}
	if _, err := arch.Info(ctx); err != nil {
		return // no archive: nothing streams this cluster's WAL
	}
	m, err := run.e.ReadLiveRelMap(ctx)
	if err != nil {
		warn(err)
		return
	}
	if _, err := arch.PutRelMap(ctx, m); err != nil {
		warn(err)
		return
	}
	run.Emit(progress.Info, fmt.Sprintf("relation map of %s stored (%d relations at %s)", m.Database, len(m.Relations), m.LSN), 0, 0)
}
