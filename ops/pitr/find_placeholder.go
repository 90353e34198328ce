package pitr

import (
	"context"
	"errors"

	"github.com/opsdeck/opsdeck/ops/backup"
)

// Find decodes the WAL archive for destructive transactions. This is a
// placeholder for the branch tui-pitr, replaced by the real decoder when
// it is merged.
func Find(ctx context.Context, e *backup.Engine, o FindOptions) (*Found, error) {
	return nil, errors.New("wal find is not built into this opsdeck yet")
}
