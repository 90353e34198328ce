package restore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// utc is a moment of the fixed archive.
func utc(day, hour, minute, sec int) time.Time {
	return time.Date(2026, 11, day, hour, minute, sec, 0, time.UTC)
}

// archive is a WAL archive with three base backups: the oldest's WAL
// stops at a missing segment (a gap until the second), the two newer
// ones reach the head.
func archive() []backup.WALOverview {
	base := func(id string, at time.Time, lsn uint64) backup.WALStart {
		return backup.WALStart{ID: id, SystemID: 7, Timeline: 1, Start: pgwal.LSN(lsn), Stop: pgwal.LSN(lsn + 0x100000), At: at}
	}
	head := utc(25, 8, 29, 58)
	covs := []backup.Coverage{
		{Base: base("20261124_020000", utc(24, 2, 5, 0), 0x1_00000028), To: pgwal.LSN(0x1_7F000000), ToTimeline: 1, ToTime: utc(24, 11, 40, 0)},
		{Base: base("20261124_140000", utc(24, 14, 3, 0), 0x2_00000028), To: pgwal.LSN(0x3_9A0001C8), ToTimeline: 1, ToTime: head},
		{Base: base("20261125_020000", utc(25, 2, 4, 0), 0x3_00000028), To: pgwal.LSN(0x3_9A0001C8), ToTimeline: 1, ToTime: head},
	}
	return []backup.WALOverview{{
		SystemID: 7, SegmentSize: 16 << 20, Head: pgwal.LSN(0x3_9A0001C8), HeadTimeline: 1, HeadTime: head,
		Coverage: covs,
		Gaps:     []backup.Gap{{Timeline: 1, From: pgwal.LSN(0x1_7F000000), To: pgwal.LSN(0x1_80000000), First: "00000001000000010000007F", Last: "00000001000000010000007F"}},
		Spans:    backup.Recoverable(covs),
	}}
}

// events are what wal find reports in that archive, newest last.
func events() []pitr.Event {
	return []pitr.Event{
		{XID: 48211, Commit: pgwal.LSN(0x1_40001000), Time: utc(24, 9, 2, 11), Timeline: 1, Kinds: []pitr.EventKind{pitr.Delete},
			Relations: []pitr.RelationChange{{Name: "public.watchlists", Known: true, Kind: pitr.Delete, Deleted: 1200, Rows: 8000}}},
		{XID: 51877, Commit: pgwal.LSN(0x3_20002000), Time: utc(25, 6, 58, 40), Timeline: 1, Kinds: []pitr.EventKind{pitr.Update},
			Relations: []pitr.RelationChange{{Name: "public.stocks", Known: true, Kind: pitr.Update, Updated: 30000, Rows: 31000}}},
		{XID: 52310, Commit: pgwal.LSN(0x3_60003000), Time: utc(25, 7, 41, 3), Timeline: 1, Kinds: []pitr.EventKind{pitr.Truncate},
			Relations: []pitr.RelationChange{{Name: "public.daily_prices", Known: true, Kind: pitr.Truncate, Rows: 52000}},
			Context: []pitr.ContextLine{
				{Time: utc(25, 7, 40, 12), Source: "audit", Text: "alice (admin) ran maintain apply vacuum-full public.daily_prices"},
				{Time: utc(25, 7, 40, 55), Source: "rollout", Text: "deployment stockapp/worker rolled out worker:2.14.0"},
				{Time: utc(25, 7, 41, 30), Source: "event", Text: "Warning BackOff pod stockapp/worker-5c8d7f9b4-q8t3v"},
			}},
		{XID: 52977, Commit: pgwal.LSN(0x3_90004000), Time: utc(25, 8, 2, 55), Timeline: 1, Kinds: []pitr.EventKind{pitr.Drop, pitr.DDL},
			Relations: []pitr.RelationChange{
				{Name: "public.price_alerts", Known: true, Kind: pitr.Drop, Rows: 3400},
				{Name: "file 16384/24811", Kind: pitr.Drop},
			}},
	}
}

// liveTables are the database's tables now: price_alerts was dropped.
func liveTables() []postgres.TableName {
	return []postgres.TableName{{Schema: "public", Name: "daily_prices"}, {Schema: "public", Name: "stocks"},
		{Schema: "public", Name: "users"}, {Schema: "public", Name: "watchlists"}}
}

