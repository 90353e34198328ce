package maintain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// archives makes files in dir with the given ages and returns their paths.
func archives(t *testing.T, dir string, ages map[string]time.Duration) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for name, age := range ages {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("log line\n", 100)), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestLogArchiveFindings(t *testing.T) {
	dir := t.TempDir()
	day := 24 * time.Hour
	paths := archives(t, dir, map[string]time.Duration{"app-1.log.gz": 30 * day, "app-2.log.gz": 10 * day, "app-3.log.gz": day, "other.txt": 90 * day})
	if err := os.Mkdir(filepath.Join(dir, "old.log.gz"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(paths["app-1.log.gz"], filepath.Join(dir, "link.log.gz")); err != nil {
		t.Fatal(err)
	}
	pattern := filepath.Join(dir, "*.log.gz")
	fs, files := LogArchiveFindings([]string{pattern}, 7*day, time.Now())
	if len(fs) != 1 || len(files) != 2 || files[0].Path != paths["app-1.log.gz"] || files[1].Path != paths["app-2.log.gz"] {
		t.Fatalf("findings %+v, files %+v", fs, files)
	}
	a := fs[0].Action
	if a == nil || a.Kind != ActDeleteFile || len(a.Files) != 2 || a.Pattern != pattern || !strings.Contains(fs[0].Summary, "1 newer kept") {
		t.Errorf("finding: %+v", fs[0])
	}
	// The re-check before deleting.
	if err := stillOld(files[0], pattern, 7*day, time.Now()); err != nil {
		t.Errorf("unchanged file refused: %v", err)
	}
	if err := os.WriteFile(files[1].Path, []byte("rewritten"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := stillOld(files[1], pattern, 7*day, time.Now()); err == nil {
		t.Error("a file changed since the listing passed the re-check")
	}
	if err := stillOld(files[0], filepath.Join(dir, "*.txt"), 7*day, time.Now()); err == nil {
		t.Error("a file outside the pattern passed the re-check")
	}
	if fs, _ := LogArchiveFindings(nil, 7*day, time.Now()); len(fs) != 1 || fs[0].Action != nil {
		t.Errorf("no patterns: %+v", fs)
	}
}

func TestPreRestoreTime(t *testing.T) {
	want := time.Date(2026, 11, 1, 2, 3, 4, 0, time.UTC)
	for name, ok := range map[string]bool{
		"stockdb_pre_20261101_020304": true, "stockdb_pre_20261101T020304Z": true, "stockdb_pre_20261101020304": true,
		"stockdb_pre_1793412184": true, "stockdb_pre_yesterday": false, "other_pre_20261101_020304": false,
	} {
		got := PreRestoreTime("stockdb", name)
		switch {
		case !ok && got != nil:
			t.Errorf("%s: %v, want none", name, got)
		case ok && got == nil:
			t.Errorf("%s: no time", name)
		case ok && name != "stockdb_pre_1793412184" && !got.Equal(want):
			t.Errorf("%s: %v", name, got)
		}
	}
}

func TestPreRestoreFindings(t *testing.T) {
	day := 24 * time.Hour
	dbs := []PreRestoreDB{
		{DatabaseInfo: postgres.DatabaseInfo{Name: "stockdb_pre_old", Bytes: 1 << 30}, Taken: at(10 * day)},
		{DatabaseInfo: postgres.DatabaseInfo{Name: "stockdb_pre_new", Bytes: 1 << 30}, Taken: at(2 * day)},
		{DatabaseInfo: postgres.DatabaseInfo{Name: "stockdb_pre_what", Bytes: -1}},
	}
	fs := PreRestoreFindings("stockdb", dbs, 7*day, now)
	if len(fs) != 3 || fs[0].Action == nil || fs[0].Action.Database != "stockdb_pre_old" || fs[1].Action != nil || fs[2].Action != nil {
		t.Fatalf("findings: %+v", fs)
	}
	if !strings.Contains(fs[1].Summary, "kept for 120h") || !strings.Contains(fs[2].Summary, "does not say") {
		t.Errorf("summaries: %q / %q", fs[1].Summary, fs[2].Summary)
	}
	if fs := PreRestoreFindings("stockdb", nil, 7*day, now); len(fs) != 1 || fs[0].Status != health.OK {
		t.Errorf("none: %+v", fs)
	}
}

func TestPruneFindings(t *testing.T) {
	plan := backup.PrunePlan{
		Decisions: []backup.PruneDecision{
			{ID: "20261124_020000", Kind: "database", Reason: "keep: newest verified database"},
			{ID: "20261001_020000", Kind: "database", Age: 55 * 24 * time.Hour, Size: 3 << 30, Delete: true, Reason: "past retention (database 30d)"},
		},
		Leftovers: []string{"20261125_020000"},
	}
	fs := PruneFindings(plan, "local /b")
	if len(fs) != 1 || fs[0].Status != health.Warn || fs[0].Action == nil || fs[0].Action.Kind != ActPruneBackups ||
		len(fs[0].Action.Backups) != 1 || len(fs[0].Action.Leftovers) != 1 || !strings.Contains(fs[0].Summary, "1 sets past retention (3.0 GiB)") {
		t.Errorf("findings: %+v", fs)
	}
	quiet := PruneFindings(backup.PrunePlan{Decisions: plan.Decisions[:1], Warnings: []string{"no verified redis backup"}}, "local /b")
	if len(quiet) != 2 || quiet[0].Status != health.Warn || quiet[1].Action != nil {
		t.Errorf("nothing to prune: %+v", quiet)
	}
}

func TestStorePermissionFindings(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	set := filepath.Join(dir, "20261125_020000")
	if err := os.Mkdir(set, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(set, "database.dump.zst")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fs := StorePermissionFindings(dir); len(fs) != 1 || fs[0].Status != health.OK {
		t.Errorf("tight store: %+v", fs)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(set, 0o750); err != nil {
		t.Fatal(err)
	}
	fs := StorePermissionFindings(dir)
	if len(fs) != 1 || fs[0].Status != health.Crit || !strings.Contains(fs[0].Summary, "1 directories wider than 0700, 1 files wider than 0600") {
		t.Errorf("wide store: %+v", fs)
	}
	if fs := StorePermissionFindings(filepath.Join(dir, "missing")); len(fs) != 1 || fs[0].Status != health.OK {
		t.Errorf("no store: %+v", fs)
	}
}

func TestUnencryptedSecretFindings(t *testing.T) {
	set := func(enc string) backup.Set {
		m := &backup.Manifest{ID: "20261125_030000", Components: []backup.Component{{Name: backup.Config, Status: backup.StatusOK,
			Kube:  &backup.KubeFacts{Objects: map[string]int{"Secret": 3, "ConfigMap": 2}},
			Files: []backup.File{{Name: "config.tar.zst", Encryption: enc}}}}}
		return backup.Set{ID: m.ID, Manifest: m}
	}
	if fs := UnencryptedSecretFindings([]backup.Set{set("")}); len(fs) != 1 || fs[0].Status != health.Crit {
		t.Errorf("plain secrets: %+v", fs)
	}
	if fs := UnencryptedSecretFindings([]backup.Set{set("age")}); len(fs) != 0 {
		t.Errorf("encrypted secrets: %+v", fs)
	}
}
