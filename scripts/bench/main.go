// Command bench is the harness behind `make bench` (docs/benchmarks.md): it
// starts one sandbox of 10,000 pods on 50 nodes, measures the cockpit and k9s
// on it side by side in tmux (first frame, filter, idle CPU, memory), times
// `opsdeck check` against the equivalent bash script, adds the Go benchmarks
// of the Health tab, and prints the table. The sandbox and every tmux session
// are removed on exit, on failure and on Ctrl-C.
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/opsdeck/opsdeck/ops/proc"
)

type options struct {
	opsdeck, k9s, kubectl, script string
	socket, workDir, out          string
	nodes, pods, starts           int
	checkRuns                     int
	idleWait, idleSample          time.Duration
	frameTimeout, readyTimeout    time.Duration
	goBench                       bool
	benchTime                     string
	width, height                 int
}

func main() {
	var o options
	flag.StringVar(&o.opsdeck, "opsdeck", "bin/opsdeck", "opsdeck binary")
	flag.StringVar(&o.k9s, "k9s", "", "k9s binary (empty: k9s is skipped)")
	flag.StringVar(&o.kubectl, "kubectl", "kubectl", "kubectl binary, for the bash morning check")
	flag.StringVar(&o.script, "script", "scripts/bench/morning-check.sh", "the bash morning check")
	flag.StringVar(&o.socket, "tmux-socket", "opsdeck-bench", "tmux socket name (-L)")
	flag.StringVar(&o.workDir, "work", "", "directory for logs and temp files (default: a new temp dir)")
	flag.StringVar(&o.out, "out", "bench-results.txt", "where to write the results table")
	flag.IntVar(&o.nodes, "nodes", 50, "sandbox nodes")
	flag.IntVar(&o.pods, "pods", 10000, "sandbox extra pods")
	flag.IntVar(&o.starts, "starts", 3, "cold starts per TUI for the first-frame figure (median)")
	flag.IntVar(&o.checkRuns, "check-runs", 10, "runs of opsdeck check and of the script")
	flag.DurationVar(&o.idleWait, "idle-wait", 10*time.Second, "wait after the first frame before sampling idle CPU")
	flag.DurationVar(&o.idleSample, "idle-sample", 10*time.Second, "idle CPU sampling window")
	flag.DurationVar(&o.frameTimeout, "frame-timeout", 90*time.Second, "give up waiting for a TUI's first frame after this")
	flag.DurationVar(&o.readyTimeout, "sandbox-timeout", 20*time.Minute, "give up waiting for the sandbox after this")
	flag.BoolVar(&o.goBench, "gobench", true, "run the Go benchmarks of the Health tab")
	flag.StringVar(&o.benchTime, "benchtime", "2s", "go test -benchtime")
	flag.IntVar(&o.width, "width", 200, "terminal width")
	flag.IntVar(&o.height, "height", 60, "terminal height")
	flag.Parse()

	code := run(o)
	os.Exit(code)
}

// ---------------------------------------------------------------------------
// cleanup

var (
	cleanupMu    sync.Mutex
	cleanupFuncs []func()
)

func atCleanup(f func()) {
	cleanupMu.Lock()
	cleanupFuncs = append(cleanupFuncs, f)
	cleanupMu.Unlock()
}

