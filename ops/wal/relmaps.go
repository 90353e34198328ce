package wal

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// DefaultRelMapInterval is how often the streamer reads the database's
// relfilenode map; it stores it when a relation's file changed, and at
// least every RelMapMaxAge for the row estimates.
const (
	DefaultRelMapInterval = 5 * time.Minute
	RelMapMaxAge          = time.Hour
)

// startRelMaps keeps the archive's relfilenode maps fresh while the
// streamer runs: wal find names the relations of the records by them, and
// a relation made and dropped between two maps stays a bare file number.
// It reads the configured database (postgres.dsn) every RelMapInterval
// once the system is known. The returned stop waits for it.
func (s *Streamer) startRelMaps(ctx context.Context) (stop func()) {
	if !s.Engine.Config.Postgres.Configured() || s.RelMapInterval < 0 {
		return func() {}
	}
	every := s.RelMapInterval
	if every == 0 {
		every = DefaultRelMapInterval
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last [32]byte
		var stored time.Time
		t := time.NewTicker(min(every, 5*time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			st := s.State()
			if st.SystemID == 0 || st.Phase != Streaming {
				continue // not yet: the first map waits for the stream
			}
			t.Reset(every)
			m, err := s.Engine.ReadLiveRelMap(ctx)
			if err != nil {
				slog.Warn("wal stream: relation map not read", logging.Err(err))
				continue
			}
			sum := relMapShape(m)
			if sum == last && time.Since(stored) < RelMapMaxAge {
				continue
			}
			arch, err := s.Engine.WALArchive(st.SystemID)
			if err == nil {
				sctx, cancel := context.WithTimeout(ctx, s.StoreTimeout)
				_, err = arch.PutRelMap(sctx, m)
				cancel()
			}
			if err != nil {
				slog.Warn("wal stream: relation map not stored", logging.Err(err))
				continue
			}
			last, stored = sum, time.Now()
			slog.Info("wal stream: relation map stored", "database", m.Database, "relations", len(m.Relations), "lsn", m.LSN.String())
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// relMapShape digests what a map says of the files: which relation each
// is, not the row estimates, which move all the time.
func relMapShape(m *pgwal.RelMap) [32]byte {
	h := sha256.New()
	var b [8]byte
	for _, e := range m.Relations {
		binary.LittleEndian.PutUint32(b[:], e.File)
		binary.LittleEndian.PutUint32(b[4:], e.OID)
		h.Write(b[:])
		h.Write([]byte(e.Name))
		h.Write([]byte{0})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
