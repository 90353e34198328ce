package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// Markers StageWAL leaves in its directory for a restore_command that
// waits for files still being staged (pitr's): histories once every
// timeline history file is there (a history not there then does not
// exist), done once staging ended, well or not.
const (
	StagedHistories = ".histories-staged"
	StagedDone      = ".staging-done"
)

// StageOptions bound and follow StageWAL.
type StageOptions struct {
	// From skips segments that end at or before it (the base backup's
	// start); To, when not 0, skips those that start after it (the
	// recovery target's LSN). Timeline history files are always staged.
	From, To pgwal.LSN
	// Chown, when set, gives each file to the recovering server's user.
	Chown func(path string) error
	// OnFile is told each file staged with its size.
	OnFile func(name string, size int64)
}

// StageWAL writes the archive's WAL as the server names its files into
// dir, for a recovery whose restore_command only copies from there (the
// store and the age identity stay opsdeck's): every timeline history
// file, then on each timeline the whole segments in order and the open
// segment — its chunks from the start, zero-filled to the segment size,
// so a recovery to the head replays the last durable bytes too. Each file
// appears whole (written under a temporary name, then renamed), and the
// markers StagedHistories and StagedDone say how far it got. It returns
// the files written.
func (a *WALArchive) StageWAL(ctx context.Context, dir string, o StageOptions) (n int, err error) {
	defer func() {
		if merr := a.stageMarker(dir, StagedDone, o); err == nil {
			err = merr
		}
	}()
	cat, err := a.Catalog(ctx)
	if err != nil {
		return 0, err
	}
	size := cat.Info.SegmentSize
	write := func(name string, data []byte) error {
		path := filepath.Join(dir, name)
		tmp := filepath.Join(dir, ".staging-"+name)
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("stage %s: %w — check free space in %s", name, err, dir)
		}
		if o.Chown != nil {
			if err := o.Chown(tmp); err != nil {
				os.Remove(tmp)
				return fmt.Errorf("stage %s: %w", name, err)
			}
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("stage %s: %w", name, err)
		}
		if o.OnFile != nil {
			o.OnFile(name, int64(len(data)))
		}
		n++
		return nil
	}
	tlis := slices.Sorted(func(yield func(uint32) bool) {
		for t := range cat.Histories {
			if !yield(t) {
				return
			}
		}
	})
	for _, tli := range tlis {
		o := cat.Histories[tli]
		b, err := a.Read(ctx, o)
		if err != nil {
			return n, err
		}
		if err := write(o.Name(size), b); err != nil {
			return n, err
		}
	}
	if err := a.stageMarker(dir, StagedHistories, o); err != nil {
		return n, err
	}
	wanted := func(seg pgwal.Segment) bool {
		return seg.End(size) > o.From && (o.To == 0 || seg.Start(size) <= o.To)
	}
	for _, tli := range cat.Timelines() {
		for _, obj := range cat.Segments[tli] {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if !wanted(obj.Segment) {
				continue
			}
			b, err := a.Read(ctx, obj)
			if err != nil {
				return n, err
			}
			if err := write(obj.Name(size), b); err != nil {
				return n, err
			}
		}
		for _, seg := range cat.OpenSegments(tli) {
			if !wanted(seg) {
				continue
			}
			run, err := a.ReadPartial(ctx, cat, seg)
			if errors.Is(err, ErrNotFound) {
				continue // chunks that do not start the segment: nothing to replay
			}
			if err != nil {
				return n, err // a damaged chunk: the recovery would stop short
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

// stageMarker writes one of the markers.
func (a *WALArchive) stageMarker(dir, name string, o StageOptions) error {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if o.Chown != nil {
		return o.Chown(path)
	}
	return nil
}
