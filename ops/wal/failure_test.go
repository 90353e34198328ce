package wal

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// A streamer killed with SIGKILL in the middle of a segment leaves only
// whole objects; the next one resumes from them with no hole and nothing
// that verify calls corrupt.
func TestStreamerKilledMidSegmentResumesWithoutGap(t *testing.T) {
	c := startCluster(t, nil)
	c.exec(t, "CREATE TABLE t (id int, pad text)")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=1", "OPSDECK_WAL_TEST_DSN="+c.pg.DSN(),
		"OPSDECK_WAL_TEST_STORE="+c.cfg.Backup.Dir, "OPSDECK_WAL_TEST_STATE="+c.cfg.StateDir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	durable := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "durable "); ok {
				durable <- l
			}
		}
		close(durable)
	}()
	// Write until a few chunks of an open segment are durable, then kill.
	c.exec(t, "SELECT pg_switch_wal()")
	chunks := 0
	deadline := time.After(60 * time.Second)
	for chunks < 4 {
		c.exec(t, "INSERT INTO t SELECT g, repeat('k', 100) FROM generate_series(1, 3000) g")
		select {
		case _, ok := <-durable:
			if !ok {
				t.Fatal("the child streamer ended")
			}
			chunks++
		case <-deadline:
			t.Fatal("no durable chunk within 60s")
		case <-time.After(150 * time.Millisecond):
		}
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	c.exec(t, "INSERT INTO t SELECT g, repeat('z', 100) FROM generate_series(1, 3000) g")
	r := startStreamer(t, c)
	c.exec(t, "SELECT pg_switch_wal()")
	c.exec(t, "INSERT INTO t VALUES (-1, 'after the kill')")
	r.waitDurable(t, c.currentLSN(t))
	if ev := strings.Join(r.s.State().Events, "\n"); !strings.Contains(ev, "resuming at") {
		t.Errorf("events: %s", ev)
	}
	r.stop(t)
	a := c.archive(t)
	res, err := a.VerifyWAL(context.Background(), nil, true, nil)
	if err != nil || !res.OK() || len(res.Gaps) != 0 {
		t.Fatalf("verify after kill -9: %v %q gaps %v", err, res.Problems, res.Gaps)
	}
}

// failingStore refuses every object write while fail is set, as a full
// or unreachable store does.
type failingStore struct {
	backup.Store
	fail atomic.Bool
}

func (f *failingStore) PutObject(ctx context.Context, key string, data []byte) error {
	if f.fail.Load() {
		return errors.New("no space left on device")
	}
	return f.Store.PutObject(ctx, key, data)
}

// While the store refuses writes nothing is acknowledged and the slot
// keeps the WAL; when it is back the streamer catches up with no hole.
// A server restart in between is survived too.
func TestStoreDownNothingAcknowledgedThenCatchesUp(t *testing.T) {
	c := startCluster(t, nil)
	fs := &failingStore{Store: c.e.Store}
	c.e.Store = fs
	c.exec(t, "CREATE TABLE t (id int, pad text)")
	r := startStreamer(t, c)
	c.exec(t, "INSERT INTO t VALUES (0, 'first')")
	r.waitDurable(t, c.currentLSN(t))

	fs.fail.Store(true)
	c.exec(t, "INSERT INTO t SELECT g, repeat('s', 100) FROM generate_series(1, 5000) g")
	want := c.currentLSN(t)
	deadline := time.Now().Add(20 * time.Second)
	for r.s.State().Phase != Waiting && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := r.s.State()
	if st.Phase != Waiting || !strings.Contains(st.Err, "no space left") {
		t.Fatalf("with the store down: %+v", st)
	}
	// What was durable when the writes began to fail (a chunk written
	// just before may have landed since the last look) stays so: the
	// retries store nothing and acknowledge nothing.
	acked := st.Durable
	if acked >= want {
		t.Fatalf("durable %s reached %s while the store refused writes", acked, want)
	}
	time.Sleep(5 * c.cfg.Postgres.WAL.FlushInterval)
	if st := r.s.State(); st.Durable != acked {
		t.Fatalf("durable moved from %s to %s while the store refused writes", acked, st.Durable)
	}
	slot := c.slot(t)
	restart, _ := pgwal.ParseLSN(slot.RestartLSN)
	if restart > acked || slot.RetainedBytes <= 0 {
		t.Fatalf("the slot let go of WAL never stored: restart %s, acknowledged %s, retained %d", restart, acked, slot.RetainedBytes)
	}

	// The server restarts meanwhile; then the store comes back.
	if err := c.pg.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(false)
	r.waitDurable(t, want)
	c.exec(t, "INSERT INTO t VALUES (-1, 'after')")
	r.waitDurable(t, c.currentLSN(t))
	r.stop(t)
	res, err := c.archive(t).VerifyWAL(context.Background(), nil, true, nil)
	if err != nil || !res.OK() || len(res.Gaps) != 0 {
		t.Fatalf("verify: %v %q gaps %v", err, res.Problems, res.Gaps)
	}
}

func (c *cluster) slot(t *testing.T) postgres.ArchiveSlot {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	a, err := postgres.ReadArchiving(context.Background(), conn, c.cfg.Postgres.WAL.Slot)
	if err != nil {
		t.Fatal(err)
	}
	return a.Slot
}
