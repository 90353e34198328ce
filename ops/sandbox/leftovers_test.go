package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ownerEnv makes the test binary play an opsdeck that runs sandbox servers
// and gets killed: it starts PostgreSQL, Redis and the kube API server,
// prints "<name> <pid>" and "dir <dir>" lines, its record's path and
// "ready", and waits.
const ownerEnv = "OPSDECK_SANDBOX_TEST_OWNER"

func TestMain(m *testing.M) {
	if os.Getenv(ownerEnv) == "1" {
		playOwner()
		return
	}
	os.Exit(m.Run())
}

func playOwner() {
	fail := func(err error) {
		fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " | "))
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{})
	if err != nil {
		fail(err)
	}
	fmt.Println("postgres", pg.PID())
	fmt.Println("dir", pg.Dir)
	rd, err := StartRedis(ctx, RedisOptions{})
	if err != nil {
		fail(err)
	}
	fmt.Println("redis", rd.PID())
	fmt.Println("dir", rd.Dir)
	kube, err := StartKube(ctx, KubeOptions{})
	if err != nil {
		fail(err)
	}
	for _, pid := range serversIn(kube.dir, []string{"etcd", "kube-apiserver"}) {
		fmt.Println("kube", pid)
	}
	fmt.Println("dir", kube.dir)
	records.mu.Lock()
	fmt.Println("record", filepath.Join(records.dir, recordName(records.self)))
	records.mu.Unlock()
	fmt.Println("ready")
	select {}
}

// kill -9 of a process running the servers: the servers die with it (the
// parent-death signal, etcd and kube-apiserver included), and the next
// start removes their directories and the record.
func TestKilledOwnerLeavesNothing(t *testing.T) {
	kubeBinDirForTest(t)
	if _, err := PostgresBinDir(); err != nil {
		t.Fatal(err)
	}
	if _, err := RedisServerPath(); err != nil {
		t.Fatal(err)
	}
	owner := exec.Command(os.Args[0], "-test.run=^$")
	owner.Env = append(os.Environ(), ownerEnv+"=1")
	owner.Stderr = os.Stderr
	out, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = owner.Process.Kill()
			_ = owner.Wait()
		}
	}()
	servers := map[int]string{}
	var dirs []string
	var record string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		what, arg, _ := strings.Cut(sc.Text(), " ")
		switch what {
		case "ready":
		case "error":
			t.Fatalf("owner: %s", arg)
		case "dir":
			dirs = append(dirs, arg)
			continue
		case "record":
			record = arg
			continue
		default:
			pid, _ := strconv.Atoi(arg)
			servers[pid] = what
			continue
		}
		break
	}
	if len(servers) < 4 || len(dirs) != 3 {
		t.Fatalf("owner reported servers %v and dirs %v, want postgres, redis, etcd, kube-apiserver and 3 dirs", servers, dirs)
	}
	var r leftoverRecord
	if data, err := os.ReadFile(record); err != nil {
		t.Fatalf("the owner's record: %v", err)
	} else if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("the owner's record: %v", err)
	}
	if len(r.Dirs) != 3 || len(r.Procs) != 2 {
		t.Errorf("the record holds %d dirs and %d processes, want 3 and 2 (postgres, redis):\n%+v", len(r.Dirs), len(r.Procs), r)
	}

	if err := owner.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, out)
	_ = owner.Wait()
	killed = true
	deadline := time.Now().Add(15 * time.Second)
	for pid, name := range servers {
		for {
			if state, ok := procState(pid); !ok || state == 'Z' || state == 'X' {
				break
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("%s (pid %d) outlived its killed owner by 15s", name, pid)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// PostgreSQL's backends go with the postmaster (SIGQUIT: immediate
	// shutdown), and nothing else points into the directories.
	for _, d := range dirs {
		if pids := serversIn(d, serverNames); len(pids) > 0 {
			t.Errorf("processes still run in %s: %v", d, pids)
		}
	}

	msg := cleanLeftoversIn(filepath.Dir(record), "")
	t.Logf("clean: %s", msg)
	for _, d := range dirs {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the cleanup (%v)", d, err)
		}
	}
	if _, err := os.Lstat(record); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the record %s survived the cleanup (%v)", record, err)
	}
	if !strings.Contains(msg, strconv.Itoa(r.Owner)) {
		t.Errorf("summary %q does not tell the owner, pid %d", msg, r.Owner)
	}
}

