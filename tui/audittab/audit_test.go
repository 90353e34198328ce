package audittab_test

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/tui/audittab"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

const wait = 100 * time.Millisecond

// logWith writes three actions: an admin's backup over SSH, a viewer's
// refused restore, and a local verify that failed.
func logWith(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	admin := l.WithSSH(audit.SSH{User: "alice", KeyFingerprint: "SHA256:AbCd", KeyComment: "alice@laptop", RemoteAddr: "10.0.0.5:52144"}).WithWho("alice")
	if err := admin.Begin("backup.run", "full", map[string]any{"components": "database,redis", "dsn": "postgres://u:hunter2@db/x"}).End(nil); err != nil {
		t.Fatal(err)
	}
	viewer := l.WithSSH(audit.SSH{User: "vic", RemoteAddr: "10.0.0.9:40022"}).WithWho("vic")
	if err := viewer.Refuse("restore.run", "stockdb", errors.New("restore.run refused: vic (viewer) may not run it")); err != nil {
		t.Fatal(err)
	}
	if err := l.WithWho("root").Begin("backup.verify", "20261125_020000", nil).End(errors.New("checksum mismatch in database.dump.zst")); err != nil {
		t.Fatal(err)
	}
	return path
}

func loaded(t *testing.T, w, h int) common.Tab {
	t.Helper()
	tab := audittab.New(tuitest.Common(), audittab.Sources{Path: logWith(t)})
	tab.SetSize(w, h)
	return tuitest.Drive(t, tab, tab.Init(), wait)
}

func TestListNewestFirst(t *testing.T) {
	tab := loaded(t, 120, 38)
	out := tuitest.Plain(tab.View())
	verify, refused, backup := strings.Index(out, "backup.verify"), strings.Index(out, "restore.run"), strings.Index(out, "backup.run")
	if verify < 0 || refused < 0 || backup < 0 || !(verify < refused && refused < backup) {
		t.Fatalf("want the three actions newest first:\n%s", out)
	}
	for _, want := range []string{"3 actions", "10.0.0.5:52144", "refused", "error", "checksum mismatch", "local"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Fatal("a secret reached the screen")
	}
}

func TestFilterAndDetail(t *testing.T) {
	tab := loaded(t, 120, 38)
	tab = tuitest.Press(t, tab, wait, "/", "a", "l", "i", "c", "e", "enter")
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "1 of 3 actions") || strings.Contains(out, "restore.run") {
		t.Fatalf("filter alice:\n%s", out)
	}
	tab = tuitest.Press(t, tab, wait, "enter")
	out = tuitest.Plain(tab.View())
	for _, want := range []string{"Audit record", "SHA256:AbCd alice@laptop", "10.0.0.5:52144", "database,redis", "xxxxx"} {
		if !strings.Contains(out, want) {
			t.Errorf("detail lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Fatal("a secret reached the detail")
	}
}

func TestMissingLogIsEmptyNotAnError(t *testing.T) {
	tab := audittab.New(tuitest.Common(), audittab.Sources{Path: filepath.Join(t.TempDir(), "none.log")})
	tab.SetSize(80, 22)
	var tb common.Tab = tab
	tb = tuitest.Drive(t, tb, tab.Init(), wait)
	if out := tuitest.Plain(tb.View()); !strings.Contains(out, "no actions recorded yet") {
		t.Fatalf("empty log:\n%s", out)
	}
}

func TestGolden(t *testing.T) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 22}, {"120x40", 120, 38}} {
		t.Run(sz.name, func(t *testing.T) {
			tab := loaded(t, sz.w, sz.h)
			// Times depend on when the test ran: blank them for the golden.
			out := tuitest.Plain(tab.View())
			out = timeRE.ReplaceAllString(out, "MM-DD hh:mm:ss")
			out = tookRE.ReplaceAllString(out, "0ms")
			golden.RequireEqual(t, out)
		})
	}
}

var (
	timeRE = regexp.MustCompile(`\d\d-\d\d \d\d:\d\d:\d\d`)
	tookRE = regexp.MustCompile(`\b\d+ms\b`)
)
