package maintain

import (
	"context"
	"encoding/json"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// commitSet writes a database backup set started at start into the store,
// verified or not.
func commitSet(t *testing.T, st backup.Store, start time.Time, verified bool) string {
	t.Helper()
	ctx := accesstest.Admin(context.Background())
	id := backup.NewID(start)
	w, err := st.Create(ctx, id, "database.dump.zst")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("dump"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m := &backup.Manifest{Format: backup.FormatVersion, ID: id, Kind: "database", Status: backup.StatusOK, Start: start, End: start.Add(time.Minute),
		Components: []backup.Component{{Name: backup.Database, Status: backup.StatusOK, Files: []backup.File{{Name: "database.dump.zst", Size: 4, RawSize: 4}}}}}
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx, id, data); err != nil {
		t.Fatal(err)
	}
	if verified {
		v, _ := json.Marshal(backup.VerifyResult{ID: id, At: start.Add(time.Hour), OK: true, Files: 1})
		if err := st.PutMeta(ctx, id, backup.VerifyName, v); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func TestCleanupDryRunDeletesNothingAndRealRunDeletesTheList(t *testing.T) {
	cfg := sandboxConfig(t)
	ctx := accesstest.Admin(t.Context())
	day := 24 * time.Hour
	logs := t.TempDir()
	files := archives(t, logs, map[string]time.Duration{"api-1.log.gz": 20 * day, "api-2.log.gz": 9 * day, "api-3.log.gz": 2 * day})
	cfg.Maintenance.LogArchives = []string{filepath.Join(logs, "*.log.gz")}

	oldDB := sandbox.PostgresDatabase + "_pre_20200101_000000"
	youngDB := sandbox.PostgresDatabase + "_pre_" + time.Now().UTC().Add(-time.Hour).Format("20060102_150405")
	sqlCleanup(t, "DROP DATABASE IF EXISTS "+oldDB, "DROP DATABASE IF EXISTS "+youngDB)
	sql(t, "CREATE DATABASE "+oldDB, "CREATE DATABASE "+youngDB)

	st, err := backup.NewLocalStore(cfg.Backup.Dir)
	if err != nil {
		t.Fatal(err)
	}
	expired := commitSet(t, st, time.Now().Add(-60*day), true)
	kept := commitSet(t, st, time.Now().Add(-day), true)
	w, err := st.Create(ctx, backup.NewID(time.Now().Add(-2*time.Hour)), "database.dump.zst") // a killed backup
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half a dump"))
	w.Close()
	_, leftovers, _ := st.List(ctx)
	if len(leftovers) != 1 {
		t.Fatalf("leftovers %v", leftovers)
	}
	// A dump a killed restore staged.
	work := cfg.Restore.WorkDirIn(cfg.StateDir)
	os.MkdirAll(work, 0o700)
	staged := filepath.Join(work, kept+".dump")
	if err := os.WriteFile(staged, []byte("a decompressed dump"), 0o600); err != nil {
		t.Fatal(err)
	}

	state := func() (archivesLeft []string, dbs []string, sets, left []string) {
		for _, p := range files {
			if _, err := os.Stat(p); err == nil {
				archivesLeft = append(archivesLeft, filepath.Base(p))
			}
		}
		slices.Sort(archivesLeft)
		conn, err := pgx.Connect(ctx, sb.Postgres.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(accesstest.Admin(context.Background()))
		rows, _ := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'stockdb_pre_%' ORDER BY 1")
		dbs, _ = pgx.CollectRows(rows, pgx.RowTo[string])
		sets, left, _ = st.List(ctx)
		return
	}
	a0, d0, s0, l0 := state()

	e := newEngine(t, cfg)
	rep, err := e.Run(ctx, Options{Mode: ModeCleanup, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	pending := rep.PendingActions()
	var kinds []string
	for _, f := range pending {
		kinds = append(kinds, string(f.Action.Kind)+" "+f.Action.Target())
	}
	slices.Sort(kinds)
	want := []string{"delete-file " + cfg.Maintenance.LogArchives[0], "delete-staged-dumps restore work directory", "drop-database " + oldDB, "prune-backups backup store"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("listed actions %q, want %q", kinds, want)
	}
	a1, d1, s1, l1 := state()
	if !slices.Equal(a0, a1) || !slices.Equal(d0, d1) || !slices.Equal(s0, s1) || !slices.Equal(l0, l1) {
		t.Fatalf("the dry run changed something: %v %v %v %v → %v %v %v %v", a0, d0, s0, l0, a1, d1, s1, l1)
	}
	for _, f := range pending {
		if f.Action.Kind == ActDeleteFile && len(f.Action.Files) != 2 {
			t.Errorf("listed files: %+v", f.Action.Files)
		}
		if f.Action.Kind == ActPruneBackups && (!slices.Equal(f.Action.Backups, []string{expired}) || !slices.Equal(f.Action.Leftovers, leftovers)) {
			t.Errorf("listed backups: %+v", f.Action)
		}
	}

	// The real run deletes exactly what was listed.
	if st := e.ApplyAll(ctx, rep, pending, nil); st.ExitCode() != 0 {
		t.Fatalf("actions: %+v", rep.Actions)
	}
	a2, d2, s2, l2 := state()
	if !slices.Equal(a2, []string{"api-3.log.gz"}) || !slices.Equal(d2, []string{youngDB}) || !slices.Equal(s2, []string{kept}) || len(l2) != 0 {
		t.Errorf("after cleanup: archives %v, databases %v, sets %v, leftovers %v", a2, d2, s2, l2)
	}
	if _, err := os.Stat(staged); err == nil {
		t.Errorf("the staged dump is still there")
	}
	if len(rep.PendingActions()) != 0 {
		t.Errorf("still pending: %+v", rep.PendingActions())
	}
	var audited []string
	for _, r := range auditRecords(t, cfg) {
		audited = append(audited, r.Action+":"+r.Result)
	}
	slices.Sort(audited)
	if !slices.Equal(audited, []string{"backup.prune:ok", "maintain.delete-file:ok", "maintain.delete-staged-dumps:ok", "maintain.drop-database:ok"}) {
		t.Errorf("audit: %v", audited)
	}
}

func TestCleanupRechecksBeforeDeleting(t *testing.T) {
	cfg := sandboxConfig(t)
	day := 24 * time.Hour
	logs := t.TempDir()
	files := archives(t, logs, map[string]time.Duration{"a.gz": 20 * day})
	cfg.Maintenance.LogArchives = []string{filepath.Join(logs, "*.gz")}
	e := newEngine(t, cfg)
	rep, err := e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeCleanup})
	if err != nil {
		t.Fatal(err)
	}
	var f Finding
	for _, x := range rep.PendingActions() {
		if x.Action.Kind == ActDeleteFile {
			f = x
		}
	}
	// The file is written to after the listing: it is kept.
	if err := os.WriteFile(files["a.gz"], []byte("fresh"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := e.Apply(accesstest.Admin(t.Context()), f, nil)
	if res.OK {
		t.Errorf("a changed file was deleted: %+v", res)
	}
	if _, err := os.Stat(files["a.gz"]); err != nil {
		t.Errorf("the file is gone: %v", err)
	}
	// A pattern no longer configured is refused outright.
	cfg.Maintenance.LogArchives = []string{"/var/log/other/*.gz"}
	if res := e.Apply(accesstest.Admin(t.Context()), f, nil); !res.Refused {
		t.Errorf("an unconfigured pattern: %+v", res)
	}
	// A database that is not a pre-restore copy is never dropped.
	drop := Finding{Area: AreaCleanup, Check: "pre-restore databases", Object: "postgres",
		Action: &Action{Kind: ActDropDatabase, Database: "postgres"}}
	if res := e.Apply(accesstest.Admin(t.Context()), drop, nil); !res.Refused {
		t.Errorf("drop of postgres: %+v", res)
	}
}
