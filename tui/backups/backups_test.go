package backups_test

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/backups"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// fixture makes a local store with four sets: database and redis sets of
// today and yesterday (verified), a database set of September (past
// retention), and a partial full set whose verify failed.
func fixture(t *testing.T, readOnly bool) (*backup.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Backup.Dir = filepath.Join(dir, "store")
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.ReadOnly = readOnly
	st, err := backup.NewLocalStore(cfg.Backup.Dir)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(filepath.Join(cfg.StateDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	eng := &backup.Engine{Config: cfg, Store: namedStore{st}, Audit: log, Version: "test", Now: func() time.Time { return tuitest.Now }}
	ctx := accesstest.Admin(context.Background())
	codec := backup.Codec{Level: 3}
	mk := func(id, kind string, comps ...string) {
		start, _ := time.Parse(backup.IDLayout, id)
		m := &backup.Manifest{Format: 1, ID: id, Kind: kind, Status: backup.StatusOK, Start: start, End: start.Add(90 * time.Second), OpsdeckVersion: "test", Host: "bastion", User: "alice"}
		for _, c := range comps {
			failed := strings.HasSuffix(c, "!")
			c = strings.TrimSuffix(c, "!")
			comp := backup.Component{Name: c, Status: backup.StatusOK, Start: start, End: start.Add(time.Minute)}
			if failed {
				comp.Status, comp.Error = backup.StatusFailed, "connect to redis at cache:6379: connection refused"
				m.Status = backup.StatusPartial
			} else {
				w, err := codec.NewWriter(ctx, st, id, c+".zst", "tar", nil)
				if err != nil {
					t.Fatal(err)
				}
				w.Write([]byte(strings.Repeat(id+c, 500)))
				f, err := w.Close()
				if err != nil {
					t.Fatal(err)
				}
				comp.Files = []backup.File{f}
				if c == backup.Database {
					comp.Postgres = &backup.PostgresFacts{ServerVersion: "15.18", Database: "stockdb", PgDumpVersion: "15.18",
						Tables: []backup.TableCount{{Schema: "public", Name: "daily_prices", Rows: 300019}, {Schema: "public", Name: "stocks", Rows: 300}}}
				}
			}
			m.Components = append(m.Components, comp)
		}
		data, _ := m.Encode()
		if err := st.Commit(ctx, id, data); err != nil {
			t.Fatal(err)
		}
	}
	mk("20261125_020000", "database", backup.Database)
	mk("20261124_030000", "redis", backup.Redis)
	mk("20261001_020000", "database", backup.Database)
	mk("20261120_040000", "full", backup.Database, backup.Redis+"!")
	writable := *eng
	c2 := *cfg
	c2.ReadOnly = false
	writable.Config = &c2
	if _, err := writable.Verify(ctx, backup.VerifyOptions{IDs: []string{"20261125_020000", "20261124_030000", "20261001_020000"}}); err != nil {
		t.Fatal(err)
	}
	// Damage the partial set's file and verify it: its state is failed.
	p := filepath.Join(cfg.Backup.Dir, "20261120_040000", "database.zst")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o600)
	writable.Verify(ctx, backup.VerifyOptions{IDs: []string{"20261120_040000"}})
	// Drills proved last night's database set and September's; the one of
	// the Redis set failed, which marks nothing.
	for _, r := range []oprestore.DrillRecord{
		{Kind: "database", Components: []string{"database"}, Set: "20261001_020000", Start: time.Date(2026, 10, 4, 5, 0, 0, 0, time.UTC),
			Outcome: oprestore.Proven, Proof: oprestore.ProofCounts, RTO: 112 * time.Second, Report: "/var/lib/opsdeck/reports/drill-database-20261004T050000.md"},
		{Kind: "database", Components: []string{"database"}, Set: "20261125_020000", Start: time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC),
			Outcome: oprestore.Proven, Proof: oprestore.ProofFingerprints, RTO: 130 * time.Second, Report: "/var/lib/opsdeck/reports/drill-database-20261125T050000.md"},
		{Kind: "redis", Components: []string{"redis"}, Set: "20261124_030000", Start: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC), Outcome: oprestore.Failing},
	} {
		if err := oprestore.AppendDrill(cfg.StateDir, r); err != nil {
			t.Fatal(err)
		}
	}
	return eng, cfg.Backup.Dir
}

