package pgtemp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/proc"
)

// requireServer skips when OPSDECK_SKIP_INTEGRATION=1 and fails when the
// server binaries are missing.
func requireServer(t *testing.T) {
	t.Helper()
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	if _, err := pgtemp.BinDir(0); err != nil {
		t.Fatalf("%v\nrun `make deps`, or set OPSDECK_SKIP_INTEGRATION=1 to skip", err)
	}
}

// start starts an instance and removes it after the test, checking that
// its directory is gone.
func start(t *testing.T, opts pgtemp.Options) *pgtemp.Instance {
	t.Helper()
	inst, err := pgtemp.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { remove(t, inst) })
	return inst
}

func remove(t *testing.T, inst *pgtemp.Instance) {
	t.Helper()
	pid := inst.PID()
	if err := inst.Remove(); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if _, err := os.Stat(inst.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists after Remove (%v)", inst.Dir, err)
	}
	if pid != 0 {
		if err := syscall.Kill(pid, 0); err == nil {
			if f, ok := proc.StatFields(pid); ok && f[0] != "Z" {
				t.Errorf("postgres (pid %d) still runs after Remove", pid)
			}
		}
	}
}

func query(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestNewCluster(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	var (
		mu              sync.Mutex // the hooks run on the goroutine that waits for the server
		started, exited []int
	)
	hooked := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(started), len(exited)
	}
	inst := start(t, pgtemp.Options{
		WALSegmentMB: 1,
		Settings:     map[string]string{"fsync": "off", "application_name": "pgtemp test"},
		Hooks: pgtemp.Hooks{
			Started: func(pid int) { mu.Lock(); started = append(started, pid); mu.Unlock() },
			Exited:  func(pid int) { mu.Lock(); exited = append(exited, pid); mu.Unlock() },
		},
	})
	conn, err := inst.Connect(ctx, "postgres")
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer conn.Close(context.Background())
	if got := query(t, ctx, conn, "SHOW wal_segment_size"); got != "1MB" {
		t.Errorf("wal_segment_size = %s, want 1MB", got)
	}
	if got := query(t, ctx, conn, "SHOW listen_addresses"); got != "127.0.0.1" {
		t.Errorf("listen_addresses = %s", got)
	}
	if got := query(t, ctx, conn, "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %s: Settings not applied", got)
	}
	mu.Lock()
	if len(started) != 1 || started[0] != inst.PID() {
		t.Errorf("Started hook saw %v, the server is %d", started, inst.PID())
	}
	mu.Unlock()

	// Over TCP the password is required.
	tcp, err := pgx.Connect(ctx, inst.DSN("postgres"))
	if err != nil {
		t.Fatalf("connect over TCP: %v", err)
	}
	tcp.Close(ctx)
	bad := strings.Replace(inst.DSN("postgres"), inst.Password, "wrong", 1)
	if c, err := pgx.Connect(ctx, bad); err == nil {
		c.Close(ctx)
		t.Error("connected with a wrong password")
	}

	// As root, the server and its files are the postgres user's.
	if os.Geteuid() == 0 {
		fi, err := os.Stat(inst.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != inst.Account.UID || uid == 0 {
			t.Errorf("data directory owned by uid %d, want the postgres user's %d", uid, inst.Account.UID)
		}
		if f, ok := proc.StatFields(inst.PID()); !ok || len(f) < 2 {
			t.Fatal("no /proc entry for the server")
		}
		status, _ := os.ReadFile("/proc/" + itoa(inst.PID()) + "/status")
		if !strings.Contains(string(status), "\nUid:\t"+itoa(inst.Account.UID)+"\t") {
			t.Errorf("the server does not run as the postgres user:\n%s", status)
		}
	}
	if fi, err := os.Stat(inst.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("work directory: %v, mode %v; want 0700", err, fi.Mode())
	}

	// Kill and Restart: crash recovery on the same port.
	if err := inst.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := inst.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	c2, err := inst.Connect(ctx, "postgres")
	if err != nil {
		t.Fatalf("connect after Restart: %v", err)
	}
	c2.Close(ctx)
	if s, e := hooked(); s != 2 || e != 1 {
		t.Errorf("hooks saw %d starts and %d exits, want 2 and 1", s, e)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStartFailureQuotesTheLog(t *testing.T) {
	requireServer(t)
	base := t.TempDir()
	for _, dir := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := pgtemp.Start(t.Context(), pgtemp.Options{
		BaseDir:      base,
		WALSegmentMB: 1,
		Settings:     map[string]string{"shared_buffers": "not-a-size"},
	})
	if err == nil || !strings.Contains(err.Error(), "shared_buffers") {
		t.Fatalf("Start = %v, want the log's complaint about shared_buffers", err)
	}
	if left, _ := filepath.Glob(filepath.Join(base, "*")); len(left) > 0 {
		t.Errorf("a failed start left %v", left)
	}
}

func TestMissingBinariesNameThePackage(t *testing.T) {
	_, err := pgtemp.Start(t.Context(), pgtemp.Options{Major: 99})
	if err == nil || !strings.Contains(err.Error(), "postgresql-99") || !errors.Is(err, pgtemp.ErrNotInstalled) {
		t.Fatalf("Start = %v, want ErrNotInstalled naming postgresql-99", err)
	}
	_, err = pgtemp.Start(t.Context(), pgtemp.Options{BinDir: t.TempDir()})
	if err == nil || !errors.Is(err, pgtemp.ErrNotInstalled) {
		t.Fatalf("Start with an empty BinDir = %v, want ErrNotInstalled", err)
	}
}

func TestMissingServiceUser(t *testing.T) {
	requireServer(t)
	if os.Geteuid() != 0 {
		t.Skip("only root runs the server as another user")
	}
	_, err := pgtemp.Start(t.Context(), pgtemp.Options{User: "opsdeck-no-such-user"})
	if err == nil || !strings.Contains(err.Error(), `no "opsdeck-no-such-user" user`) {
		t.Fatalf("Start = %v, want the missing user named", err)
	}
}

// A base backup taken with pg_basebackup, WAL archived by the primary's
// archive_command, and a recovery instance on the restored copy that
// replays the archive up to a restore point and is promoted.
func TestRecoveryToARestorePoint(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	primary := start(t, pgtemp.Options{WALSegmentMB: 1})
	// The archive and the backup, in a directory the postgres user owns.
	work, err := os.MkdirTemp("", "opsdeck-pgtemp-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	archive, backup := filepath.Join(work, "archive"), filepath.Join(work, "backup")
	for _, d := range []string{work, archive} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := primary.Account.Chown(d); err != nil {
			t.Fatal(err)
		}
	}
	// archive_mode needs a restart.
	if err := primary.Stop(); err != nil {
		t.Fatal(err)
	}
	primary2 := start(t, pgtemp.Options{
		DataDir:  primary.DataDir,
		Password: primary.Password,
		Settings: map[string]string{"archive_mode": "on", "archive_command": "cp %p " + archive + "/%f"},
	})
	conn, err := primary2.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE TABLE t (id int)")
	exec("INSERT INTO t SELECT generate_series(1, 100)")
	cmd := primary2.Command(ctx, "pg_basebackup", "-D", backup, "-h", primary2.Dir, "-p", itoa(primary2.Port),
		"-U", primary2.Superuser, "-X", "none", "-c", "fast", "--no-sync")
	if out, err := runOut(cmd); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	exec("INSERT INTO t SELECT generate_series(101, 250)")
	exec("SELECT pg_create_restore_point('before_delete')")
	exec("DELETE FROM t")
	last := query(t, ctx, conn, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	exec("SELECT pg_switch_wal()")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := query(t, ctx, conn, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver"); got >= last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not archived after 30s", last)
		}
		time.Sleep(50 * time.Millisecond)
	}

	rec := start(t, pgtemp.Options{
		DataDir: backup,
		Recovery: &pgtemp.Recovery{
			RestoreCommand: "cp " + archive + "/%f %p",
			TargetName:     "before_delete",
			TargetAction:   "promote",
		},
	})
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := rec.WaitRecovery(wctx); err != nil {
		t.Fatalf("WaitRecovery: %v", err)
	}
	rc, err := rec.Connect(ctx, "postgres")
	if err != nil {
		t.Fatalf("connect to the recovered instance (trusted socket): %v", err)
	}
	defer rc.Close(context.Background())
	if got := query(t, ctx, rc, "SELECT count(*)::text FROM t"); got != "250" {
		t.Errorf("recovered %s rows, want the 250 of the restore point", got)
	}
	if got := query(t, ctx, rc, "SELECT pg_is_in_recovery()::text"); got != "false" {
		t.Errorf("pg_is_in_recovery() = %s after WaitRecovery", got)
	}
	if _, err := os.Stat(filepath.Join(rec.Dir, "pg_hba.conf")); err != nil {
		t.Errorf("the instance's own pg_hba.conf: %v", err)
	}
}

// A recovery that cannot proceed stops the server; WaitRecovery (or Start)
// says so with the log.
func TestFailedRecoveryReportsTheLog(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	primary := start(t, pgtemp.Options{WALSegmentMB: 1})
	work, err := os.MkdirTemp("", "opsdeck-pgtemp-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := primary.Account.Chown(work); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(work, "backup")
	cmd := primary.Command(ctx, "pg_basebackup", "-D", backup, "-h", primary.Dir, "-p", itoa(primary.Port),
		"-U", primary.Superuser, "-X", "none", "-c", "fast", "--no-sync")
	cmd.Env = append(cmd.Env, "PGPASSWORD="+primary.Password)
	if out, err := runOut(cmd); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	// No WAL and a restore_command that finds nothing: the backup never
	// becomes consistent.
	rec, err := pgtemp.Start(ctx, pgtemp.Options{
		DataDir:  backup,
		Recovery: &pgtemp.Recovery{RestoreCommand: "false", TargetAction: "promote"},
	})
	if err != nil {
		if !strings.Contains(err.Error(), "exited") {
			t.Fatalf("Start = %v, want the exit and the log", err)
		}
		return
	}
	defer remove(t, rec)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = rec.WaitRecovery(wctx)
	if !errors.Is(err, pgtemp.ErrStopped) || !strings.Contains(err.Error(), "FATAL") {
		t.Fatalf("WaitRecovery = %v, want ErrStopped with the log's FATAL", err)
	}
}

func TestExistingDataDirOfAnotherMajor(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "PG_VERSION"), []byte("9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := pgtemp.Start(t.Context(), pgtemp.Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "postgresql-9") {
		t.Fatalf("Start = %v, want the missing postgresql-9 named", err)
	}
}

func runOut(cmd interface{ CombinedOutput() ([]byte, error) }) (string, error) {
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestOptionsRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		opts pgtemp.Options
		want string
	}{
		"two targets": {pgtemp.Options{DataDir: "/x", Recovery: &pgtemp.Recovery{TargetTime: "2026-01-01", TargetLSN: "0/1"}}, "at most one"},
		"bad action":  {pgtemp.Options{DataDir: "/x", Recovery: &pgtemp.Recovery{TargetAction: "resume"}}, "promote, pause or shutdown"},
		"standby with a target": {pgtemp.Options{DataDir: "/x", Recovery: &pgtemp.Recovery{Standby: true, TargetXID: "7"}},
			"no recovery target"},
		"recovery of a new cluster":  {pgtemp.Options{Recovery: &pgtemp.Recovery{}}, "existing data directory"},
		"segment size of an old one": {pgtemp.Options{DataDir: "/x", WALSegmentMB: 1}, "initdb"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pgtemp.Start(t.Context(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, want %q", err, tc.want)
			}
		})
	}
}
