package backups

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/backup"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// readWAL returns the Cmd that reads the WAL archive's overviews for
// the catalog's base backups; nil without an engine.
func (t *Tab) readWAL() tea.Cmd {
	if t.eng == nil {
		return nil
	}
	eng, timeout, parent := t.eng, t.src.ListTimeout, t.c.Context
	bases := backup.WALStarts(t.sets)
	read := t.src.readWAL
	if read == nil {
		read = func(ctx context.Context, eng *backup.Engine, bases []backup.WALStart) ([]backup.WALOverview, error) {
			return eng.ReadWALOverviews(ctx, bases)
		}
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		ovs, err := read(ctx, eng, bases)
		return walMsg{ovs: ovs, err: err}
	}
}

// readState returns the Cmd that reads the streamer's state after
// wait (at once when wait is 0); nil when this process runs none.
func (t *Tab) readState(wait time.Duration) tea.Cmd {
	get := t.src.WALState
	if get == nil {
		return nil
	}
	read := func() tea.Msg {
		st, ok := get()
		return walStateMsg{st: st, running: ok}
	}
	if wait <= 0 {
		return read
	}
	return t.c.Tick(wait, func(time.Time) tea.Msg { return read() })
}

// walData is what the tab knows of the archive and the streamer.
type walData struct {
	loaded bool
	ovs    []backup.WALOverview
	err    error
	// state is the streamer's, when running says this process runs one.
	state   opwal.State
	running bool
}

// baseLines are a base backup's facts for its set's details: where its
// WAL starts and where a recovery from it becomes consistent, and how far
// the archive (ovs) carries it.
func baseLines(s styles.Styles, b backup.WALStart, ovs []backup.WALOverview) []string {
	out := []string{
		fmt.Sprintf("PostgreSQL base backup · system %d · timeline %d", b.SystemID, b.Timeline),
		fmt.Sprintf("WAL from %s, consistent at %s", b.Start, b.Stop),
	}
	for _, o := range ovs {
		for _, c := range o.Coverage {
			if c.Base.ID != b.ID || c.Base.SystemID != b.SystemID {
				continue
			}
			switch {
			case c.OK():
				line := fmt.Sprintf("recoverable: the archive carries it to %s on timeline %d", c.To, c.ToTimeline)
				if !c.ToTime.IsZero() {
					line += ", stored " + c.ToTime.Format(time.RFC3339)
				}
				out = append(out, s.OK.Render(line))
			case c.Missing != "":
				out = append(out, s.Crit.Render("not recoverable: segment "+c.Missing+" is missing from the archive"))
			default:
				out = append(out, s.Crit.Render(fmt.Sprintf("not recoverable yet: the archive reaches %s, short of %s", c.To, b.Stop)))
			}
			return out
		}
	}
	return append(out, s.Muted.Render("the WAL archive has not been read, or holds no WAL of this cluster"))
}