// namedStore gives the temporary store a fixed name for the goldens.
type namedStore struct{ backup.Store }

func (namedStore) String() string { return "local /var/backups/opsdeck" }

// wait is how long a command may take before it counts as a timer (the
// refresh tick, the cursor blink) that yields nothing.
const wait = 300 * time.Millisecond

func drive(t *testing.T, tab common.Tab, cmd tea.Cmd) common.Tab {
	t.Helper()
	return tuitest.Drive(t, tab, cmd, wait)
}

func loaded(t *testing.T, w, h int, readOnly bool) (*backups.Tab, string) {
	t.Helper()
	eng, dir := fixture(t, readOnly)
	c := tuitest.Common()
	c.ReadOnly = readOnly
	tab := backups.New(c, backups.Sources{Engine: func() (*backup.Engine, error) { return eng, nil }, RefreshEvery: time.Hour})
	tab.SetSize(w, h)
	return drive(t, tab, tab.Init()).(*backups.Tab), dir
}

func press(t *testing.T, tab common.Tab, keys ...string) common.Tab {
	t.Helper()
	for _, k := range keys {
		var cmd tea.Cmd
		tab, cmd = tab.Update(tuitest.Key(k))
		tab = drive(t, tab, cmd)
	}
	return tab
}

func view(tab common.Tab, dir string) string {
	return strings.ReplaceAll(tuitest.Plain(tab.View()), dir, "<store>")
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		w, h int
		keys []string
		ro   bool
	}{
		{"list_80x24", 80, 24, nil, false},
		{"list_120x40", 120, 40, nil, false},
		{"list_read_only", 100, 16, nil, true},
		{"detail", 100, 40, []string{"enter"}, false},
		{"choose", 80, 24, []string{"t"}, false},
		{"sorted_by_size", 100, 12, []string{"s", "s"}, false},
		{"filtered", 100, 12, []string{"/", "r", "e", "d", "i", "s", "enter"}, false},
		{"prune_plan", 100, 24, []string{"P"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tab, dir := loaded(t, tt.w, tt.h, tt.ro)
			golden.RequireEqual(t, view(press(t, tab, tt.keys...), dir))
		})
	}
}

func TestReadOnlyHidesActions(t *testing.T) {
	tab, dir := loaded(t, 100, 20, true)
	for _, k := range []string{"t", "v", "V", "P"} {
		got := press(t, tab, k)
		if got.Capturing() || strings.Contains(view(got, dir), "Take a backup") || strings.Contains(view(got, dir), "Prune: the plan") {
			t.Errorf("%s acted read-only", k)
		}
	}
	for _, b := range tab.ShortHelp() {
		if b.Help().Key == "t" || b.Help().Key == "P" {
			t.Errorf("read-only help offers %s", b.Help().Key)
		}
	}
}

func TestPruneDefaultsToNoThenDeletesOnYes(t *testing.T) {
	tab, dir := loaded(t, 100, 24, false)
	sets := func() []string {
		ids, _ := os.ReadDir(dir)
		var out []string
		for _, e := range ids {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") { // not .lock.d
				out = append(out, e.Name())
			}
		}
		return out
	}
	before := sets()
	got := press(t, tab, "P", "enter") // enter on the untouched prompt: No
	if len(sets()) != len(before) || !strings.Contains(view(got, dir), "prune cancelled") {
		t.Fatalf("enter deleted: %v\n%s", sets(), view(got, dir))
	}
	got = press(t, got, "P", "y")
	after := sets()
	if len(after) != len(before)-1 || strings.Contains(strings.Join(after, ","), "20261001_020000") {
		t.Fatalf("after yes: %v", after)
	}
	if !strings.Contains(view(got, dir), "pruned 1 set(s)") {
		t.Errorf("no result line:\n%s", view(got, dir))
	}
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), "state", "audit.log"))
	if !strings.Contains(string(b), `"action":"backup.prune"`) {
		t.Errorf("prune not audited: %s", b)
	}
}