// cleanup runs the registered functions, last first, once each.
func cleanup() {
	cleanupMu.Lock()
	fs := cleanupFuncs
	cleanupFuncs = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(o options) (code int) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		logf("%s: cleaning up", s)
		cleanup()
		os.Exit(130)
	}()
	defer cleanup()
	defer func() {
		if r := recover(); r != nil {
			logf("panic: %v", r)
			code = 1
		}
	}()

	if o.workDir == "" {
		d, err := os.MkdirTemp("", "opsdeck-bench-")
		if err != nil {
			logf("%v", err)
			return 1
		}
		o.workDir = d
	}
	if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		logf("%v", err)
		return 1
	}
	logf("logs and captures in %s", o.workDir)

	res := &results{started: time.Now()}
	var err error
	if o.opsdeck, err = filepath.Abs(o.opsdeck); err != nil {
		logf("%v", err)
		return 1
	}
	if o.k9s != "" {
		if _, err := os.Stat(o.k9s); err != nil {
			res.notes = append(res.notes, fmt.Sprintf("k9s not run: %v", err))
			o.k9s = ""
		}
	} else {
		res.notes = append(res.notes, "k9s not run: no k9s binary (scripts/bench.sh builds one into the cache)")
	}
	if o.k9s != "" {
		res.k9sVersion = k9sVersion(o.k9s)
	}

	if o.goBench {
		logf("Go benchmarks of the Health tab (before the sandbox, on a quiet machine)")
		if err := goBenchmarks(o, res); err != nil {
			res.notes = append(res.notes, "Go benchmarks failed: "+err.Error())
			logf("Go benchmarks: %v", err)
		}
	}

	sb, err := startSandbox(o)
	if err != nil {
		logf("sandbox: %v", err)
		return 1
	}
	res.sandboxReady = sb.ready
	logf("sandbox ready in %s: %s", sb.ready.Round(100*time.Millisecond), sb.configPath)

	names, err := podNames(o, sb)
	if err != nil {
		logf("listing pods: %v", err)
		return 1
	}
	res.podCount = len(names)
	allPodNames = names
	logf("%d pods in %s", len(names), sb.namespace)

	tm, err := startTmux(o)
	if err != nil {
		logf("tmux: %v", err)
		return 1
	}

	target, prefix := filterTarget(names)
	if prefix != "" {
		logf("filter target %s (%s also starts another pod's name)", target, prefix)
	} else {
		logf("filter target %s (no pod differs from another in its last character: the last key is a Backspace)", target)
	}

	tools := []tui{{
		name: "opsdeck",
		argv: []string{"env", "OPSDECK_CONFIG=" + sb.configPath, o.opsdeck},
	}}
	if o.k9s != "" {
		k9sDir := filepath.Join(o.workDir, "k9s")
		if err := k9sConfig(k9sDir); err != nil {
			logf("k9s config: %v", err)
		}
		tools = append(tools, tui{
			name: "k9s",
			argv: []string{"env", "K9S_CONFIG_DIR=" + filepath.Join(k9sDir, "config"),
				"XDG_STATE_HOME=" + filepath.Join(k9sDir, "state"), "XDG_DATA_HOME=" + filepath.Join(k9sDir, "data"),
				"XDG_CACHE_HOME=" + filepath.Join(k9sDir, "cache"),
				o.k9s, "--kubeconfig", sb.kubeconfig, "--namespace", sb.namespace, "--command", "pods", "--logoless"},
			enter: true,
		})
	}
	for _, t := range tools {
		logf("measuring %s", t.name)
		res.notes = append(res.notes, fmt.Sprintf("load average when %s was measured: %s", t.name, loadAvg()))
		m := measureTUI(o, tm, t, target, prefix)
		res.tuis = append(res.tuis, m)
		for _, n := range m.notes {
			res.notes = append(res.notes, t.name+": "+n)
		}
	}
	tm.stop()

	logf("opsdeck check vs the bash morning check")
	if err := checkVsScript(o, sb, res); err != nil {
		res.notes = append(res.notes, "check vs script: "+err.Error())
		logf("check vs script: %v", err)
	}
	res.load = loadAvg()

	logf("stopping the sandbox")
	if err := sb.stop(); err != nil {
		res.notes = append(res.notes, "sandbox cleanup: "+err.Error())
		logf("sandbox cleanup: %v", err)
		code = 1
	} else {
		res.notes = append(res.notes, "sandbox stopped with SIGINT; its directory is gone and its ports are closed")
	}

	table := res.render(o)
	fmt.Print(table)
	if err := os.WriteFile(o.out, []byte(table), 0o644); err != nil {
		logf("writing %s: %v", o.out, err)
		return 1
	}
	logf("wrote %s", o.out)
	return code
}

// ---------------------------------------------------------------------------
// sandbox

type sandbox struct {
	cmd        *exec.Cmd
	done       chan error
	configPath string
	dir        string
	kubeconfig string
	namespace  string
	dsn        string
	redisURL   string
	ready      time.Duration
	stopOnce   sync.Once
	stopErr    error
}

