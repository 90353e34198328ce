package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// StageWAL writes the archive's WAL as the server names its files into
// dir, for a recovery whose restore_command only copies from there (the
// store and the age identity stay opsdeck's): every whole segment, every
// timeline history file, and each timeline's open segment — its chunks
// from the start, zero-filled to the segment size, so a recovery to the
// head replays the last durable bytes too. chown, when set, gives each
// file to the recovering server's user. It returns the files written.
func (a *WALArchive) StageWAL(ctx context.Context, dir string, chown func(path string) error) (int, error) {
	cat, err := a.Catalog(ctx)
	if err != nil {
		return 0, err
	}
	size := cat.Info.SegmentSize
	n := 0
	write := func(name string, data []byte) error {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("stage %s: %w — check free space in %s", name, err, dir)
		}
		if chown != nil {
			if err := chown(path); err != nil {
				return fmt.Errorf("stage %s: %w", name, err)
			}
		}
		n++
		return nil
	}
	for _, o := range cat.Histories {
		b, err := a.Read(ctx, o)
		if err != nil {
			return n, err
		}
		if err := write(o.Name(size), b); err != nil {
			return n, err
		}
	}
	for _, tli := range cat.Timelines() {
		for _, o := range cat.Segments[tli] {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			b, err := a.Read(ctx, o)
			if err != nil {
				return n, err
			}
			if err := write(o.Name(size), b); err != nil {
				return n, err
			}
		}
		for _, seg := range cat.OpenSegments(tli) {
			run, err := a.ReadPartial(ctx, cat, seg)
			if err != nil {
				continue // chunks that do not start the segment: nothing to replay
			}
			full := make([]byte, size)
			copy(full, run)
			if err := write(seg.Name(size), full); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
