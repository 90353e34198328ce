package wal

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// The streaming benchmark starts its own server and runs pgbench for
// minutes, so it runs only when asked: scripts/bench-wal.sh (make bench)
// sets OPSDECK_BENCH_WAL=1. OPSDECK_BENCH_QUICK=1 shortens every phase.
func benchWAL(b *testing.B) (load, pair time.Duration, pairs int) {
	if os.Getenv("OPSDECK_BENCH_WAL") != "1" {
		b.Skip("set OPSDECK_BENCH_WAL=1 (scripts/bench-wal.sh) to run the WAL streaming benchmark")
	}
	for _, tool := range []string{"pgbench", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed (make deps installs it)", tool)
		}
	}
	if os.Getenv("OPSDECK_BENCH_QUICK") == "1" {
		return 15 * time.Second, 8 * time.Second, 2
	}
	return 60 * time.Second, 20 * time.Second, 3
}

// child is a streamer process: the last LSN it made durable, and its CPU
// time.
type child struct {
	cmd     *exec.Cmd
	done    chan struct{}
	durable atomic.Uint64
}

// stop ends the child and returns its CPU time.
func (c *child) stop(b *testing.B) time.Duration {
	b.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	<-c.done
	u := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// caughtUp waits until the child has made the server's WAL durable up to
// where it is now (a streamer starting behind catches up first, which
// is not the steady state the benchmark measures), and returns the
// child's CPU time so far.
func (c *child) caughtUp(b *testing.B, cl *cluster) time.Duration {
	b.Helper()
	target := cl.currentLSN(b)
	deadline := time.Now().Add(2 * time.Minute)
	for pgwal.LSN(c.durable.Load()) < target {
		if time.Now().After(deadline) {
			b.Fatalf("the streamer did not catch up to %s in 2 minutes (durable %s)", target, pgwal.LSN(c.durable.Load()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return procCPU(b, c.cmd.Process.Pid)
}

// procCPU is a running process's CPU time (user and system) from /proc.
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is the
	// first, utime the 12th and stime the 13th, in clock ticks (100/s).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// startChildStreamer runs the streamer in a process of its own (the test
// binary, childMain), reporting each durable LSN with the clock.
func startChildStreamer(b *testing.B, c *cluster, onDurable func(pgwal.LSN, time.Time)) *child {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "OPSDECK_WAL_TEST_DSN="+c.pg.DSN(),
		"OPSDECK_WAL_TEST_STORE="+c.cfg.Backup.Dir, "OPSDECK_WAL_TEST_STATE="+c.cfg.StateDir,
		"OPSDECK_WAL_TEST_FLUSH=1s", "OPSDECK_WAL_TEST_CLOCK=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	ch := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "durable" {
				continue
			}
			lsn, err1 := pgwal.ParseLSN(f[1])
			ns, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			ch.durable.Store(uint64(lsn))
			if onDurable != nil {
				onDurable(lsn, time.Unix(0, ns))
			}
		}
		cmd.Wait()
		close(ch.done)
	}()
	return ch
}

// pgbench runs pgbench against c for d and returns its TPS.
func pgbench(b *testing.B, c *cluster, d time.Duration) float64 {
	b.Helper()
	out, err := exec.Command("pgbench", "-c", "4", "-j", "2", "-n", "-T", strconv.Itoa(int(d.Seconds())), c.pg.DSN()).CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "tps = "); ok {
			v, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return v
		}
	}
	b.Fatalf("no tps in pgbench's output:\n%s", out)
	return 0
}