func startSandbox(o options) (*sandbox, error) {
	logf("starting the sandbox: %d pods on %d nodes (first build of the kube binaries can take minutes)", o.pods, o.nodes)
	cmd := exec.Command(o.opsdeck, "demo", "--headless", "--scale", "0",
		"--nodes", strconv.Itoa(o.nodes), "--pods", strconv.Itoa(o.pods))
	// Its own process group, so that a Ctrl-C in the terminal reaches only
	// us and we stop it in order; and SIGINT if we die without cleaning up
	// (ops/proc: the parent-death signal, from a thread kept for the demo).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.Create(filepath.Join(o.workDir, "sandbox.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.MultiWriter(logFile, prefixWriter{os.Stderr, "  sandbox: "})
	// Not StdoutPipe: proc's goroutine waits for the demo at once, and Wait
	// would close that pipe under the reader.
	stdout, stdoutW := io.Pipe()
	cmd.Stdout = stdoutW
	start := time.Now()
	child, err := proc.StartSignal(cmd, syscall.SIGINT)
	if err != nil {
		return nil, fmt.Errorf("start %s demo: %w", o.opsdeck, err)
	}
	go func() {
		_ = child.Wait()
		stdoutW.Close()
	}()
	sb := &sandbox{cmd: cmd, done: make(chan error, 1)}
	atCleanup(func() { _ = sb.stop() })
	cfgPath := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if p, ok := strings.CutPrefix(line, "config: "); ok && !sent {
				cfgPath <- strings.TrimSpace(p)
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // a line too long for the scanner must not block the demo
		sb.done <- child.Wait()
		close(sb.done)
	}()
	select {
	case p := <-cfgPath:
		sb.configPath = p
	case err := <-sb.done:
		return nil, fmt.Errorf("the demo exited before it was ready (%v); see %s", err, logFile.Name())
	case <-time.After(o.readyTimeout):
		return nil, fmt.Errorf("the sandbox was not ready after %s; see %s", o.readyTimeout, logFile.Name())
	}
	sb.ready = time.Since(start)
	sb.dir = filepath.Dir(sb.configPath)
	data, err := os.ReadFile(sb.configPath)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Postgres struct {
			DSN string `yaml:"dsn"`
		} `yaml:"postgres"`
		Redis struct {
			URL string `yaml:"url"`
		} `yaml:"redis"`
		Kubernetes struct {
			Kubeconfig string   `yaml:"kubeconfig"`
			Namespaces []string `yaml:"namespaces"`
		} `yaml:"kubernetes"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("reading %s: %w", sb.configPath, err)
	}
	sb.kubeconfig, sb.dsn, sb.redisURL = cfg.Kubernetes.Kubeconfig, cfg.Postgres.DSN, cfg.Redis.URL
	sb.namespace = "stockapp"
	if len(cfg.Kubernetes.Namespaces) > 0 {
		sb.namespace = cfg.Kubernetes.Namespaces[0]
	}
	if sb.kubeconfig == "" || sb.dsn == "" || sb.redisURL == "" {
		return nil, fmt.Errorf("%s lacks kubernetes.kubeconfig, postgres.dsn or redis.url", sb.configPath)
	}
	return sb, nil
}

// stop sends SIGINT, waits for the demo to remove everything, and checks
// that its directory is gone and its servers' ports are closed.
func (sb *sandbox) stop() error {
	sb.stopOnce.Do(func() {
		ports := sb.ports()
		_ = sb.cmd.Process.Signal(os.Interrupt)
		select {
		case <-sb.done:
		case <-time.After(90 * time.Second):
			_ = syscall.Kill(-sb.cmd.Process.Pid, syscall.SIGKILL)
			<-sb.done
			sb.stopErr = errors.New("the demo did not stop within 90s of SIGINT and was killed")
			return
		}
		var errs []error
		if sb.dir != "" && strings.Contains(sb.dir, "opsdeck-sandbox-") {
			if _, err := os.Stat(sb.dir); err == nil {
				errs = append(errs, fmt.Errorf("%s still exists", sb.dir))
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, p := range ports {
			for {
				c, err := net.DialTimeout("tcp", p, 200*time.Millisecond)
				if err != nil {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					errs = append(errs, fmt.Errorf("%s still listening", p))
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		sb.stopErr = errors.Join(errs...)
	})
	return sb.stopErr
}

// ports are the host:port of the sandbox's Postgres, Redis and API server.
func (sb *sandbox) ports() []string {
	var ps []string
	for _, raw := range []string{sb.dsn, sb.redisURL} {
		if u, err := url.Parse(raw); err == nil && u.Port() != "" {
			ps = append(ps, u.Host)
		}
	}
	if data, err := os.ReadFile(sb.kubeconfig); err == nil {
		if m := regexp.MustCompile(`server:\s*(\S+)`).FindSubmatch(data); m != nil {
			if u, err := url.Parse(string(m[1])); err == nil {
				ps = append(ps, u.Host)
			}
		}
	}
	return ps
}

func podNames(o options, sb *sandbox) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, o.kubectl, "--kubeconfig", sb.kubeconfig, "-n", sb.namespace,
		"get", "pods", "-o", "jsonpath={.items[*].metadata.name}").Output()
	if err != nil {
		return nil, fmt.Errorf("%s get pods: %w", o.kubectl, err)
	}
	names := strings.Fields(string(out))
	if len(names) < o.pods {
		return nil, fmt.Errorf("want at least %d pods, the API server lists %d", o.pods, len(names))
	}
	return names, nil
}

// filterTarget picks an analyzer pod whose name minus its last character
// also starts another pod's name, so that typing the last character is what
// narrows the table to one row.
func filterTarget(names []string) (target, prefix string) {
	var pods []string
	for _, n := range names {
		if strings.HasPrefix(n, "analyzer-") {
			pods = append(pods, n)
		}
	}
	if len(pods) == 0 {
		pods = names
	}
	slices.Sort(pods)
	mid := len(pods) / 2
	for d := 0; d < len(pods); d++ {
		for _, i := range []int{mid + d, mid - d - 1} {
			if i <= 0 || i >= len(pods) {
				continue
			}
			a, b := pods[i-1], pods[i]
			if len(a) == len(b) && a[:len(a)-1] == b[:len(b)-1] {
				return b, b[:len(b)-1]
			}
		}
	}
	t := pods[mid]
	return t, ""
}

// ---------------------------------------------------------------------------
// tmux

type tmux struct {
	socket string
	conf   string
}

func startTmux(o options) (*tmux, error) {
	if _, err := exec.LookPath("tmux"); err != nil {
		return nil, errors.New("tmux is not installed (apt-get install tmux)")
	}
	conf := filepath.Join(o.workDir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g status off\nset -g remain-on-exit on\nset -sg escape-time 0\nset -g default-terminal tmux-256color\nset -g history-limit 0\n"), 0o644); err != nil {
		return nil, err
	}
	t := &tmux{socket: o.socket, conf: conf}
	_ = t.cmd("kill-server").Run() // a leftover of an earlier run
	// A server with an idle session, so that starting one is not counted.
	if out, err := t.cmd("new-session", "-d", "-s", "keep", "-x", "80", "-y", "24", "sleep", "86400").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tmux new-session: %v: %s", err, out)
	}
	atCleanup(t.stop)
	return t, nil
}

func (t *tmux) cmd(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-L", t.socket, "-f", t.conf}, args...)...)
}

func (t *tmux) stop() { _ = t.cmd("kill-server").Run() }

func (t *tmux) capture(session string) (string, error) {
	out, err := t.cmd("capture-pane", "-p", "-t", session).Output()
	return string(out), err
}

func (t *tmux) panePID(session string) (int, error) {
	out, err := t.cmd("list-panes", "-t", session, "-F", "#{pane_pid}").Output()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

func (t *tmux) send(session string, literal string, keys ...string) error {
	if literal != "" {
		if out, err := t.cmd("send-keys", "-t", session, "-l", literal).CombinedOutput(); err != nil {
			return fmt.Errorf("send-keys: %v: %s", err, out)
		}
	}
	if len(keys) > 0 {
		if out, err := t.cmd(append([]string{"send-keys", "-t", session}, keys...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("send-keys: %v: %s", err, out)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// TUI measurements

type tui struct {
	name  string
	argv  []string
	enter bool // the filter is applied with Enter (k9s)
}

type tuiResult struct {
	name        string
	firstFrames []time.Duration
	filterAll   time.Duration // "/" and the whole name (and Enter) sent at once → one row
	filterLast  time.Duration // the last key (and Enter) → one row
	idleCPU     float64       // % of one core
	rssMB       float64
	hwmMB       float64
	ok          bool
	notes       []string
}

// podNameRe finds name-like words on a line; rows() keeps the pods' names.
var podNameRe = regexp.MustCompile(`\b[a-z0-9]+(?:-[a-z0-9]+)+\b`)

func rows(screen string, names map[string]bool) []string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		if !strings.Contains(l, "Running") {
			continue
		}
		for _, m := range podNameRe.FindAllString(l, -1) {
			if names[m] {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

func measureTUI(o options, tm *tmux, t tui, target, prefix string) (r tuiResult) {
	r.name = t.name
	// A row is a line naming one of the namespace's pods, exactly.
	names := map[string]bool{}
	for _, n := range allPodNames {
		names[n] = true
	}
	var session string
	var pid int
	var firstAt time.Time
	for i := range max(o.starts, 1) {
		session = fmt.Sprintf("%s-%d", t.name, i)
		start := time.Now()
		args := append([]string{"new-session", "-d", "-s", session, "-x", strconv.Itoa(o.width), "-y", strconv.Itoa(o.height), "--"}, t.argv...)
		if out, err := tm.cmd(args...).CombinedOutput(); err != nil {
			r.notes = append(r.notes, fmt.Sprintf("tmux new-session: %v: %s", err, out))
			return r
		}
		screen, ok := waitScreen(tm, session, o.frameTimeout, func(s string) bool { return len(rows(s, names)) >= 5 })
		if !ok {
			saveScreen(o, t.name+"-firstframe-timeout", screen)
			r.notes = append(r.notes, fmt.Sprintf("no pod rows after %s (screen saved in %s)", o.frameTimeout, o.workDir))
			_ = tm.cmd("kill-session", "-t", session).Run()
			return r
		}
		ff := time.Since(start)
		firstAt = time.Now()
		r.firstFrames = append(r.firstFrames, ff)
		logf("  %s start %d: first frame with pod rows after %s", t.name, i+1, ff.Round(time.Millisecond))
		saveScreen(o, fmt.Sprintf("%s-firstframe-%d", t.name, i+1), screen)
		if i < o.starts-1 {
			p, _ := tm.panePID(session)
			_ = tm.cmd("kill-session", "-t", session).Run()
			waitGone(p, 10*time.Second)
			time.Sleep(500 * time.Millisecond)
		}
	}
	var err error
	if pid, err = tm.panePID(session); err != nil {
		r.notes = append(r.notes, "no pane pid: "+err.Error())
		return r
	}
	defer func() {
		_ = tm.cmd("kill-session", "-t", session).Run()
		waitGone(pid, 10*time.Second)
	}()
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && !strings.Contains(exe, t.name) {
		r.notes = append(r.notes, fmt.Sprintf("pane process %d is %s, not %s: CPU and memory may be wrong", pid, exe, t.name))
	}

	// Idle: wait, then sample utime+stime over the window.
	time.Sleep(time.Until(firstAt.Add(o.idleWait)))
	t0, err0 := cpuTicks(pid)
	w0 := time.Now()
	time.Sleep(o.idleSample)
	t1, err1 := cpuTicks(pid)
	wall := time.Since(w0)
	if err := errors.Join(err0, err1); err != nil {
		r.notes = append(r.notes, "idle CPU: "+err.Error())
	} else {
		r.idleCPU = float64(t1-t0) / float64(clkTck()) / wall.Seconds() * 100
	}
	r.rssMB, r.hwmMB = memMB(pid)
	logf("  %s idle: %.1f%% of a core, RSS %.0f MB (peak %.0f MB)", t.name, r.idleCPU, r.rssMB, r.hwmMB)

	oneRow := func(s string) bool {
		rs := rows(s, names)
		return len(rs) == 1 && rs[0] == target
	}
	// The filter, typed at once: "/" and the name (and Enter).
	var keys []string
	if t.enter {
		keys = []string{"Enter"}
	}
	start := time.Now()
	if err := tm.send(session, "/"+target, keys...); err != nil {
		r.notes = append(r.notes, err.Error())
		return r
	}
	screen, ok := waitScreen(tm, session, 30*time.Second, oneRow)
	saveScreen(o, t.name+"-filter-all", screen)
	if ok {
		r.filterAll = time.Since(start)
		logf("  %s filter, whole name at once: %s", t.name, r.filterAll.Round(time.Millisecond))
	} else {
		r.notes = append(r.notes, "filter (whole name) never narrowed to one row")
	}
	// Clear it and wait for the full table.
	_ = tm.send(session, "", "Escape")
	if _, ok := waitScreen(tm, session, 30*time.Second, func(s string) bool { return len(rows(s, names)) >= 5 }); !ok {
		r.notes = append(r.notes, "Esc did not clear the filter")
		return r
	}
	time.Sleep(time.Second)

	// The last key: type all but the last character, let it settle, then
	// time the last character (and Enter) to the one-row frame. Without two
	// pods that differ only in their last character, type the name and one
	// character too many (no row) and time the Backspace instead.
	prep, last := prefix, target[len(prefix):]
	if prefix == "" {
		prep, last = target+"z", ""
		keys = append([]string{"BSpace"}, keys...)
	}
	if err := tm.send(session, "/"+prep); err != nil {
		r.notes = append(r.notes, err.Error())
		return r
	}
	// Settled: the input shows the whole prefix (k9s draws "/ text") and
	// the rows have not changed for a second (k9s filters as it is typed,
	// slowly: a backlog of keys must not count against the last one).
	if !waitSettled(tm, session, []string{"/" + prep, "/ " + prep}, names, time.Second, 2*time.Minute) {
		r.notes = append(r.notes, "the filter input never settled before the last key")
	}
	if s, _ := tm.capture(session); oneRow(s) {
		r.notes = append(r.notes, "the prefix alone already showed one row")
	}
	start = time.Now()
	if err := tm.send(session, last, keys...); err != nil {
		r.notes = append(r.notes, err.Error())
		return r
	}
	screen, ok = waitScreen(tm, session, 30*time.Second, oneRow)
	saveScreen(o, t.name+"-filter-last", screen)
	if ok {
		r.filterLast = time.Since(start)
		logf("  %s filter, last key: %s", t.name, r.filterLast.Round(time.Millisecond))
	} else {
		r.notes = append(r.notes, "filter (last key) never narrowed to one row")
	}
	r.ok = true
	return r
}

// allPodNames is set once the sandbox's pods are listed.
var allPodNames []string

// waitScreen polls the pane every 10 ms until ok(screen) or the timeout.
func waitScreen(tm *tmux, session string, timeout time.Duration, ok func(string) bool) (string, bool) {
	deadline := time.Now().Add(timeout)
	var s string
	for {
		var err error
		s, err = tm.capture(session)
		if err == nil && ok(s) {
			return s, true
		}
		if time.Now().After(deadline) {
			return s, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSettled waits until the pane shows one of inputs and its pod rows have
// not changed for quiet (the screen itself may: ages tick).
func waitSettled(tm *tmux, session string, inputs []string, names map[string]bool, quiet, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	var last string
	since := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		s, _ := tm.capture(session)
		shown := false
		for _, in := range inputs {
			if strings.Contains(s, in) {
				shown = true
			}
		}
		key := strings.Join(rows(s, names), " ")
		if !shown || key != last {
			last, since = key, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return true
		}
	}
	return false
}

func saveScreen(o options, name, screen string) {
	_ = os.WriteFile(filepath.Join(o.workDir, name+".txt"), []byte(screen), 0o644)
}

func waitGone(pid int, timeout time.Duration) {
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// cpuTicks is utime+stime of pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields start after its ")".
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return ut + st, errors.Join(err1, err2)
}

func clkTck() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

// memMB returns VmRSS and VmHWM of pid in MB.
func memMB(pid int) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

func k9sConfig(dir string) error {
	cfg := filepath.Join(dir, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		return err
	}
	// No update check over the network, no splash: the first frame is the
	// pods view, as for opsdeck.
	return os.WriteFile(filepath.Join(cfg, "config.yaml"), []byte(`k9s:
  skipLatestRevCheck: true
  ui:
    logoless: true
    splashless: true
    enableMouse: false
`), 0o644)
}

// k9sVersion is the module version go install recorded in the binary (its
// own "k9s version" says "dev" when built that way).
func k9sVersion(bin string) string {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/derailed/k9s" {
				return f[2]
			}
		}
	}
	return "?"
}

// ---------------------------------------------------------------------------
// opsdeck check vs the bash morning check

type timing struct {
	mean, stddev, min time.Duration
	runs              int
}

func checkVsScript(o options, sb *sandbox, res *results) error {
	script, err := filepath.Abs(o.script)
	if err != nil {
		return err
	}
	env := append(os.Environ(),
		"OPSDECK_CONFIG="+sb.configPath,
		"DATABASE_URL="+sb.dsn, "REDIS_URL="+sb.redisURL,
		"KUBECONFIG="+sb.kubeconfig, "NAMESPACE="+sb.namespace, "KUBECTL="+o.kubectl)
	checkCmd := o.opsdeck + " check"
	// One run of each, kept for the record (and to see that both work).
	for _, c := range []struct{ name, cmd string }{{"opsdeck-check", checkCmd}, {"morning-check", script}} {
		cmd := exec.Command("bash", "-c", c.cmd)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		_ = os.WriteFile(filepath.Join(o.workDir, c.name+".txt"), out, 0o644)
		var ee *exec.ExitError
		if err != nil && !(c.name == "opsdeck-check" && errors.As(err, &ee) && ee.ExitCode() <= 3) {
			return fmt.Errorf("%s: %v (output in %s)", c.name, err, o.workDir)
		}
	}
	if hf, err := exec.LookPath("hyperfine"); err == nil {
		jsonPath := filepath.Join(o.workDir, "hyperfine.json")
		cmd := exec.Command(hf, "--warmup", "1", "--runs", strconv.Itoa(o.checkRuns), "-i",
			"--style", "basic", "--export-json", jsonPath,
			"-n", "opsdeck check", checkCmd, "-n", "morning-check.sh", script)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("hyperfine: %w", err)
		}
		data, err := os.ReadFile(jsonPath)
		if err != nil {
			return err
		}
		var hr struct {
			Results []struct {
				Mean, Stddev, Min float64
				Times             []float64
			}
		}
		if err := json.Unmarshal(data, &hr); err != nil || len(hr.Results) != 2 {
			return fmt.Errorf("hyperfine's JSON: %v", err)
		}
		sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
		for i, r := range hr.Results {
			t := timing{sec(r.Mean), sec(r.Stddev), sec(r.Min), len(r.Times)}
			if i == 0 {
				res.check = t
			} else {
				res.script = t
			}
		}
		res.checkTool = "hyperfine"
		return nil
	}
	res.notes = append(res.notes, "hyperfine not installed: timed the runs in the harness")
	for i, c := range []string{checkCmd, script} {
		var ds []time.Duration
		for range o.checkRuns + 1 {
			cmd := exec.Command("bash", "-c", c)
			cmd.Env = env
			start := time.Now()
			_ = cmd.Run()
			ds = append(ds, time.Since(start))
		}
		ds = ds[1:] // warm-up
		t := stats(ds)
		if i == 0 {
			res.check = t
		} else {
			res.script = t
		}
	}
	res.checkTool = "harness"
	return nil
}

func stats(ds []time.Duration) timing {
	var sum, sq float64
	mn := ds[0]
	for _, d := range ds {
		sum += d.Seconds()
		mn = min(mn, d)
	}
	mean := sum / float64(len(ds))
	for _, d := range ds {
		sq += (d.Seconds() - mean) * (d.Seconds() - mean)
	}
	sd := 0.0
	if len(ds) > 1 {
		sd = sq / float64(len(ds)-1)
	}
	return timing{time.Duration(mean * float64(time.Second)), time.Duration(sqrt(sd) * float64(time.Second)), mn, len(ds)}
}

func sqrt(x float64) float64 {
	if x <= 0 {
		return 0
	}
	z := x
	for range 50 {
		z = (z + x/z) / 2
	}
	return z
}

// ---------------------------------------------------------------------------
// Go benchmarks

type goBench struct {
	name   string
	nsOp   float64
	bOp    float64
	allocs float64
}

func goBenchmarks(o options, res *results) error {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "10k$", "-benchmem", "-benchtime", o.benchTime, "-count", "3", "./tui/health")
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(o.workDir, "gobench.txt"), out, 0o644)
	if err != nil {
		return fmt.Errorf("go test -bench: %v:\n%s", err, out)
	}
	// -count 3: the median of each, the machine may be busy.
	re := regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op)?(?:\s+([\d.]+) allocs/op)?`)
	runs := map[string][]goBench{}
	var order []string
	for _, l := range strings.Split(string(out), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		b := goBench{name: m[1]}
		b.nsOp, _ = strconv.ParseFloat(m[2], 64)
		b.bOp, _ = strconv.ParseFloat(m[3], 64)
		b.allocs, _ = strconv.ParseFloat(m[4], 64)
		if _, ok := runs[b.name]; !ok {
			order = append(order, b.name)
		}
		runs[b.name] = append(runs[b.name], b)
	}
	for _, name := range order {
		bs := runs[name]
		slices.SortFunc(bs, func(a, b goBench) int { return cmp.Compare(a.nsOp, b.nsOp) })
		b := bs[len(bs)/2]
		res.goBenches = append(res.goBenches, b)
		logf("  %s: %s/op (median of %d)", b.name, fmtDur(time.Duration(b.nsOp)), len(bs))
	}
	if len(res.goBenches) == 0 {
		return fmt.Errorf("no benchmark lines in:\n%s", out)
	}
	return nil
}

