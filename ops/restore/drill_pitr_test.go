package restore_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// A PITR drill recovers the base backup and all the WAL after it and
// proves it: pg_verifybackup, replay past the archive's last record,
// pg_amcheck clean. A file changed after unpacking fails the manifest
// check; a page damaged after that check (as the disk would) fails
// pg_amcheck, naming the table. Nothing is left either way.
func TestDrillPITR(t *testing.T) {
	f := newDBFixture(t)
	// A table no write touches after the base backup: replay never
	// rewrites its pages, so damage done to them in the unpacked copy
	// stays for pg_amcheck to find.
	f.exec("CREATE TABLE still (id int PRIMARY KEY, note text); INSERT INTO still SELECT g, 'n' || g FROM generate_series(1, 500) g")
	f.exec("VACUUM FREEZE still")
	f.exec("CHECKPOINT")
	var stillPath string
	f.query("SELECT pg_relation_filepath('still')", &stillPath)
	s := f.archiving()
	f.exec("INSERT INTO stocks (symbol) VALUES ('AFTER'); INSERT INTO prices (stock_id, day, close) SELECT 1, date '2026-06-01', g FROM generate_series(1, 2000) g")
	f.archived(s)

	drill := func(t *testing.T, e *oprestore.Engine) (*oprestore.Report, error) {
		t.Helper()
		plan := f.prepare(e, oprestore.Options{Kind: oprestore.PITR, Drill: config.DrillInstance})
		var names []string
		for _, st := range plan.Steps {
			names = append(names, st.Name)
		}
		if got := strings.Join(names, " "); got != "preflight database.recover pitr.prove" {
			t.Fatalf("steps %s", got)
		}
		rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
		if rep == nil || rep.Drill == nil {
			t.Fatalf("no drill report: %v", err)
		}
		if left, _ := os.ReadDir(f.cfg.Restore.WorkDir); len(left) != 0 || !rep.Drill.Cleaned {
			t.Errorf("left in the work directory: %v (cleaned %v)", left, rep.Drill.Cleaned)
		}
		return rep, err
	}

	t.Run("proven", func(t *testing.T) {
		rep, err := drill(t, f.engine())
		if err != nil {
			t.Fatalf("drill: %v\n%+v", err, rep.Steps)
		}
		d := rep.Drill
		head, _ := pgwal.ParseLSN(d.Head)
		reached, _ := pgwal.ParseLSN(d.Reached)
		t.Logf("%s", oprestore.ProofText(d))
		if d.Outcome != oprestore.Proven || d.Proof != oprestore.ProofRecovery || head == 0 || reached <= head || d.Tables < 10 || d.Databases < 2 {
			t.Fatalf("result %+v", d)
		}
		// The archive's head is past the writes made after the base backup.
		var flushed string
		f.query("SELECT pg_current_wal_flush_lsn()::text", &flushed)
		if at, _ := pgwal.ParseLSN(flushed); reached > at {
			t.Errorf("replay ended at %s, past the server's flush %s", reached, at)
		}
		recs, err := oprestore.ReadDrills(f.cfg.StateDir)
		if err != nil || len(recs) != 1 || recs[0].Kind != oprestore.PITR || strings.Join(recs[0].Components, ",") != oprestore.PITR || !recs[0].Proven() {
			t.Fatalf("history %+v, %v", recs, err)
		}
		md, _ := os.ReadFile(rep.Path)
		if !strings.Contains(string(md), "pg_amcheck clean") || !strings.Contains(string(md), "since the archive's last write") {
			t.Errorf("report:\n%s", md)
		}
	})

	t.Run("killed", func(t *testing.T) {
		cfgPath := filepath.Join(t.TempDir(), "opsdeck.yaml")
		if err := f.cfg.Write(cfgPath); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=after:database.recover", "OPSDECK_RESTORE_TEST_CONFIG="+cfgPath,
			"OPSDECK_RESTORE_TEST_DRILL="+config.DrillInstance, "OPSDECK_RESTORE_TEST_DRILL_KIND="+oprestore.PITR)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		_ = cmd.Run()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("the child was not killed: %s", stderr.String())
		}
		data, err := os.ReadFile(filepath.Join(f.cfg.StateDir, oprestore.DrillJournalName))
		var j oprestore.Journal
		if err == nil {
			err = json.Unmarshal(data, &j)
		}
		if err != nil || j.Database == nil || j.Database.Instance == "" {
			t.Fatalf("journal %v %s", err, data)
		}
		rep, err := drill(t, f.engine())
		if err != nil {
			t.Fatalf("the next drill: %v", err)
		}
		if !strings.Contains(strings.Join(rep.Steps[0].Notes, "\n"), "did not finish: removing what it left") {
			t.Errorf("the next drill does not say it cleaned up: %v", rep.Steps[0].Notes)
		}
		if _, err := os.Stat(j.Database.Instance); err == nil {
			t.Errorf("the killed drill's instance directory %s is left", j.Database.Instance)
		}
		if pid := j.Database.InstancePID; pid > 0 && syscall.Kill(pid, 0) == nil {
			t.Errorf("the killed drill's server (pid %d) still runs", pid)
		}
	})

	t.Run("manifest", func(t *testing.T) {
		e := f.engine()
		oprestore.SetDirHook(e, "pitr.unpacked", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "PG_VERSION"), []byte("99\n"), 0o600)
		})
		rep, err := drill(t, e)
		t.Logf("%v", err)
		if err == nil || rep.Drill.Outcome != oprestore.Failing || !strings.Contains(err.Error(), "backup_manifest") || !strings.Contains(err.Error(), "PG_VERSION") {
			t.Fatalf("drill: %v (%+v)", err, rep.Drill)
		}
	})

	t.Run("amcheck", func(t *testing.T) {
		e := f.engine()
		oprestore.SetDirHook(e, "pitr.verified", func(dir string) error {
			// Block 0's first line pointer now runs past the page's end.
			file, err := os.OpenFile(filepath.Join(dir, stillPath), os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer file.Close()
			var lp [4]byte
			binary.LittleEndian.PutUint32(lp[:], 8000|1<<15|1000<<17)
			_, err = file.WriteAt(lp[:], 24)
			return err
		})
		rep, err := drill(t, e)
		t.Logf("%v", err)
		if err == nil || rep.Drill.Outcome != oprestore.Failing || len(rep.Drill.Differ) != 1 || !strings.HasSuffix(rep.Drill.Differ[0], ".public.still") {
			t.Fatalf("drill: %v (%+v)", err, rep.Drill)
		}
	})
}
