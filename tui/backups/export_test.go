package backups

import (
	"context"

	"github.com/opsdeck/opsdeck/ops/backup"
)

// WithWALOverviews returns src reading the WAL archive's overviews from
// read instead of the engine's store.
func WithWALOverviews(src Sources, read func(ctx context.Context, bases []backup.WALStart) ([]backup.WALOverview, error)) Sources {
	src.readWAL = func(ctx context.Context, _ *backup.Engine, bases []backup.WALStart) ([]backup.WALOverview, error) {
		return read(ctx, bases)
	}
	return src
}
