package wal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/proc"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// extractBase writes the base backup's tar into dir.
func extractBase(t *testing.T, e *backup.Engine, m *backup.Manifest, dir string) {
	t.Helper()
	c, ok := m.Component(backup.Base)
	if !ok {
		t.Fatal("no base component")
	}
	for _, f := range c.Files {
		if f.Format == backup.FormatBaseTar {
			if err := backup.ExtractBase(context.Background(), e.Store, m.ID, f, nil, dir, nil); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no tar in %+v", c.Files)
}

func count(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// A base backup and the WAL streamed after it, under pgbench, recover in
// a scratch instance (run as postgres, from a staging directory it owns)
// to the last archived byte: the rows of the last committed transactions
// are there.
func TestBaseAndWALRecoverToTheLastArchivedByte(t *testing.T) {
	if _, err := exec.LookPath("pgbench"); err != nil {
		t.Skip("pgbench is not installed (make deps installs it)")
	}
	c := startCluster(t, nil)
	ctx := accesstest.Admin(context.Background())
	r := startStreamer(t, c)
	bench := func(args ...string) {
		t.Helper()
		cmd := exec.Command("pgbench", append(args, c.pg.DSN())...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pgbench %v: %v\n%s", args, err, out)
		}
	}
	bench("-i", "-s", "1", "-q")
	res, err := c.e.Backup(ctx, backup.Options{Kind: backup.Base})
	if err != nil {
		t.Fatal(err)
	}
	bench("-T", "5", "-c", "2", "-j", "2", "-n")
	c.exec(t, "CREATE TABLE marker (note text)")
	// A synchronous commit: the server's flush position is then past it
	// (the sandbox commits asynchronously, which could leave it behind).
	c.exec(t, "SET synchronous_commit = on; INSERT INTO marker VALUES ('the last committed transaction')")
	head := c.currentLSN(t)
	r.waitDurable(t, head)
	r.stop(t)

	conn, err := pgx.Connect(context.Background(), c.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	history := count(t, conn, "SELECT count(*) FROM pgbench_history")
	balance := count(t, conn, "SELECT sum(abalance) FROM pgbench_accounts")
	conn.Close(context.Background())
	if history == 0 {
		t.Fatal("pgbench wrote no history")
	}

	results, err := c.e.VerifyArchives(ctx, true, nil)
	if err != nil || len(results) != 1 || len(results[0].Coverage) != 1 || !results[0].Coverage[0].OK() || len(results[0].Spans) != 1 {
		t.Fatalf("verify: %v %+v", err, results)
	}

	work, err := os.MkdirTemp("", "opsdeck-recovery-*") // traversable by postgres
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	os.Chmod(work, 0o755)
	data, stage := filepath.Join(work, "data"), filepath.Join(work, "wal")
	for _, d := range []string{data, stage} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	extractBase(t, c.e, res.Manifest, data)
	a := c.archive(t)
	acct, err := proc.ServiceAccount("postgres")
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.StageWAL(context.Background(), stage, backup.StageOptions{Chown: acct.Chown})
	if err != nil || n == 0 {
		t.Fatalf("staged %d: %v", n, err)
	}
	if err := acct.Chown(stage); err != nil {
		t.Fatal(err)
	}
	inst, err := pgtemp.Start(context.Background(), pgtemp.Options{
		BaseDir: work, DataDir: data, Superuser: sandbox.PostgresSuperuser, Password: c.pg.Password,
		Recovery: &pgtemp.Recovery{RestoreCommand: fmt.Sprintf("cp %s/%%f %%p", stage), TargetAction: "promote"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Remove() })
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := inst.WaitRecovery(wctx); err != nil {
		t.Fatalf("recovery: %v\n%s", err, inst.LogTail(30))
	}
	rc, err := inst.Connect(context.Background(), "stockdb")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(context.Background())
	if got := count(t, rc, "SELECT count(*) FROM pgbench_history"); got != history {
		t.Errorf("recovered %d history rows, the server had %d", got, history)
	}
	if got := count(t, rc, "SELECT sum(abalance) FROM pgbench_accounts"); got != balance {
		t.Errorf("recovered balance %d, the server had %d", got, balance)
	}
	var got int64
	if err := rc.QueryRow(context.Background(), "SELECT count(*) FROM marker WHERE note LIKE 'the last%'").Scan(&got); err != nil || got != 1 {
		objs, _ := c.e.Store.ListObjects(context.Background(), "wal/")
		var keys []string
		for _, o := range objs {
			keys = append(keys, fmt.Sprintf("%s %d", o.Key, o.Size))
		}
		staged, _ := os.ReadDir(stage)
		var names []string
		for _, e := range staged {
			names = append(names, e.Name())
		}
		t.Errorf("the last committed transaction is missing (%d, %v); head %s\narchive:\n%s\nstaged: %v\nlog:\n%s", got, err, head, strings.Join(keys, "\n"), names, inst.LogTail(40))
	}
	if log := inst.LogTail(200); !strings.Contains(log, "redo done at") {
		t.Logf("log:\n%s", log)
	}
}
