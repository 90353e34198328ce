// Package sandbox starts throwaway PostgreSQL, Redis and Kubernetes API servers on loopback and seeds them with the stock-analysis domain, for the tests and for opsdeck demo.
package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/proc"
)

// ErrNotInstalled is returned (wrapped) when a server binary is missing.
var ErrNotInstalled = errors.New("server binaries not installed (run `make deps`)")

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ProcessSpec describes a child server process.
type ProcessSpec struct {
	// Name labels errors, e.g. "postgres".
	Name string
	Path string
	Args []string
	// Dir is the working directory; the log file goes there too.
	Dir string
	// LogName is the log file's name inside Dir (default Name + ".log").
	LogName string
	// Env replaces the environment when not nil.
	Env []string
	// Credential runs the process as another user (nil: as ourselves).
	Credential *syscall.Credential
	// StopSignal asks the process to shut down (default SIGTERM).
	StopSignal syscall.Signal
	// StopGrace is how long Stop waits before SIGKILL (default 5s).
	StopGrace time.Duration
	// DeathSignal is what the kernel sends the process when this program
	// dies without stopping it (Linux; default SIGKILL).
	DeathSignal syscall.Signal
}

// Process is a running child server. Its stdout and stderr go to LogPath.
// It leads its own process group, so Stop and Kill reach its children too,
// and it receives its DeathSignal if this program dies without stopping it
// (ops/proc). It is in this process's leftover record while it runs.
type Process struct {
	Name    string
	LogPath string
	PID     int

	spec ProcessSpec
	log  *os.File
	done chan struct{}
	err  error // exit status, valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// StartProcess starts spec's program. It returns once the program runs; use
// WaitReady to wait until it serves.
func StartProcess(spec ProcessSpec) (*Process, error) {
	if spec.Name == "" {
		spec.Name = spec.Path
	}
	if spec.LogName == "" {
		spec.LogName = spec.Name + ".log"
	}
	if spec.StopSignal == 0 {
		spec.StopSignal = syscall.SIGTERM
	}
	if spec.StopGrace <= 0 {
		spec.StopGrace = 5 * time.Second
	}
	if spec.DeathSignal == 0 {
		spec.DeathSignal = syscall.SIGKILL
	}
	logPath := spec.Dir + "/" + spec.LogName
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: create log file: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: spec.Credential,
	}
	child, err := proc.StartSignal(cmd, spec.DeathSignal)
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	trackProcess(child.Pid, spec.Name)
	p := &Process{
		Name:    spec.Name,
		LogPath: logPath,
		PID:     child.Pid,
		spec:    spec,
		log:     logFile,
		done:    make(chan struct{}),
	}
	go func() {
		p.err = child.Wait()
		untrackProcess(child.Pid)
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitReady calls probe every 50 ms until it returns nil, the process exits
// (an error with the end of its log, at once), or timeout passes (an error
// with the last probe error and the end of the log).
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited before it was ready (%v); its log ends:\n%s", p.Name, p.err, p.LogTail(15))
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			continue // report the exit above
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (last try: %v); its log ends:\n%s", p.Name, timeout, last, p.LogTail(15))
		case <-tick.C:
		}
	}
}

// Stop asks the process to shut down with its stop signal, sends SIGKILL to
// its whole process group if it has not exited after the grace period, and
// waits for it. It is safe to call more than once.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(p.spec.StopSignal, p.spec.StopGrace) })
	return p.stopErr
}

// Kill sends SIGKILL to the process, its group and all its descendants at
// once and waits, like a crash.
func (p *Process) Kill() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(syscall.SIGKILL, 0) })
	return p.stopErr
}

func (p *Process) stop(sig syscall.Signal, grace time.Duration) error {
	var killed []int
	if !p.Exited() {
		if sig == syscall.SIGKILL {
			killed = p.killTree()
			grace = 10 * time.Second // already killed: just wait below
		} else {
			_ = syscall.Kill(p.PID, sig)
		}
		select {
		case <-p.done:
		case <-time.After(grace):
			killed = append(killed, p.killTree()...)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("%s (pid %d) survived SIGKILL for 10s — kill it by hand", p.Name, p.PID)
			}
		}
	}
	// Orphaned children of a killed leader stay in its group: reap them too.
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	if left := waitGone(killed, 5*time.Second); len(left) > 0 {
		return fmt.Errorf("%s: processes %v survived SIGKILL for 5s — kill them by hand", p.Name, left)
	}
	return nil
}

// killTree sends SIGKILL to the process, its process group and every
// descendant (servers such as PostgreSQL put each child in a session of its
// own, out of the group's reach), and returns the descendants.
func (p *Process) killTree() []int {
	kids := descendants(p.PID)
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	for _, pid := range kids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return kids
}

// waitGone waits until none of pids runs (a zombie counts as gone: its
// parent, not us, reaps it) and returns those still running at the deadline.
func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, pid := range pids {
			if state, ok := procState(pid); ok && state != 'Z' && state != 'X' {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		pids = left
		time.Sleep(10 * time.Millisecond)
	}
}

// procState returns the state letter of pid from /proc/<pid>/stat.
func procState(pid int) (byte, bool) {
	fields, ok := procStat(pid)
	if !ok {
		return 0, false
	}
	return fields[0][0], true
}

