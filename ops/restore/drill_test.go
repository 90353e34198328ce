package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// drillFixture is a database of its own on the sandbox server with rows
// of the types whose text depends on the session, and a backup of it.
type drillFixture struct {
	t    *testing.T
	name string
	cfg  *config.Config
	be   *backup.Engine
	set  *backup.Manifest
}

func newDrillFixture(t *testing.T) *drillFixture {
	t.Helper()
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	f := &drillFixture{t: t, name: fmt.Sprintf("dr%d_%d", os.Getpid()%1000, dbSeq.Add(1))}
	admin, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+f.name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropAll(f.name) })
	conn, err := pgx.Connect(ctx, sb.Postgres.DSNFor(f.name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE stocks (id serial PRIMARY KEY, symbol text UNIQUE NOT NULL, gone int);
ALTER TABLE stocks DROP COLUMN gone;
CREATE TABLE ticks (id bigserial PRIMARY KEY, stock_id int REFERENCES stocks(id), at timestamptz, d date, span interval,
  px float8, qty numeric(12,2), raw bytea, meta jsonb, flags bool[], twice float8 GENERATED ALWAYS AS (px * 2) STORED);
CREATE TABLE empty (x int);
INSERT INTO stocks (symbol) SELECT 'S' || g FROM generate_series(1, 50) g;
INSERT INTO ticks (stock_id, at, d, span, px, qty, raw, meta, flags)
  SELECT 1 + g % 50, timestamptz '2026-01-01 00:00+00' + g * interval '37 seconds', date '2026-01-01' + g % 300,
    g * interval '1 minute 3.5 seconds', g / 7.0, g / 3.0, decode(md5(g::text), 'hex'),
    jsonb_build_object('g', g, 'tag', 'ü' || g), ARRAY[g % 2 = 0, NULL]
  FROM generate_series(1, 5000) g;`); err != nil {
		t.Fatal(err)
	}
	cfg := *sb.Config
	cfg.Postgres.DSN = sb.Postgres.DSNFor(f.name)
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	// The temporary instance runs as postgres: a work directory it reaches.
	work, err := os.MkdirTemp("", "drill-work-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(work, 0o755)
	t.Cleanup(func() { os.RemoveAll(work) })
	cfg.Restore.WorkDir = work
	f.cfg = &cfg
	be, err := backup.New(f.cfg, "test", f.cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Audit.Close() })
	f.be = be
	res, err := be.Backup(ctx, backup.Options{Kind: backup.Database})
	if err != nil {
		t.Fatal(err)
	}
	f.set = res.Manifest
	return f
}

func (f *drillFixture) drill(opts oprestore.Options) (*oprestore.Report, error) {
	f.t.Helper()
	ctx := accesstest.As(context.Background(), "test-operator", access.Operator)
	if opts.Kind == "" {
		opts.Kind = oprestore.Database
	}
	if opts.Drill == "" {
		opts.Drill = config.DrillInstance
	}
	e := oprestore.New(f.be)
	plan, err := e.Prepare(ctx, opts, nil)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, plan, nil)
}

// assertClean checks a drill left nothing: no instance directory, no
// staged dump, no journal, no scratch database.
func (f *drillFixture) assertClean() {
	f.t.Helper()
	entries, _ := os.ReadDir(f.cfg.Restore.WorkDirIn(f.cfg.StateDir))
	for _, e := range entries {
		f.t.Errorf("left in the work directory: %s", e.Name())
	}
	if _, err := os.Stat(filepath.Join(f.cfg.StateDir, oprestore.DrillJournalName)); err == nil {
		f.t.Error("the drill journal is left")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		f.t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", f.name+"_drill_%").Scan(&n)
	if n != 0 {
		f.t.Errorf("%d scratch databases left", n)
	}
}

func TestDrillDatabaseProvenByFingerprints(t *testing.T) {
	f := newDrillFixture(t)
	c, _ := f.set.Component(backup.Database)
	if c.Postgres.Session == nil || c.Postgres.Tables[0].Fingerprint == "" {
		t.Fatalf("the set has no fingerprints: %+v", c.Postgres)
	}
	for _, target := range []string{config.DrillInstance, config.DrillServer} {
		t.Run(target, func(t *testing.T) {
			rep, err := f.drill(oprestore.Options{Drill: target})
			if err != nil {
				t.Fatalf("drill: %v\n%+v", err, rep)
			}
			d := rep.Drill
			if d.Outcome != oprestore.Proven || d.Proof != oprestore.ProofFingerprints || d.Tables != 3 || d.Rows != 5050 || !d.Cleaned {
				t.Fatalf("drill result %+v", d)
			}
			if d.RTO <= 0 || d.RPO <= 0 {
				t.Errorf("RTO %v RPO %v", d.RTO, d.RPO)
			}
			md, err := os.ReadFile(rep.Path)
			if err != nil || !bytes.Contains(md, []byte("# Drill database from "+f.set.ID+": proven")) || !bytes.Contains(md, []byte("RTO")) {
				t.Fatalf("report %v:\n%s", err, md)
			}
			f.assertClean()
		})
	}
	recs, err := oprestore.ReadDrills(f.cfg.StateDir)
	if err != nil || len(recs) != 2 || !recs[1].Proven() || recs[1].Set != f.set.ID || len(recs[1].Steps) == 0 {
		t.Fatalf("history %v %+v", err, recs)
	}
	st := oprestore.DrillStatuses(recs)[backup.Database]
	if st.LastProven == nil || st.LastProven.Start != recs[1].Start {
		t.Fatalf("status %+v", st)
	}
}

// handSet stores a copy of f.set under a new ID whose dump went through
// alter before compression, the manifest (its fingerprints, counts)
// unchanged but for the file's size and checksum: a dump that
// decompresses fine and holds other data.
func (f *drillFixture) handSet(id string, alter func([]byte) []byte, edit func(*backup.Manifest)) *backup.Manifest {
	t := f.t
	ctx := context.Background()
	c, _ := f.set.Component(backup.Database)
	rc, err := backup.OpenFile(ctx, f.be.Store, f.set.ID, c.Files[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	data = alter(data)
	w, err := backup.Codec{Level: 3}.NewWriter(ctx, f.be.Store, id, c.Files[0].Name, c.Files[0].Format, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	file, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := *f.set
	m.ID = id
	m.Components = []backup.Component{*c}
	m.Components[0].Files = []backup.File{file}
	pg := *c.Postgres
	m.Components[0].Postgres = &pg
	if edit != nil {
		edit(&m)
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.be.Store.Commit(ctx, id, enc); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestDrillAlteredRowFailsNamingTheTable(t *testing.T) {
	f := newDrillFixture(t)
	id := backup.NewID(f.set.Start.Add(time.Hour))
	f.handSet(id, func(b []byte) []byte {
		// One stock renamed, same length: the chunk lengths still hold.
		i := bytes.Index(b, []byte("\tS17\n"))
		if i < 0 {
			t.Fatal("row not found in the dump")
		}
		b[i+1] = 'X'
		return b
	}, nil)
	rep, err := f.drill(oprestore.Options{ID: id})
	if err == nil {
		t.Fatal("the drill proved an altered set")
	}
	if rep.Drill.Outcome != oprestore.Failing || len(rep.Drill.Differ) != 1 || rep.Drill.Differ[0] != "public.stocks" || !strings.Contains(err.Error(), "public.stocks") || strings.Contains(err.Error(), "public.ticks") {
		t.Fatalf("err %v, result %+v", err, rep.Drill)
	}
	f.assertClean()
}

func TestDrillOldSetProvenByCounts(t *testing.T) {
	f := newDrillFixture(t)
	id := backup.NewID(f.set.Start.Add(2 * time.Hour))
	f.handSet(id, func(b []byte) []byte { return b }, func(m *backup.Manifest) {
		pg := m.Components[0].Postgres
		pg.Session = nil
		tables := append([]backup.TableCount(nil), pg.Tables...)
		for i := range tables {
			tables[i].Fingerprint = ""
		}
		pg.Tables = tables
	})
	rep, err := f.drill(oprestore.Options{ID: id})
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if rep.Drill.Proof != oprestore.ProofCounts {
		t.Fatalf("proof %q", rep.Drill.Proof)
	}
	md, _ := os.ReadFile(rep.Path)
	if !bytes.Contains(md, []byte("row counts only: the set was taken before opsdeck recorded fingerprints")) {
		t.Fatalf("the report does not say so:\n%s", md)
	}
	f.assertClean()
}

func TestDrillRefusedBesidePrune(t *testing.T) {
	f := newDrillFixture(t)
	l, err := backup.AcquireLock(f.be.Store, "prune", "someone")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = f.drill(oprestore.Options{})
	var r *oprestore.RefusedError
	if !errors.As(err, &r) {
		t.Fatalf("err %v, want a refusal", err)
	}
	// A backup may run beside a drill: readers share the store.
	l.Release()
	rl, err := backup.AcquireLockFor(f.be.Store, backup.LockBackup, "backup", "someone")
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Release()
	if _, err := f.drill(oprestore.Options{}); err != nil {
		t.Fatalf("a drill beside a backup: %v", err)
	}
}

// TestKilledDrillIsCleanedByTheNext kills a drill with SIGKILL right after
// pg_restore (its instance running, its dump staged; on the server, its
// scratch database made); the next drill removes all that first, then
// proves the set, and nothing is left running or on disk.
func TestKilledDrillIsCleanedByTheNext(t *testing.T) {
	f := newDrillFixture(t)
	cfgPath := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := f.cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{config.DrillInstance, config.DrillServer} {
		t.Run(target, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=pg_restore", "OPSDECK_RESTORE_TEST_CONFIG="+cfgPath, "OPSDECK_RESTORE_TEST_DRILL="+target)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("the child was not killed: %v %s", err, stderr.String())
			}
			data, err := os.ReadFile(filepath.Join(f.cfg.StateDir, oprestore.DrillJournalName))
			if err != nil {
				t.Fatalf("no journal: %v", err)
			}
			var j oprestore.Journal
			if err := json.Unmarshal(data, &j); err != nil || j.Database == nil {
				t.Fatalf("journal %v %s", err, data)
			}
			if target == config.DrillInstance && (j.Database.Instance == "" || j.Database.InstancePID == 0) {
				t.Fatalf("the journal names no instance: %s", data)
			}
			rep, err := f.drill(oprestore.Options{Drill: target})
			if err != nil {
				t.Fatalf("the next drill: %v", err)
			}
			if !strings.Contains(strings.Join(rep.Steps[0].Notes, "\n"), "did not finish: removing what it left") {
				t.Errorf("the next drill does not say it cleaned up: %v", rep.Steps[0].Notes)
			}
			if pid := j.Database.InstancePID; pid > 0 {
				if err := syscall.Kill(pid, 0); err == nil {
					t.Errorf("the killed drill's server (pid %d) still runs", pid)
				}
			}
			if j.Database.Instance != "" {
				if _, err := os.Stat(j.Database.Instance); err == nil {
					t.Errorf("the killed drill's instance directory %s is left", j.Database.Instance)
				}
			}
			f.assertClean()
		})
	}
}