type probe struct {
	at  time.Time
	lsn pgwal.LSN
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkWALStreaming: under pgbench -c 4 -j 2 at full speed, on one
// server with synchronous_commit on,
//
//   - the loss window: a probe commits every 50 ms and notes the clock and
//     its commit's end LSN; the streamer (a process of its own, 1 s flush,
//     local store) reports every LSN made durable with the clock; the
//     window of a probe is the time from its commit to the first durable
//     report at or past it — p50/p99/max;
//   - CPU: the streamer's against pg_receivewal --synchronous into a local
//     directory plus zstd -3 of each finished segment, both attached to
//     the same run through slots of their own;
//   - pgbench's TPS with and without the streamer, alternating pairs.
func BenchmarkWALStreaming(b *testing.B) {
	load, pairLen, pairs := benchWAL(b)
	c := startClusterSegments(b, map[string]string{"synchronous_commit": "on", "fsync": "on"}, 0) // 16 MiB, as in production
	if out, err := exec.Command("pgbench", "-i", "-s", "10", "-q", c.pg.DSN()).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	c.exec(b, "CREATE TABLE probe (id serial, at timestamptz default now())")

	var mu sync.Mutex
	var durable []probe
	s := startChildStreamer(b, c, func(l pgwal.LSN, at time.Time) {
		mu.Lock()
		durable = append(durable, probe{at, l})
		mu.Unlock()
	})
	// Measured from where the streamer has caught up with the WAL written
	// before it started (pgbench -i's), as pg_receivewal starts at the
	// server's current position.
	streamerCPU0 := s.caughtUp(b, c)
	// pg_receivewal through its own slot, into a directory; zstd of each
	// segment it finishes, timed as children.
	recvDir := b.TempDir()
	c.exec(b, "SELECT pg_create_physical_replication_slot('bench_receivewal', true)")
	recv := exec.Command(filepath.Join(c.pg.BinDir, "pg_receivewal"), "--synchronous", "--slot=bench_receivewal", "-D", recvDir, "-d", c.pg.DSN(), "--no-password")
	recv.Stderr = os.Stderr
	if err := recv.Start(); err != nil {
		b.Fatal(err)
	}
	recvDone := make(chan struct{})
	go func() { recv.Wait(); close(recvDone) }()
	var zstdCPU time.Duration
	zstdSeen := map[string]bool{}
	compressFinished := func() {
		entries, _ := os.ReadDir(recvDir)
		for _, e := range entries {
			n := e.Name()
			if !pgwal.IsSegmentName(n) || zstdSeen[n] {
				continue
			}
			zstdSeen[n] = true
			z := exec.Command("zstd", "-3", "-q", "-f", filepath.Join(recvDir, n), "-o", filepath.Join(recvDir, n+".zst"))
			if err := z.Run(); err == nil {
				u := z.ProcessState.SysUsage().(*syscall.Rusage)
				zstdCPU += time.Duration(u.Utime.Nano() + u.Stime.Nano())
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var probes []probe
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		conn, err := pgx.Connect(ctx, c.pg.DSN())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			var l string
			if _, err := conn.Exec(ctx, "INSERT INTO probe DEFAULT VALUES"); err != nil {
				return
			}
			at := time.Now()
			if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&l); err != nil {
				return
			}
			lsn, _ := pgwal.ParseLSN(l)
			probes = append(probes, probe{at, lsn})
			time.Sleep(50 * time.Millisecond)
		}
	}()
	tick := time.NewTicker(time.Second)
	loadDone := make(chan float64, 1)
	go func() { loadDone <- pgbench(b, c, load) }()
	var loadTPS float64
wait:
	for {
		select {
		case loadTPS = <-loadDone:
			break wait
		case <-tick.C:
			compressFinished()
		}
	}
	tick.Stop()
	cancel()
	<-probeDone
	time.Sleep(3 * time.Second) // the last flush
	streamerCPU := s.stop(b) - streamerCPU0
	recv.Process.Signal(syscall.SIGINT)
	<-recvDone
	compressFinished()
	ru := recv.ProcessState.SysUsage().(*syscall.Rusage)
	recvCPU := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())

	mu.Lock()
	var windows []time.Duration
	for _, p := range probes {
		for _, d := range durable {
			if d.lsn >= p.lsn {
				windows = append(windows, max(d.at.Sub(p.at), 0))
				break
			}
		}
	}
	mu.Unlock()
	missed := len(probes) - len(windows)

	// TPS without a WAL receiver, with the streamer and with
	// pg_receivewal --synchronous (what any streaming receiver costs the
	// server: a walsender woken at every commit), alternating.
	var with, without, withRecv []float64
	for i := 0; i < pairs; i++ {
		without = append(without, pgbench(b, c, pairLen))
		st := startChildStreamer(b, c, nil)
		st.caughtUp(b, c) // the WAL of the run without it
		with = append(with, pgbench(b, c, pairLen))
		st.stop(b)
		dir := b.TempDir()
		c.exec(b, "SELECT pg_drop_replication_slot('bench_receivewal')")
		c.exec(b, "SELECT pg_create_physical_replication_slot('bench_receivewal', true)")
		r := exec.Command(filepath.Join(c.pg.BinDir, "pg_receivewal"), "--synchronous", "--slot=bench_receivewal", "-D", dir, "-d", c.pg.DSN(), "--no-password")
		if err := r.Start(); err != nil {
			b.Fatal(err)
		}
		withRecv = append(withRecv, pgbench(b, c, pairLen))
		r.Process.Signal(syscall.SIGINT)
		r.Wait()
	}
	c.exec(b, "SELECT pg_drop_replication_slot('bench_receivewal')")
	slices.Sort(with)
	slices.Sort(without)
	slices.Sort(withRecv)
	anchor := recvCPU + zstdCPU
	fmt.Printf("\nWAL streaming under pgbench -c 4 -j 2 for %s (%.0f tps), %d probes, %d segments received by pg_receivewal\n", load, loadTPS, len(probes), len(zstdSeen))
	fmt.Printf("  loss window (commit → durable in the store): p50 %s  p99 %s  max %s  (probes never made durable: %d)\n",
		percentile(windows, 0.5).Round(time.Millisecond), percentile(windows, 0.99).Round(time.Millisecond), percentile(windows, 1).Round(time.Millisecond), missed)
	fmt.Printf("  CPU: opsdeck streamer %s; pg_receivewal --synchronous %s + zstd -3 of each segment %s = %s; ratio %.2f×\n",
		streamerCPU.Round(time.Millisecond), recvCPU.Round(time.Millisecond), zstdCPU.Round(time.Millisecond), anchor.Round(time.Millisecond), float64(streamerCPU)/float64(anchor))
	fmt.Printf("  pgbench TPS, medians of %d alternating %s runs: without %.0f, with the streamer %.0f: %.3f×; with pg_receivewal --synchronous instead %.0f: %.3f×\n",
		pairs, pairLen, without[len(without)/2], with[len(with)/2], with[len(with)/2]/without[len(without)/2], withRecv[len(withRecv)/2], withRecv[len(withRecv)/2]/without[len(without)/2])
	b.ReportMetric(float64(percentile(windows, 0.99).Milliseconds()), "p99-loss-ms")
	b.ReportMetric(float64(streamerCPU)/float64(anchor), "cpu/anchor")
	b.ReportMetric(with[len(with)/2]/without[len(without)/2], "tps-ratio")
	b.ReportMetric(withRecv[len(withRecv)/2]/without[len(without)/2], "receivewal-tps-ratio")
}