// descendants returns the children, grandchildren and so on of pid, read
// from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(child); ok {
			children[ppid] = append(children[ppid], child)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentOf reads the parent pid of pid from /proc.
func parentOf(pid int) (int, bool) {
	fields, ok := procStat(pid)
	if !ok {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// procStat returns the fields of /proc/<pid>/stat after "pid (comm) " —
// state, ppid, ...; comm may hold spaces and parentheses.
func procStat(pid int) ([]string, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 > len(data) {
		return nil, false
	}
	fields := strings.Fields(string(data[i+2:]))
	if len(fields) < 2 || fields[0] == "" {
		return nil, false
	}
	return fields, true
}

// LogTail returns the last n lines of the process log.
func (p *Process) LogTail(n int) string { return tailFile(p.LogPath, n) }

// tailFile returns the last n lines of the file at path, indented.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "  (log is empty)"
	}
	return "  " + strings.Join(lines, "\n  ")
}

// PostgresBinDir returns the directory holding initdb and postgres:
// $OPSDECK_PG_BIN, else the highest /usr/lib/postgresql/<version>/bin.
func PostgresBinDir() (string, error) {
	if dir := os.Getenv("OPSDECK_PG_BIN"); dir != "" {
		if _, err := os.Stat(dir + "/postgres"); err != nil {
			return "", fmt.Errorf("OPSDECK_PG_BIN=%s has no postgres binary: %w", dir, ErrNotInstalled)
		}
		return dir, nil
	}
	entries, err := os.ReadDir("/usr/lib/postgresql")
	best := -1
	if err == nil {
		for _, e := range entries {
			v, convErr := strconv.Atoi(e.Name())
			if convErr != nil || v <= best {
				continue
			}
			if _, statErr := os.Stat("/usr/lib/postgresql/" + e.Name() + "/bin/postgres"); statErr == nil {
				best = v
			}
		}
	}
	if best < 0 {
		return "", fmt.Errorf("PostgreSQL server not found in /usr/lib/postgresql/<version>/bin "+
			"(install the postgresql package or set OPSDECK_PG_BIN): %w", ErrNotInstalled)
	}
	return fmt.Sprintf("/usr/lib/postgresql/%d/bin", best), nil
}

// RedisServerPath returns the redis-server binary: $OPSDECK_REDIS_SERVER,
// else redis-server on PATH.
func RedisServerPath() (string, error) {
	if path := os.Getenv("OPSDECK_REDIS_SERVER"); path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("OPSDECK_REDIS_SERVER=%s: %w", path, ErrNotInstalled)
		}
		return path, nil
	}
	for _, name := range []string{"redis-server", "/usr/bin/redis-server"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("redis-server not found on PATH (install the redis-server package "+
		"or set OPSDECK_REDIS_SERVER): %w", ErrNotInstalled)
}

// serviceUser is the account a server that refuses root runs as.
type serviceUser struct {
	cred *syscall.Credential // nil: run as ourselves
	uid  int
	gid  int
}

// lookupServiceUser returns the named account when we are root, and
// ourselves otherwise.
func lookupServiceUser(name string) (serviceUser, error) {
	if os.Geteuid() != 0 {
		return serviceUser{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return serviceUser{}, fmt.Errorf("running as root, but there is no %q user to run the server as "+
			"(install the server package, which creates it, or run as an ordinary user): %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return serviceUser{}, fmt.Errorf("user %q has a non-numeric uid or gid: %w", name, err)
	}
	return serviceUser{
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
		uid:  uid,
		gid:  gid,
	}, nil
}

// childEnv is our environment without variables that would steer the child
// server elsewhere (PGDATA, PGPORT, REDIS_*, ...).
func childEnv(dropPrefixes ...string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, p := range dropPrefixes {
			if strings.HasPrefix(kv, p) {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// Blackhole is a loopback TCP address whose listen queue is full, so that a
// new connection hangs in its handshake as if the network dropped it: a
// way to test connect timeouts that does not depend on the network.
type Blackhole struct {
	// Addr is "127.0.0.1:port".
	Addr string

	fd      int
	fillers []net.Conn
}

// StartBlackhole opens a listener with a backlog of zero that never
// accepts, and fills its queue.
func StartBlackhole() (*Blackhole, error) {
	// Close-on-exec under ForkLock, as the net package does where there is
	// no SOCK_CLOEXEC (darwin).
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("blackhole: socket: %w", err)
	}
	b := &Blackhole{fd: fd}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Close()
		return nil, fmt.Errorf("blackhole: bind: %w", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		b.Close()
		return nil, fmt.Errorf("blackhole: listen: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("blackhole: getsockname: %w", err)
	}
	b.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 16 {
		c, err := net.DialTimeout("tcp", b.Addr, 200*time.Millisecond)
		if err != nil {
			return b, nil // the queue is full: dials now hang
		}
		b.fillers = append(b.fillers, c)
	}
	b.Close()
	return nil, errors.New("blackhole: the listen queue never filled up")
}

// Close releases the listener and the connections that fill its queue.
func (b *Blackhole) Close() {
	for _, c := range b.fillers {
		c.Close()
	}
	b.fillers = nil
	if b.fd >= 0 {
		syscall.Close(b.fd)
		b.fd = -1
	}
}