func TestVerifyShowsResult(t *testing.T) {
	tab, dir := loaded(t, 100, 20, false)
	// A verify re-reads the files: give it time on a loaded machine.
	got := tuitest.Press(t, tab, 5*time.Second, "v") // the newest set, 20261125_020000
	if !strings.Contains(view(got, dir), "20261125_020000 is verified") {
		t.Fatalf("view:\n%s", view(got, dir))
	}
	got = tuitest.Press(t, got, 5*time.Second, "down", "down", "v") // the damaged partial set
	if !strings.Contains(view(got, dir), "failed") || !strings.Contains(view(got, dir), "database.zst") {
		t.Fatalf("damage not shown:\n%s", view(got, dir))
	}
}

func TestEngineErrorShown(t *testing.T) {
	c := tuitest.Common()
	tab := backups.New(c, backups.Sources{Engine: func() (*backup.Engine, error) {
		return nil, os.ErrPermission
	}})
	tab.SetSize(80, 10)
	got := drive(t, tab, tab.Init())
	if v := tuitest.Plain(got.View()); !strings.Contains(v, "Backup store unavailable") || !strings.Contains(v, "permission denied") {
		t.Fatalf("view:\n%s", v)
	}
}

func TestCancelRunningBackup(t *testing.T) {
	// A "database" that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	eng, dir := fixture(t, false)
	eng.Config.Postgres.DSN = "postgres://u:p@" + ln.Addr().String() + "/db?connect_timeout=60"
	eng.Config.Timeouts.Connect = time.Minute
	c := tuitest.Common()
	tab := backups.New(c, backups.Sources{Engine: func() (*backup.Engine, error) { return eng, nil }, RefreshEvery: time.Hour})
	tab.SetSize(100, 20)
	var got common.Tab = drive(t, tab, tab.Init())
	// Only the database: untick redis and config.
	got = press(t, got, "t", "2", "3")
	var cmd tea.Cmd
	got, cmd = got.Update(tuitest.Key("enter")) // starts; its events come back through cmd
	if !strings.Contains(view(got, dir), "backup database") {
		t.Fatalf("not running:\n%s", view(got, dir))
	}
	// Every session sees it running, as the session that started it.
	if r := c.Tasks.Running(); len(r) != 1 || r[0].Name != "backup database" || r[0].Who != "test-admin" {
		t.Errorf("tasks while running: %+v", r)
	}
	start := time.Now()
	got, _ = got.Update(tea.KeyPressMsg{Code: 'x', Mod: tea.ModCtrl})
	got = tuitest.Drive(t, got, cmd, 10*time.Second)
	if time.Since(start) > 8*time.Second || !strings.Contains(view(got, dir), "backup database failed") {
		t.Fatalf("cancel took %v:\n%s", time.Since(start), view(got, dir))
	}
	if r := c.Tasks.Running(); len(r) != 0 {
		t.Errorf("tasks after the end: %+v", r)
	}
	// The four sets, and nothing staged; the locks (.lock, .lock.backup and
	// their holder records' directories) stay.
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".lock") {
			names = append(names, e.Name())
		}
	}
	if len(names) != 4 {
		t.Errorf("store after cancel: %v", names)
	}
}

// The chooser lists the engine's components with their numbers; a number
// toggles its component and a number past the last does nothing.
func TestChooserListsEngineComponents(t *testing.T) {
	tab, dir := loaded(t, 120, 40, false)
	out := view(press(t, tab, "t"), dir)
	for i, c := range backup.SetComponents() {
		box := "[ ]"
		if c.Chosen() {
			box = "[x]"
		}
		if want := fmt.Sprintf("%s %d %-9s %s", box, i+1, c.Name(), c.About(config.Default())); !strings.Contains(out, want) {
			t.Errorf("chooser lacks %q:\n%s", want, out)
		}
	}
	out = view(press(t, tab, "4", "9"), dir)
	if !strings.Contains(out, "[x] 4 logs") || !strings.Contains(out, "[x] 1 database") {
		t.Errorf("4 should choose logs and 9 change nothing:\n%s", out)
	}
}