// pitPlan is what the engine would plan for a point-in-time database or
// table restore from the newest base backup.
func (f *fakeEngine) pitPlan(o oprestore.Options) (*oprestore.Plan, error) {
	ovs := archive()
	if f.outside {
		return nil, &pitr.OutOfRangeError{Target: *o.PointInTime, Covered: ovs[0].Spans, Reason: "it is before the oldest base backup ended"}
	}
	set := &backup.Manifest{Format: 1, ID: "20261125_020000", Kind: "base", Status: backup.StatusOK, Start: utc(25, 2, 0, 0), End: utc(25, 2, 4, 0),
		Components: []backup.Component{{Name: backup.Base, Status: backup.StatusOK, Files: []backup.File{{Name: "base.tar.zst", Size: 412 << 20}}}}}
	p := &oprestore.Plan{Options: o, Set: set, SetID: set.ID, Prepared: tuitest.Now, Components: []string{oprestore.Database}}
	p.Target.Database, p.Target.Postgres = "stockdb", "10.0.0.5:5432"
	p.Checks = []oprestore.Check{
		{Component: "database", Name: "recovery", Status: health.OK, Detail: "base backup 20261125_020000 (ended 02:04), then 1.2 GiB of WAL to " + o.PointInTime.String()},
		{Component: "database", Name: "free disk", Status: health.OK, Detail: "21.0 GiB free in the work dir, the recovery needs 2.3 GiB"},
	}
	step := func(name, title, undo string) {
		p.Steps = append(p.Steps, &oprestore.Step{Name: name, Title: title, Undo: undo})
	}
	step("preflight", "Check the base backup, the WAL, the targets and the free space again", "")
	step("database.recover", "Recover base backup 20261125_020000 and the WAL to "+o.PointInTime.String()+" in a private PostgreSQL instance on this machine", "Stop the private instance and remove its directory")
	if o.Kind == oprestore.Table {
		var sides []string
		for _, t := range o.Tables {
			side := t + "_at_20261125_0741"
			sides = append(sides, side)
			p.Checks = append(p.Checks, oprestore.Check{Component: "table", Name: t, Status: health.OK, Detail: "copied as it was into " + side + ", beside the live table (nothing of it is changed)"})
		}
		p.Copies = sides
		step("table.copy", "Copy "+strings.Join(o.Tables, ", ")+" from the recovered instance into "+strings.Join(sides, ", ")+" in stockdb", "Drop "+strings.Join(sides, ", "))
		step("table.verify", "Compare the rows and a checksum of each copy with the recovered instance, then remove the instance", "")
		_, p.Confirm, _ = strings.Cut(o.Tables[0], ".")
		return p, nil
	}
	step("database.restore", "Copy stockdb from the recovered instance into the scratch database stockdb_restore_20261125_020000", "Drop the scratch database stockdb_restore_20261125_020000")
	step("database.verify", "Compare the rows and a checksum of every table with the recovered instance, then remove the instance", "")
	step("writers.down", "Scale stockapp/worker and stockapp/scheduler to 0", "Scale them back to their replicas")
	step("database.swap", "Rename stockdb to stockdb_pre_<time> and the restored one to stockdb", "Rename them back")
	step("writers.up", "Scale the writers back", "")
	p.Confirm = "stockdb"
	return p, nil
}

// toTimeline walks to the point-in-time entry (the last) and opens it.
var toTimeline = []string{"up", "enter"}

func TestGoldenTimeline(t *testing.T) {
	for _, tt := range []struct {
		name string
		w, h int
		keys []string
		mut  func(*fakeEngine)
	}{
		{"timeline_80x24", 80, 24, toTimeline, nil},
		{"timeline_120x40", 120, 40, toTimeline, nil},
		{"timeline_truncate_120x40", 120, 40, append(append([]string{}, toTimeline...), "left"), nil},
		{"timeline_find_failed_80x24", 80, 24, toTimeline, func(f *fakeEngine) {
			f.found, f.findErr = nil, errors.New("segment 00000001000000030000005A: record at 3/5A0012F8 has a bad CRC")
		}},
		{"timeline_typed_80x24", 80, 24, append(append([]string{}, toTimeline...), append([]string{"t"}, typed("yesterday")...)...), nil},
		{"kind_pitr_80x24", 80, 24, []string{"up"}, nil},
		{"scope_80x24", 80, 24, append(append([]string{}, toTimeline...), "left", "enter", "down", "space"), nil},
		{"preflight_pitr_table_100x30", 100, 30, append(append([]string{}, toTimeline...), "left", "enter", "down", "space", "enter", "enter"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.mut != nil {
				tt.mut(f)
			}
			tab, _ := newTab(t, f, tt.w, tt.h-2, nil)
			tab = press(t, tab, tt.keys...)
			if strings.HasPrefix(tt.name, "timeline_typed") {
				tab = press(t, tab, "enter") // refused: the parse error stays
			}
			fits(t, tab, tt.w, tt.h-2)
			golden.RequireEqual(t, []byte(view(tab)))
		})
	}
}