// ---------------------------------------------------------------------------
// results

type results struct {
	started      time.Time
	sandboxReady time.Duration
	podCount     int
	k9sVersion   string
	goBenches    []goBench
	tuis         []tuiResult
	check        timing
	script       timing
	checkTool    string
	load         string
	notes        []string
}

func (r *results) tui(name string) *tuiResult {
	for i := range r.tuis {
		if r.tuis[i].name == name {
			return &r.tuis[i]
		}
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func verdict(ok bool, have bool) string {
	if !have {
		return "—"
	}
	if ok {
		return "met"
	}
	return "MISSED"
}

func (r *results) render(o options) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "opsdeck bench — %s\n", r.started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "machine: %s, %d cores (%s), %s; load average at the end: %s\n",
		host, runtime.NumCPU(), cpuModel(), runtime.Version(), r.load)
	fmt.Fprintf(&b, "sandbox: %d pods in the namespace (%d extra) on %d nodes, ready in %s; terminal %dx%d (tmux)\n",
		r.podCount, o.pods, o.nodes, r.sandboxReady.Round(100*time.Millisecond), o.width, o.height)
	if r.k9sVersion != "" {
		fmt.Fprintf(&b, "k9s: %s\n", r.k9sVersion)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\topsdeck\tk9s / script\tgoal\tratio\tgoal met")
	od, k9 := r.tui("opsdeck"), r.tui("k9s")
	dur := func(t *tuiResult, f func(*tuiResult) time.Duration) time.Duration {
		if t == nil {
			return 0
		}
		return f(t)
	}
	row := func(metric string, ov, kv time.Duration, goal string, limit time.Duration) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", metric, fmtDur(ov), fmtDur(kv), goal,
			ratio(float64(ov), float64(kv)), verdict(ov < limit, ov > 0))
	}
	ffO, ffK := dur(od, func(t *tuiResult) time.Duration { return median(t.firstFrames) }), dur(k9, func(t *tuiResult) time.Duration { return median(t.firstFrames) })
	row(fmt.Sprintf("first frame with pod rows (median of %d)", o.starts), ffO, ffK, "< 1 s (k9s ref 2.8 s)", time.Second)
	row("filter to one pod: last key → frame", dur(od, func(t *tuiResult) time.Duration { return t.filterLast }),
		dur(k9, func(t *tuiResult) time.Duration { return t.filterLast }), "< 100 ms (k9s ref 0.7 s)", 100*time.Millisecond)
	row("filter to one pod: \"/\"+name sent at once", dur(od, func(t *tuiResult) time.Duration { return t.filterAll }),
		dur(k9, func(t *tuiResult) time.Duration { return t.filterAll }), "< 100 ms", 100*time.Millisecond)
	pct := func(t *tuiResult, f func(*tuiResult) float64) float64 {
		if t == nil {
			return 0
		}
		return f(t)
	}
	cO, cK := pct(od, func(t *tuiResult) float64 { return t.idleCPU }), pct(k9, func(t *tuiResult) float64 { return t.idleCPU })
	fmt.Fprintf(tw, "idle CPU (%s window, %s after first frame)\t%s\t%s\t< 2 %% (k9s ref 19 %%)\t%s\t%s\n", o.idleSample, o.idleWait,
		fmtPct(cO, od != nil), fmtPct(cK, k9 != nil), ratio(cO, cK), verdict(cO < 2, od != nil && od.ok))
	mO, mK := pct(od, func(t *tuiResult) float64 { return t.rssMB }), pct(k9, func(t *tuiResult) float64 { return t.rssMB })
	fmt.Fprintf(tw, "resident memory after idle (VmRSS)\t%s\t%s\t< 150 MB (k9s ref 536 MB)\t%s\t%s\n",
		fmtMB(mO), fmtMB(mK), ratio(mO, mK), verdict(mO < 150, mO > 0))
	hO, hK := pct(od, func(t *tuiResult) float64 { return t.hwmMB }), pct(k9, func(t *tuiResult) float64 { return t.hwmMB })
	fmt.Fprintf(tw, "peak resident memory (VmHWM)\t%s\t%s\t—\t%s\t—\n", fmtMB(hO), fmtMB(hK), ratio(hO, hK))
	if r.check.runs > 0 {
		fmt.Fprintf(tw, "opsdeck check vs morning-check.sh (mean of %d, %s)\t%s ± %s\t%s ± %s\t≤ 0.5× the script\t%s\t%s\n",
			r.check.runs, r.checkTool, fmtDur(r.check.mean), fmtDur(r.check.stddev), fmtDur(r.script.mean), fmtDur(r.script.stddev),
			ratio(float64(r.check.mean), float64(r.script.mean)), verdict(float64(r.check.mean) <= 0.5*float64(r.script.mean), true))
	}
	for _, g := range r.goBenches {
		goal, limit := "—", time.Duration(0)
		switch g.name {
		case "BenchmarkView10k", "BenchmarkSnapshotFrame10k", "BenchmarkFilter10k", "BenchmarkSnapshotApply10k":
			goal, limit = "< 10 ms a frame", 10*time.Millisecond
		}
		d := time.Duration(g.nsOp)
		v := "—"
		if limit > 0 {
			v = verdict(d < limit, true)
		}
		fmt.Fprintf(tw, "Go, median of 3: %s (%.0f KB, %.0f allocs/op)\t%s\t—\t%s\t—\t%s\n", g.name, g.bOp/1024, g.allocs, fmtDur(d), goal, v)
	}
	tw.Flush()
	if k9 != nil && len(k9.firstFrames) > 1 || od != nil && len(od.firstFrames) > 1 {
		b.WriteString("\nfirst frames, each start:")
		for _, t := range r.tuis {
			fmt.Fprintf(&b, " %s", t.name)
			for _, d := range t.firstFrames {
				fmt.Fprintf(&b, " %s", fmtDur(d))
			}
			b.WriteString(";")
		}
		b.WriteString("\n")
	}
	if len(r.notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func fmtPct(p float64, have bool) string {
	if !have {
		return "—"
	}
	return fmt.Sprintf("%.1f %%", p)
}

func fmtMB(m float64) string {
	if m <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MB", m)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// prefixWriter prefixes each write (a line, for the demo's progress).
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	_, err := fmt.Fprintf(p.w, "%s%s", p.prefix, b)
	return len(b), err
}
