package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/opsdeck/opsdeck/internal/version"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/postgres"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// startArchive gives the demo a live WAL archive: the streamer (here when
// headless; the cockpit runs its own when postgres.wal.stream is on) and,
// once the streamer's slot holds the WAL, a base backup, so the Backups
// tab shows an archive that can recover. It returns when both are under
// way; they end with ctx.
func startArchive(ctx context.Context, cfg *config.Config, runStreamer bool, errw io.Writer) (wait func()) {
	done := make(chan struct{})
	eng, err := backup.New(cfg, version.String(), cfg.OpenAudit())
	if err != nil {
		fmt.Fprintf(errw, "opsdeck demo: no WAL archive: %v\n", err)
		close(done)
		return func() {}
	}
	streamed := make(chan struct{})
	if runStreamer {
		s := opwal.New(eng)
		go func() {
			defer close(streamed)
			sctx := access.WithIdentity(ctx, access.System("wal-stream", access.Operator))
			if err := s.Run(sctx); err != nil {
				fmt.Fprintf(errw, "opsdeck demo: WAL streamer: %v\n", err)
			}
		}()
	} else {
		close(streamed)
	}
	go func() {
		defer close(done)
		defer eng.Audit.Close()
		if !waitForSlot(ctx, cfg) {
			return
		}
		bctx := access.WithIdentity(ctx, access.System("demo", access.Operator))
		if _, err := eng.Backup(bctx, backup.Options{Kind: backup.Base}); err != nil && ctx.Err() == nil {
			slog.Warn("demo base backup", logging.Err(err))
		}
	}()
	return func() { <-done; <-streamed }
}

// waitForSlot waits until the streamer's slot exists (at most a minute):
// a base backup taken before it could start at WAL the slot never kept.
func waitForSlot(ctx context.Context, cfg *config.Config) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		pool, err := postgres.Connect(pctx, cfg.Postgres.DSN, cfg.Timeouts.Connect)
		if err == nil {
			a, rerr := postgres.ReadArchiving(pctx, pool, cfg.Postgres.WAL.Slot)
			pool.Close()
			if rerr == nil && a.Slot.Exists {
				cancel()
				return true
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			return false
		case <-time.After(500 * time.Millisecond):
		}
	}
	return false
}