// The timeline shows the coverage, the gap, the base backups and every
// event, and the arrows move between the events.
func TestTimelineMovesBetweenEvents(t *testing.T) {
	f := newFake()
	tab, _ := newTab(t, f, 120, 40, nil)
	tab = press(t, tab, toTimeline...)
	v := view(tab)
	for _, want := range []string{"1 moment › 2 moment", "×", "▼", "▲", "recoverable: Nov 24 14:03:00 – Nov 25 08:29:58", "before a gap: Nov 24 02:05:00 – Nov 24 11:40:00",
		"DROP public.price_alerts (~3,400 rows)", "xid 52977", "TRUNCATE public.daily_prices", "4 found"} {
		if want == "1 moment › 2 moment" {
			want = "2 moment"
		}
		if !strings.Contains(v, want) {
			t.Errorf("no %q in\n%s", want, v)
		}
	}
	if !strings.Contains(v, "enter → just before DROP public.price_alerts") {
		t.Errorf("the newest event is not selected:\n%s", v)
	}
	tab = press(t, tab, "left")
	v = view(tab)
	for _, want := range []string{"enter → just before TRUNCATE public.daily_prices (~52,000 rows) by transaction 52310", "alice (admin) ran maintain apply", "rollout", "Warning BackOff"} {
		if !strings.Contains(v, want) {
			t.Errorf("no %q after ← in\n%s", want, v)
		}
	}
	tab = press(t, tab, "left", "left", "left", "left") // stops at the oldest
	if v := view(tab); !strings.Contains(v, "enter → just before DELETE 1,200 rows of public.watchlists") {
		t.Errorf("← does not stop at the oldest:\n%s", v)
	}
	tab = press(t, tab, "down")
	if v := view(tab); !strings.Contains(v, "just before UPDATE 30,000 rows of public.stocks") {
		t.Errorf("↓ does not move in the list:\n%s", v)
	}
	tab = press(t, tab, "esc")
	if v := view(tab); !strings.Contains(v, "What to restore") {
		t.Errorf("esc did not go back:\n%s", v)
	}
	if f.finds != 1 {
		t.Errorf("wal find ran %d times", f.finds)
	}
	tab = press(t, tab, "enter")
	if f.finds != 1 {
		t.Errorf("reopening the timeline ran wal find again (%d)", f.finds)
	}
	press(t, tab, "r")
	if f.finds != 2 {
		t.Errorf("r did not run wal find again (%d)", f.finds)
	}
}

// wal find runs off the UI goroutine: the timeline is there while it
// reads, with a spinner; its error is a line of the view.
func TestTimelineWhileFindRuns(t *testing.T) {
	f := newFake()
	f.findGate = make(chan struct{})
	f.findErr, f.found = errors.New("the WAL archive cannot be decoded: unknown record"), nil
	tab, _ := newTab(t, f, 100, 30, nil)
	tab, cmd := tab.Update(tuitest.Key("up"))
	tab = tuitest.Drive(t, tab, cmd, wait)
	tab, cmd = tab.Update(tuitest.Key("enter"))
	tab = tuitest.Drive(t, tab, cmd, wait) // the coverage; find is held
	v := view(tab)
	if !strings.Contains(v, "reading the WAL archive for DROP, TRUNCATE") || !strings.Contains(v, "recoverable:") || !strings.Contains(v, "25%") {
		t.Fatalf("no spinner, or no timeline, while wal find runs:\n%s", v)
	}
	// Typing a time does not wait for it.
	tab = press(t, tab, "t")
	if !tab.Capturing() {
		t.Error("typing a time does not capture the keys")
	}
	tab = press(t, tab, "esc")
	close(f.findGate)
	// The held job's listener was dropped by Drive's wait: r starts again.
	tab = press(t, tab, "r")
	v = view(tab)
	if !strings.Contains(v, "wal find: the WAL archive cannot be decoded: unknown record") || !strings.Contains(v, "t types a time") {
		t.Fatalf("the error is not shown:\n%s", v)
	}
}