// The cleanup of a dead owner's record kills what is provably its
// processes and removes its directories; it leaves a live owner's record,
// a recycled pid and anything not named like a sandbox directory alone.
func TestCleanLeftoversOfADeadOwner(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	recDir := t.TempDir()
	startSleep := func(path string) (*exec.Cmd, uint64) {
		t.Helper()
		cmd := exec.Command(path, "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		var start uint64
		for i := 0; i < 100; i++ {
			var ok bool
			if start, ok = processStart(cmd.Process.Pid); ok {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		return cmd, start
	}
	mkdir := func(base, pattern string) string {
		t.Helper()
		d, err := os.MkdirTemp(base, pattern)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(d) })
		if err := os.WriteFile(filepath.Join(d, "data"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	write := func(name string, r leftoverRecord) string {
		t.Helper()
		data, _ := json.Marshal(r)
		path := filepath.Join(recDir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// A dead owner: a process that ran and was reaped.
	gone := exec.Command("/bin/true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	boot := bootID()
	leftDir := mkdir("", "opsdeck-leftover-test-")
	// A server found by its command line pointing into the directory.
	binDir := filepath.Join(leftDir, "bin")
	if err := os.Mkdir(binDir, 0o700); err != nil {
		t.Fatal(err)
	}
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleepBin)
	if err != nil {
		t.Fatal(err)
	}
	fakeEtcd := filepath.Join(binDir, "etcd")
	if err := os.WriteFile(fakeEtcd, data, 0o700); err != nil {
		t.Fatal(err)
	}
	etcd, _ := startSleep(fakeEtcd)
	recorded, recordedStart := startSleep(sleepBin)
	recycled, recycledStart := startSleep(sleepBin)
	notOurs := mkdir(t.TempDir(), "keep-")
	dead := write(fmt.Sprintf("%d-1.json", gone.Process.Pid), leftoverRecord{
		Owner: gone.Process.Pid, OwnerStart: 1, Boot: boot,
		Dirs: []string{leftDir, notOurs},
		Procs: []recordedProc{
			{PID: recorded.Process.Pid, Start: recordedStart, Name: "redis"},
			{PID: recycled.Process.Pid, Start: recycledStart + 1, Name: "postgres"}, // the pid was reused
		},
	})
	// A live owner (us, under another name): left alone.
	liveDir := mkdir("", "opsdeck-leftover-test-")
	liveStart, _ := processStart(os.Getpid())
	live := write("live.json", leftoverRecord{Owner: os.Getpid(), OwnerStart: liveStart, Boot: boot, Dirs: []string{liveDir}})

	msg := cleanLeftoversIn(recDir, "self.json")

	wantKilled := func(cmd *exec.Cmd, what string) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("%s ended with %v, want SIGKILL", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s was not killed", what)
		}
	}
	wantKilled(recorded, "the recorded process")
	wantKilled(etcd, "the server pointing into the leftover directory")
	if state, ok := procState(recycled.Process.Pid); !ok || state == 'Z' {
		t.Error("a process whose start time does not match the record was killed")
	}
	if _, err := os.Lstat(leftDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the leftover directory survived: %v", err)
	}
	for _, keep := range []string{notOurs, liveDir, live} {
		if _, err := os.Lstat(keep); err != nil {
			t.Errorf("%s was removed: %v", keep, err)
		}
	}
	if _, err := os.Lstat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead owner's record survived: %v", err)
	}
	want := fmt.Sprintf("pid %d) left: 1 directories, 2 processes", gone.Process.Pid)
	if !strings.Contains(msg, want) {
		t.Errorf("summary %q, want it to say %q", msg, want)
	}
	if again := cleanLeftoversIn(recDir, "self.json"); again != "" {
		t.Errorf("a second cleanup found %q", again)
	}
}

// The record follows the servers: written when the first starts, gone (and
// its directory with it) when the last stops.
func TestRecordFollowsTheServers(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir, err := mkTempDir("", "opsdeck-record-test-")
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProcess(ProcessSpec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"60"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	records.mu.Lock()
	path := filepath.Join(records.dir, recordName(records.self))
	records.mu.Unlock()
	var r leftoverRecord
	if data, err := os.ReadFile(path); err != nil {
		t.Fatalf("no record while a server runs: %v", err)
	} else if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Dirs) != 1 || r.Dirs[0] != dir || len(r.Procs) != 1 || r.Procs[0].PID != p.PID || r.Owner != os.Getpid() {
		t.Errorf("record %+v, want %s and pid %d", r, dir, p.PID)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := removeDir(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Errorf("left behind after the last server stopped: %v", left)
	}
}
