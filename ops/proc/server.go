package proc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServerSpec describes a child server process.
type ServerSpec struct {
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
	// OnStart, when set, is called with the pid once the process runs,
	// before anything can see it exit; OnExit once it has exited, before
	// Done is closed. A caller records its children with them.
	OnStart func(pid int)
	OnExit  func(pid int)
}

// Server is a running child server. Its stdout and stderr go to LogPath.
// It leads its own process group, so Stop and Kill reach its children too,
// and it receives its DeathSignal if this program dies without stopping it.
type Server struct {
	Name    string
	LogPath string
	PID     int

	spec ServerSpec
	done chan struct{}
	err  error // exit status, valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// StartServer starts spec's program with its parent-death signal. It
// returns once the program runs; use WaitReady to wait until it serves.
func StartServer(spec ServerSpec) (*Server, error) {
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
	logPath := filepath.Join(spec.Dir, spec.LogName)
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
	child, err := StartSignal(cmd, spec.DeathSignal)
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	if spec.OnStart != nil {
		spec.OnStart(child.Pid)
	}
	p := &Server{
		Name:    spec.Name,
		LogPath: logPath,
		PID:     child.Pid,
		spec:    spec,
		done:    make(chan struct{}),
	}
	go func() {
		p.err = child.Wait()
		if spec.OnExit != nil {
			spec.OnExit(child.Pid)
		}
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Server) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Server) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitErr is what waiting for the process returned; nil while it runs.
func (p *Server) ExitErr() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// WaitReady calls probe every 50 ms until it returns nil, the process exits
// (an error with the end of its log, at once), or timeout passes (an error
// with the last probe error and the end of the log).
func (p *Server) WaitReady(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
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
func (p *Server) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(p.spec.StopSignal, p.spec.StopGrace) })
	return p.stopErr
}

// Kill sends SIGKILL to the process, its group and all its descendants at
// once and waits, like a crash.
func (p *Server) Kill() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(syscall.SIGKILL, 0) })
	return p.stopErr
}

func (p *Server) stop(sig syscall.Signal, grace time.Duration) error {
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
	if left := WaitGone(killed, 5*time.Second); len(left) > 0 {
		return fmt.Errorf("%s: processes %v survived SIGKILL for 5s — kill them by hand", p.Name, left)
	}
	return nil
}

// killTree sends SIGKILL to the process, its process group and every
// descendant (servers such as PostgreSQL put each child in a session of its
// own, out of the group's reach), and returns the descendants.
func (p *Server) killTree() []int {
	kids := descendants(p.PID)
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	for _, pid := range kids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return kids
}

// LogTail returns the last n lines of the process log, indented.
func (p *Server) LogTail(n int) string { return TailFile(p.LogPath, n) }

// WaitGone waits until none of pids runs (a zombie counts as gone: its
// parent, not us, reaps it) and returns those still running at the deadline.
func WaitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, pid := range pids {
			if fields, ok := StatFields(pid); ok && fields[0] != "Z" && fields[0] != "X" {
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
		if fields, ok := StatFields(child); ok {
			if ppid, err := strconv.Atoi(fields[1]); err == nil {
				children[ppid] = append(children[ppid], child)
			}
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

// StatFields returns the fields of /proc/<pid>/stat after "pid (comm) " —
// state, ppid, ...; comm may hold spaces and parentheses. It reports false
// when there is no such process (or no /proc).
func StatFields(pid int) ([]string, bool) {
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

// TailFile returns the last n lines of the file at path, indented, for
// error messages.
func TailFile(path string, n int) string {
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