// A typed time is read in the clock's zone; a wrong one says why under
// the input and goes nowhere.
func TestTypedTime(t *testing.T) {
	f := newFake()
	tab, _ := newTab(t, f, 100, 30, nil)
	tab = press(t, tab, toTimeline...)
	tab = press(t, tab, "t")
	tab = press(t, tab, typed("2026-11-25 07:41x")...)
	tab = press(t, tab, "enter")
	if v := view(tab); !strings.Contains(v, "is not a time") || !strings.Contains(v, "time ›") {
		t.Fatalf("no parse error:\n%s", v)
	}
	tab = press(t, tab, "backspace", "enter")
	if v := view(tab); !strings.Contains(v, "What to restore at 2026-11-25 07:41:00 +00:00") {
		t.Fatalf("the typed time was not taken:\n%s", v)
	}
	tab = press(t, tab, "enter", "enter") // the whole database; options; preflight
	if prepared, _ := f.counts(); prepared != 1 {
		t.Fatalf("%d preflights:\n%s", prepared, view(tab))
	}
	o := f.prepared[0]
	if o.Kind != oprestore.Database || o.ID != "" || o.PointInTime == nil || !o.PointInTime.Time.Equal(utc(25, 7, 41, 0)) || o.PointInTime.Exclusive || len(o.Tables) != 0 {
		t.Errorf("options %+v, target %+v", o, o.PointInTime)
	}
	if v := view(tab); !strings.Contains(v, "moment    at 2026-11-25 07:41:00 +00:00") || !strings.Contains(v, "database.recover") {
		t.Errorf("the plan does not name the moment:\n%s", v)
	}
}

// A moment the archive does not cover is refused at the preflight with
// what it covers.
func TestOutOfRangeAtPreflight(t *testing.T) {
	f := newFake()
	f.outside = true
	tab, _ := newTab(t, f, 100, 30, nil)
	tab = press(t, tab, toTimeline...)
	tab = press(t, tab, "t")
	tab = press(t, tab, typed("2026-11-20 10:00")...)
	tab = press(t, tab, "enter", "enter", "enter")
	v := view(tab)
	if !strings.Contains(v, "cannot recover to 2026-11-20 10:00:00") || !strings.Contains(v, "the archive can recover to") {
		t.Fatalf("no refusal:\n%s", v)
	}
	tab = press(t, tab, "enter")
	if strings.Contains(view(tab), "Type") {
		t.Fatal("went on to the confirmation")
	}
}

// The walk through a table restore: the point-in-time entry, an event,
// a table, the preflight, the typed confirmation, the run, the summary.
func TestTableRestoreWalk(t *testing.T) {
	f := newFake()
	tab, c := newTab(t, f, 120, 38, nil)
	tab = press(t, tab, toTimeline...)
	tab = press(t, tab, "left", "enter") // just before the TRUNCATE
	v := view(tab)
	for _, want := range []string{"What to restore just before transaction 52310", "(•) the whole database", "public.daily_prices  in the event", "public.watchlists"} {
		if !strings.Contains(v, want) {
			t.Fatalf("scope: no %q in\n%s", want, v)
		}
	}
	tab = press(t, tab, "down", "space", "down", "down", "space", "space") // daily_prices; users on and off
	if v := view(tab); !strings.Contains(v, "[x] public.daily_prices") || !strings.Contains(v, "( ) the whole database") || !strings.Contains(v, "1 table(s): public.daily_prices") {
		t.Fatalf("tables not chosen:\n%s", v)
	}
	tab = press(t, tab, "enter")
	if v := view(tab); !strings.Contains(v, "Options: table restore just before transaction 52310") || !strings.Contains(v, "nothing live") {
		t.Fatalf("options:\n%s", v)
	}
	tab = press(t, tab, "esc")
	if v := view(tab); !strings.Contains(v, "[x] public.daily_prices") {
		t.Fatalf("esc lost the choice:\n%s", v)
	}
	tab = press(t, tab, "enter", "enter")
	v = view(tab)
	for _, want := range []string{"Preflight: table restore just before transaction 52310", "moment    just before transaction 52310", "picked from wal find: just before TRUNCATE", "copies    public.daily_prices_at_20261125_0741", "table.copy", "Ready."} {
		if !strings.Contains(v, want) {
			t.Errorf("preflight: no %q in\n%s", want, v)
		}
	}
	o := f.prepared[0]
	if o.Kind != oprestore.Table || o.ID != "" || len(o.Tables) != 1 || o.Tables[0] != "public.daily_prices" ||
		o.PointInTime == nil || o.PointInTime.XID != 52310 || !o.PointInTime.Exclusive {
		t.Fatalf("options %+v, target %+v", o, o.PointInTime)
	}
	tab = press(t, tab, "enter")
	v = view(tab)
	if !strings.Contains(v, "Restore tables public.daily_prices just before transaction 52310?") || !strings.Contains(v, "The live tables are not changed") {
		t.Fatalf("confirmation:\n%s", v)
	}
	tab = press(t, tab, typed("daily_prices")...)
	f.setNow(at(0))
	tab, cmd := tab.Update(tuitest.Key("enter"))
	if got := c.Tasks.Running(); len(got) != 1 || got[0].Name != "restore tables public.daily_prices just before transaction 52310" {
		t.Fatalf("tasks %+v", got)
	}
	tab, cmd = emit(t, f, tab, cmd,
		ev(progress.Start, r, "preflight", 0, ""),
		ev(progress.Finish, r, "preflight", 1, ""),
		ev(progress.Start, r, "database.recover", 1, ""),
		ev(progress.Info, r, "database.recover", 30, "recovered to just before transaction 52310 in 29s: replay ended at 3/60002F80"),
		ev(progress.Finish, r, "database.recover", 31, ""),
		ev(progress.Start, r, "table.copy", 31, ""),
		advance("table.copy", 35, 20<<20, 40<<20),
	)
	v = view(tab)
	for _, want := range []string{"✓ database.recover", "table.copy", "50%", "replay ended at 3/60002F80"} {
		if !strings.Contains(v, want) {
			t.Errorf("run: no %q in\n%s", want, v)
		}
	}
	tab, cmd = emit(t, f, tab, cmd,
		ev(progress.Finish, r, "table.copy", 40, ""),
		ev(progress.Start, r, "table.verify", 40, ""),
		ev(progress.Finish, r, "table.verify", 44, ""),
	)
	p := f.plan(t)
	rep := &oprestore.Report{Plan: p, Start: at(0), End: at(44), Who: "alice (admin)", OK: true, Path: "/var/lib/opsdeck/restore/20261125_082000-table.md"}
	for _, s := range p.Steps {
		rep.Steps = append(rep.Steps, oprestore.StepResult{Name: s.Name, Title: s.Title, State: oprestore.Done, Took: 2 * time.Second})
	}
	f.setReport(rep, nil)
	close(f.feed)
	tab, cmd = step(t, tab, cmd)
	tab = tuitest.Drive(t, tab, cmd, wait)
	v = view(tab)
	for _, want := range []string{"✓ Done in 44s", "restored  tables public.daily_prices just before transaction 52310 from base backup 20261125_020000", "copies    public.daily_prices_at_20261125_0741 beside the live tables", "table-md"} {
		if want == "table-md" {
			want = "20261125_082000-table.md"
		}
		if !strings.Contains(v, want) {
			t.Errorf("summary: no %q in\n%s", want, v)
		}
	}
	tab = press(t, tab, "enter")
	if v := view(tab); !strings.Contains(v, "What to restore") {
		t.Errorf("enter did not start over:\n%s", v)
	}
}

