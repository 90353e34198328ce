package backups_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
	"github.com/opsdeck/opsdeck/tui/backups"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

const sysID = 7440120955392901234

// at is a moment before the golden clock (tuitest.Now, Nov 25 08:30 UTC).
func at(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour, minute, 0, 0, time.UTC)
}

func lsn(hi, lo uint32) pgwal.LSN { return pgwal.LSN(uint64(hi)<<32 | uint64(lo)) }

// catalog is an archive whose oldest segment was stored at first.
func catalog(first time.Time, bytes int64) *backup.WALCatalog {
	return &backup.WALCatalog{
		Info:     backup.ArchiveInfo{SystemID: sysID, SegmentSize: 16 << 20},
		Segments: map[uint32][]backup.WALObject{1: {{Object: backup.Object{ModTime: first}, Kind: backup.WALSegment, Timeline: 1}}},
		Newest:   tuitest.Now.Add(-2 * time.Second),
		Bytes:    bytes,
	}
}

func base(id string, end time.Time, start pgwal.LSN) backup.WALStart {
	return backup.WALStart{ID: id, SystemID: sysID, Timeline: 1, Start: start, Stop: start + 0x100000, At: end}
}

// withGap: three base backups; segments missing on Nov 22 cut the two
// older ones off, the newest carries on to two seconds ago.
func withGap() backup.WALOverview {
	head := lsn(3, 0x9A0001C8)
	covs := []backup.Coverage{
		{Base: base("20261118_020000", at(18, 2, 12), lsn(1, 0x10000028)), Timelines: []uint32{1}, To: lsn(3, 0x51000000), ToTimeline: 1, ToTime: at(22, 13, 5)},
		{Base: base("20261121_020000", at(21, 2, 11), lsn(2, 0x40000028)), Timelines: []uint32{1}, To: lsn(3, 0x51000000), ToTimeline: 1, ToTime: at(22, 13, 5)},
		{Base: base("20261124_020000", at(24, 2, 14), lsn(3, 0x70000028)), Timelines: []uint32{1}, To: head, ToTimeline: 1, ToTime: tuitest.Now.Add(-2 * time.Second)},
	}
	return backup.WALOverview{
		SystemID: sysID, SegmentSize: 16 << 20, Catalog: catalog(at(18, 2, 0), 1288490188),
		Head: head, HeadTimeline: 1, HeadTime: tuitest.Now.Add(-2 * time.Second),
		Coverage: covs,
		Gaps: []backup.Gap{{Timeline: 1, From: lsn(3, 0x51000000), To: lsn(3, 0x59000000),
			First: "000000010000000300000051", Last: "000000010000000300000058"}},
		Spans: backup.Recoverable(covs),
	}
}

// oneBase: one base backup of yesterday and the WAL since, last stored
// three minutes ago.
func oneBase() backup.WALOverview {
	head := lsn(3, 0x9A0001C8)
	covs := []backup.Coverage{
		{Base: base("20261124_020000", at(24, 2, 14), lsn(3, 0x70000028)), Timelines: []uint32{1}, To: head, ToTimeline: 1, ToTime: tuitest.Now.Add(-3 * time.Minute)},
	}
	return backup.WALOverview{
		SystemID: sysID, SegmentSize: 16 << 20, Catalog: catalog(at(24, 2, 0), 412<<20),
		Head: head, HeadTimeline: 1, HeadTime: tuitest.Now.Add(-3 * time.Minute),
		Coverage: covs, Spans: backup.Recoverable(covs),
	}
}

// noBase: an archive streamed since this morning, no base backup yet.
func noBase() backup.WALOverview {
	return backup.WALOverview{
		SystemID: sysID, SegmentSize: 16 << 20, Catalog: catalog(at(25, 6, 0), 96<<20),
		Head: lsn(0, 0x1E0000A0), HeadTimeline: 1, HeadTime: tuitest.Now.Add(-40 * time.Second),
	}
}

func streaming() (opwal.State, bool) {
	return opwal.State{Slot: "opsdeck", Phase: opwal.Streaming, SystemID: sysID, Timeline: 1, SegmentSize: 16 << 20,
		Received: lsn(3, 0x9A0001C8), Durable: lsn(3, 0x9A0001C8), ServerEnd: lsn(3, 0x9A0001C8),
		LastDurable: tuitest.Now.Add(-2 * time.Second)}, true
}

func waiting() (opwal.State, bool) {
	return opwal.State{Slot: "opsdeck", Phase: opwal.Waiting, SystemID: sysID, Timeline: 1,
		Durable: lsn(3, 0x9A0001C8), LastDurable: tuitest.Now.Add(-3 * time.Minute),
		Err: "connect to db.internal:5432: connection refused", RetryAt: tuitest.Now.Add(12 * time.Second)}, true
}

// walTab is the tab over the fixture's catalog with ovs as the archive
// and state as this process's streamer (nil: none).
func walTab(t *testing.T, w, h int, ovs []backup.WALOverview, err error, state func() (opwal.State, bool)) string {
	t.Helper()
	eng, dir := fixture(t, false)
	src := backups.Sources{Engine: func() (*backup.Engine, error) { return eng, nil }, RefreshEvery: time.Hour, WALState: state}
	src = backups.WithWALOverviews(src, func(context.Context, []backup.WALStart) ([]backup.WALOverview, error) { return ovs, err })
	tab := backups.New(tuitest.Common(), src)
	tab.SetSize(w, h)
	return view(drive(t, tab, tab.Init()), dir)
}

func TestGoldenWAL(t *testing.T) {
	for _, tt := range []struct {
		name  string
		w, h  int
		ovs   []backup.WALOverview
		err   error
		state func() (opwal.State, bool)
	}{
		{"gap_80x24", 80, 24, []backup.WALOverview{withGap()}, nil, streaming},
		{"gap_120x40", 120, 40, []backup.WALOverview{withGap()}, nil, streaming},
		{"waiting_80x24", 80, 24, []backup.WALOverview{oneBase()}, nil, waiting},
		{"waiting_120x40", 120, 40, []backup.WALOverview{oneBase()}, nil, waiting},
		{"no_base_80x24", 80, 24, []backup.WALOverview{noBase()}, nil, nil},
		{"no_base_120x40", 120, 40, []backup.WALOverview{noBase()}, nil, nil},
		{"none_80x24", 80, 24, nil, nil, nil},
		{"none_120x40", 120, 40, nil, nil, nil},
		{"compact_100x14", 100, 14, []backup.WALOverview{withGap()}, nil, streaming},
		{"read_error_80x24", 80, 24, nil, errors.New("list wal/: access denied"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := walTab(t, tt.w, tt.h, tt.ovs, tt.err, tt.state)
			lines := strings.Split(out, "\n")
			if len(lines) != tt.h {
				t.Errorf("%d lines, want %d", len(lines), tt.h)
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > tt.w {
					t.Errorf("line %d is %d wide: %q", i+1, w, l)
				}
			}
			golden.RequireEqual(t, out)
		})
	}
}
