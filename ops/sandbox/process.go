// Package sandbox starts throwaway PostgreSQL, Redis and Kubernetes API servers on loopback and seeds them with the stock-analysis domain, for the tests and for opsdeck demo.
package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
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

// ProcessSpec describes a child server process (ops/proc's ServerSpec).
type ProcessSpec = proc.ServerSpec

// Process is a running child server (ops/proc's Server): its output goes to
// its LogPath, it leads its own process group, and it receives its
// DeathSignal if this program dies without stopping it.
type Process = proc.Server

// StartProcess starts spec's program and keeps it in this process's
// leftover record while it runs. It returns once the program runs; use
// WaitReady to wait until it serves.
func StartProcess(spec ProcessSpec) (*Process, error) {
	if spec.Name == "" {
		spec.Name = spec.Path
	}
	spec.OnStart, spec.OnExit = trackHooks(spec.Name, spec.OnStart, spec.OnExit)
	return proc.StartServer(spec)
}

// trackHooks returns start and exit hooks that keep a child in the leftover
// record and then call onStart and onExit (each may be nil).
func trackHooks(name string, onStart, onExit func(int)) (func(int), func(int)) {
	return func(pid int) {
			trackProcess(pid, name)
			if onStart != nil {
				onStart(pid)
			}
		}, func(pid int) {
			untrackProcess(pid)
			if onExit != nil {
				onExit(pid)
			}
		}
}

// waitGone, procState and procStat read /proc through ops/proc.
func waitGone(pids []int, timeout time.Duration) []int { return proc.WaitGone(pids, timeout) }

func procStat(pid int) ([]string, bool) { return proc.StatFields(pid) }

func procState(pid int) (byte, bool) {
	fields, ok := procStat(pid)
	if !ok {
		return 0, false
	}
	return fields[0][0], true
}

// tailFile returns the last n lines of the file at path, indented.
func tailFile(path string, n int) string { return proc.TailFile(path, n) }

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

// childEnv is our environment without variables that would steer the child
// server elsewhere (PGDATA, PGPORT, REDIS_*, ...).
func childEnv(dropPrefixes ...string) []string { return proc.Env(dropPrefixes...) }

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