// Read-only sessions and roles below admin see the timeline and the
// events, and are offered no restore.
func TestTimelineReadOnly(t *testing.T) {
	for name, mut := range map[string]func(*common.Common){
		"read-only": func(c *common.Common) { c.ReadOnly = true; c.Identity = access.Local(true) },
		"operator": func(c *common.Common) {
			c.Identity = access.Identity{User: "bob", Roles: map[string]access.Role{access.AllEnvs: access.Operator}, SSH: &audit.SSH{}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			tab, _ := newTab(t, f, 100, 30, mut)
			tab = press(t, tab, toTimeline...)
			if v := view(tab); !strings.Contains(v, "for reference only") || !strings.Contains(v, "DROP public.price_alerts") {
				t.Fatalf("timeline:\n%s", v)
			}
			for _, b := range tab.ShortHelp() {
				if d := b.Help().Desc; d == "just before it" || d == "type a time" {
					t.Errorf("help offers %q", d)
				}
			}
			tab = press(t, tab, "enter")
			if v := view(tab); strings.Contains(v, "What to restore just before") || !strings.Contains(v, "restores") {
				t.Fatalf("enter went on:\n%s", v)
			}
			tab = press(t, tab, "t")
			if tab.Capturing() {
				t.Error("t opened the time input")
			}
			if prepared, runs := f.counts(); prepared != 0 || runs != 0 {
				t.Fatalf("%d preflights, %d runs", prepared, runs)
			}
		})
	}
}

// Narrow and short screens do not break the timeline or the choice.
func TestTimelineNarrow(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {8, 4}, {20, 6}, {30, 10}, {40, 12}, {60, 8}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			f := newFake()
			tab, _ := newTab(t, f, size[0], size[1], nil)
			tab = press(t, tab, toTimeline...)
			fits(t, tab, size[0], size[1])
			tab = press(t, tab, "left", "t")
			fits(t, tab, size[0], size[1])
			tab = press(t, tab, "esc", "enter", "down", "space")
			fits(t, tab, size[0], size[1])
		})
	}
}
