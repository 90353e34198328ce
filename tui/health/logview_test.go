package health_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// fakeStream is a log stream the test writes into.
type fakeStream struct {
	ring    *kube.LogRing
	updates chan struct{}
	done    chan struct{}
	err     error
}

func newFakeStream(keep int) *fakeStream {
	return &fakeStream{ring: kube.NewLogRing(keep), updates: make(chan struct{}, 1), done: make(chan struct{})}
}

func (f *fakeStream) Ring() *kube.LogRing      { return f.ring }
func (f *fakeStream) Updates() <-chan struct{} { return f.updates }
func (f *fakeStream) Done() <-chan struct{}    { return f.done }
func (f *fakeStream) Err() error               { return f.err }

func (f *fakeStream) add(texts ...string) {
	for _, s := range texts {
		f.ring.Add(kube.LogLine{Pod: "p", Container: "c", Text: s})
	}
	select {
	case f.updates <- struct{}{}:
	default:
	}
}

// appLines returns n lines of an API's log: requests, a slow request
// warning every 11th, a database timeout every 17th, a long line every 7th.
func appLines(from, n int) []string {
	out := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		ts := fmt.Sprintf("2026-11-25T08:%02d:%02d.%03dZ", 20+i/600, i/10%60, i%10*100)
		switch {
		case i%17 == 0:
			out = append(out, fmt.Sprintf("%s ERROR request_id=%06x GET /api/v1/quotes/AAPL status=502 upstream market-data timeout after 5000 ms", ts, i))
		case i%11 == 0:
			out = append(out, fmt.Sprintf("%s WARN request_id=%06x slow request GET /api/v1/portfolios/%d took 1200 ms", ts, i, 1000+i))
		case i%7 == 0:
			out = append(out, fmt.Sprintf("%s INFO request_id=%06x POST /api/v1/portfolios/%d/analyze status=202 duration_ms=%d user_agent=\"Mozilla/5.0 (X11; Linux x86_64) stockapp-web/4.2\"", ts, i, 1000+i, 20+i%200))
		default:
			out = append(out, fmt.Sprintf("%s INFO request_id=%06x GET /api/v1/quotes/MSFT status=200 duration_ms=%d", ts, i, 3+i%40))
		}
	}
	return out
}

// driver runs a tab's commands and feeds their messages back, keeping the
// commands that wait (for the next lines) running across calls, where
// tuitest.Drive drops a command that has not answered in time.
type driver struct {
	tab common.Tab
	out chan tea.Msg
}

func newDriver(tab common.Tab) *driver { return &driver{tab: tab, out: make(chan tea.Msg, 1024)} }

// start runs cmd in the background; a batch's commands each.
func (d *driver) start(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				d.start(c)
			}
			return
		}
		if msg != nil {
			d.out <- msg
		}
	}()
}

// settle feeds the messages that arrive until none has for a while.
func (d *driver) settle() {
	for {
		select {
		case msg := <-d.out:
			var cmd tea.Cmd
			d.tab, cmd = d.tab.Update(msg)
			d.start(cmd)
		case <-time.After(logWait):
			return
		}
	}
}

// press sends keys one by one, settling after each.
func (d *driver) press(keys ...string) {
	for _, k := range keys {
		var cmd tea.Cmd
		d.tab, cmd = d.tab.Update(tuitest.Key(k))
		d.start(cmd)
		d.settle()
	}
}

// typeKeys sends keys that start nothing worth waiting for (typing a
// search), without settling.
func (d *driver) typeKeys(keys ...string) {
	for _, k := range keys {
		var cmd tea.Cmd
		d.tab, cmd = d.tab.Update(tuitest.Key(k))
		d.start(cmd)
	}
}

// logWait is longer than the view's frame, so that a settle sees the
// lines of a burst.
const logWait = 90 * time.Millisecond

// logHarness is a Health tab whose log source hands out fake streams.
type logHarness struct {
	*driver
	tab     *healthtab.Tab
	streams []*fakeStream
	reqs    []kube.LogRequest
	// containers makes the source refuse a request without a container,
	// as kube does for a pod with several.
	containers []string
	openErr    error
}

func newLogHarness(t *testing.T, w, h int, configure func(*logHarness)) *logHarness {
	t.Helper()
	lh := &logHarness{}
	if configure != nil {
		configure(lh)
	}
	cl := tuitest.NewCluster(0)
	src := sources(cl)
	src.LogLines = 1000
	src.Logs = func(ctx context.Context, req kube.LogRequest) (healthtab.LogStream, []kube.LogSource, error) {
		lh.reqs = append(lh.reqs, req)
		if lh.openErr != nil {
			return nil, nil, lh.openErr
		}
		if req.Container == "" && len(lh.containers) > 1 {
			return nil, nil, &kube.LogTargetError{Containers: lh.containers, Msg: "pod has 2 containers"}
		}
		c := req.Container
		if c == "" {
			c = "worker"
		}
		s := newFakeStream(req.Keep)
		lh.streams = append(lh.streams, s)
		return s, []kube.LogSource{{Namespace: req.Namespace, Pod: req.Target, Container: c}}, nil
	}
	tab := healthtab.New(tuitest.Common(), src)
	tab.SetSize(w, h)
	lh.tab, lh.driver = tab, newDriver(tab)
	lh.start(tab.Init())
	lh.settle()
	return lh
}

// stream returns the stream last opened.
func (lh *logHarness) stream(t *testing.T) *fakeStream {
	t.Helper()
	if len(lh.streams) == 0 {
		t.Fatal("no stream opened")
	}
	return lh.streams[len(lh.streams)-1]
}

// feed adds lines to the open stream and lets the view take them.
func (lh *logHarness) feed(t *testing.T, lines ...string) {
	t.Helper()
	lh.stream(t).add(lines...)
	lh.settle()
}

func TestLogViewGolden(t *testing.T) {
	scenes := []struct {
		name      string
		configure func(*logHarness)
		act       func(t *testing.T, lh *logHarness)
	}{
		{"following", nil, func(t *testing.T, lh *logHarness) {}},
		{"search", nil, func(t *testing.T, lh *logHarness) {
			lh.typeKeys("/", "t", "i", "m", "e", "o", "u", "t")
			lh.press("enter", "N")
		}},
		{"wrapped", nil, func(t *testing.T, lh *logHarness) { lh.press("w") }},
		{"error-line", nil, func(t *testing.T, lh *logHarness) { lh.press("g", "e", "e") }},
		{"picker", func(lh *logHarness) { lh.containers = []string{"app", "proxy"} }, nil},
		{"forbidden", func(lh *logHarness) {
			lh.openErr = errors.New(`user "viewer" cannot get pods/log in namespace "stockapp" — ask for RBAC get on pods/log there`)
		}, nil},
	}
	for _, sc := range scenes {
		for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
			t.Run(sc.name+"/"+sizeName(size.w, size.h), func(t *testing.T) {
				lh := newLogHarness(t, size.w, size.h-2, sc.configure)
				lh.press("l")
				if sc.act != nil {
					lh.feed(t, appLines(1, 200)...)
					sc.act(t, lh)
				}
				golden.RequireEqual(t, tuitest.Plain(lh.tab.View()))
			})
		}
	}
}

func TestLogViewFollowsAndPauses(t *testing.T) {
	lh := newLogHarness(t, 100, 20, nil)
	lh.press("l")
	if len(lh.reqs) != 1 || lh.reqs[0].Target != "worker-5c8d7f9b4-q8t3v" || !lh.reqs[0].Follow || lh.reqs[0].Keep != 1000 {
		t.Fatalf("requests: %+v", lh.reqs)
	}
	lh.feed(t, appLines(1, 50)...)
	out := tuitest.Plain(lh.tab.View())
	if !strings.Contains(out, "request_id=000032") || !strings.Contains(out, "● following") || strings.Contains(out, "request_id=000001 ") {
		t.Fatalf("following should show the newest lines:\n%s", out)
	}
	lh.press("k", "k")
	lh.feed(t, appLines(51, 10)...)
	out = tuitest.Plain(lh.tab.View())
	if !strings.Contains(out, "paused") || strings.Contains(out, "request_id=00003c") {
		t.Fatalf("scrolling up should pause on the lines shown:\n%s", out)
	}
	lh.press("G")
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "request_id=00003c") || !strings.Contains(out, "● following") {
		t.Fatalf("G should follow again:\n%s", out)
	}
	// Beyond the ring's length the oldest lines go.
	for i := 0; i < 6; i++ {
		lh.feed(t, appLines(100+i*250, 250)...)
	}
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "last ") {
		t.Fatalf("a trimmed log should say it shows the last lines:\n%s", out)
	}
	lh.press("p")
	if r := lh.reqs[len(lh.reqs)-1]; !r.Previous || r.Follow || r.Container != "worker" {
		t.Fatalf("p should read the previous container's log, not followed: %+v", r)
	}
	lh.press("esc")
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "Pods") {
		t.Fatalf("esc should go back to the table:\n%s", out)
	}
}

func TestLogViewSearchAndErrors(t *testing.T) {
	lh := newLogHarness(t, 120, 30, nil)
	lh.press("l")
	lh.feed(t, appLines(1, 200)...)
	lh.press("/")
	if !lh.tab.Capturing() {
		t.Fatal("the search should take the keys")
	}
	lh.typeKeys("T", "I", "M", "E", "O", "U", "T")
	lh.press("enter")
	out := tuitest.Plain(lh.tab.View())
	if !strings.Contains(out, "/TIMEOUT 11 of 11") {
		t.Fatalf("want 11 matches, the newest current:\n%s", out)
	}
	lh.press("N", "N")
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "9 of 11") {
		t.Fatalf("N should go to older matches:\n%s", out)
	}
	// The highlight is the match style's.
	if !strings.Contains(lh.tab.View(), tuitest.Common().Styles.MatchCurrent.Render("timeout")) {
		t.Error("the current match is not highlighted")
	}
	lh.press("esc") // clears the search, stays in the view
	if out := tuitest.Plain(lh.tab.View()); strings.Contains(out, "TIMEOUT") || !strings.Contains(out, "Logs ") {
		t.Fatalf("esc should clear the search first:\n%s", out)
	}
	lh.press("e")
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "error at line 17") {
		t.Fatalf("e should jump to the first error line (the 17th):\n%s", out)
	}
	lh.press("e", "E")
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "error at line 17") {
		t.Fatalf("e then E should come back to the 17th line:\n%s", out)
	}
	if oplogs.DetectLevel(appLines(17, 1)[0]) != oplogs.LevelError {
		t.Fatal("the corpus's error line is not an error")
	}
}

func TestLogViewContainerPickerAndErrors(t *testing.T) {
	lh := newLogHarness(t, 100, 20, func(lh *logHarness) { lh.containers = []string{"app", "proxy"} })
	lh.press("l")
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "2 containers: choose one") {
		t.Fatalf("want the container picker:\n%s", out)
	}
	lh.press("j", "enter")
	if r := lh.reqs[len(lh.reqs)-1]; r.Container != "proxy" {
		t.Fatalf("the chosen container is not read: %+v", r)
	}
	lh.feed(t, "proxy line")
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "proxy line") || !strings.Contains(out, "· proxy ·") {
		t.Fatalf("the proxy's log:\n%s", out)
	}
	// The stream ends with an error: it shows with what to do.
	s := lh.stream(t)
	s.err = fmt.Errorf("logs of p/proxy: %w", kube.ErrNoPreviousLog)
	close(s.done)
	lh.settle()
	if out := tuitest.Plain(lh.tab.View()); !strings.Contains(out, "no previous log — p shows the current log") {
		t.Fatalf("the stream's error should show with advice:\n%s", out)
	}
}

func TestLogViewEscapesAreRemoved(t *testing.T) {
	lh := newLogHarness(t, 100, 20, nil)
	lh.press("l")
	lh.feed(t, "\x1b[31mred\x1b[0m text\x07 with\ta tab \x1b]0;title\x07")
	out := lh.tab.View()
	if strings.Contains(out, "\x07") || strings.Contains(out, "]0;") || !strings.Contains(tuitest.Plain(out), "red text with    a tab") {
		t.Fatalf("escape sequences from the log reach the screen: %q", out)
	}
}

// TestLogViewNarrowSizes: no size, down to 1x1, makes any screen of the
// log view or the errors panel panic.
func TestLogViewNarrowSizes(t *testing.T) {
	setups := map[string]func(t *testing.T, lh *logHarness){
		"following": func(t *testing.T, lh *logHarness) { lh.press("l"); lh.feed(t, appLines(1, 40)...) },
		"wrapped":   func(t *testing.T, lh *logHarness) { lh.press("l"); lh.feed(t, appLines(1, 40)...); lh.press("w", "k") },
		"searching": func(t *testing.T, lh *logHarness) { lh.press("l"); lh.feed(t, appLines(1, 40)...); lh.press("/", "x") },
		"picker": func(t *testing.T, lh *logHarness) {
			lh.containers = []string{"app", "proxy"}
			lh.press("l")
		},
		"error": func(t *testing.T, lh *logHarness) { lh.openErr = errors.New("forbidden: ask for RBAC"); lh.press("l") },
	}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			lh := newLogHarness(t, 80, 22, nil)
			setup(t, lh)
			for w := 1; w <= 12; w += 3 {
				for h := 1; h <= 6; h++ {
					lh.tab.SetSize(w, h)
					_ = lh.tab.View()
					for _, k := range []string{"k", "j", "w", "w", "G"} {
						lh.tab.Update(tuitest.Key(k)) // no command of these waits on anything but the stream
					}
					_ = lh.tab.View()
				}
			}
		})
	}
}

// errorKindsResult is a run of the error templates: two kinds, one new.
func errorKindsResult() *kube.ErrorKinds {
	at := tuitest.Now.Add(-3 * time.Hour)
	return &kube.ErrorKinds{
		ErrorScan: &kube.ErrorScan{Namespaces: []string{"stockapp"}, Lines: 52000, Counted: 431, Templates: []oplogs.Template{
			{ID: "a1", Text: "<ts> ERROR request_id=<hex> GET /api/v1/quotes/<*> status=<num> upstream market-data timeout after <num> ms", Level: oplogs.LevelError, Count: 402,
				FirstSeen: at, LastSeen: tuitest.Now.Add(-2 * time.Minute), Sample: "2026-11-25T08:28:00Z ERROR request_id=9f3a GET /api/v1/quotes/AAPL status=502 upstream market-data timeout after 5000 ms", Workloads: []string{"deploy/api"}},
			{ID: "b2", Text: "<ts> ERROR analysis <num> failed: division by zero in portfolio <num>", Level: oplogs.LevelError, Count: 29,
				FirstSeen: tuitest.Now.Add(-40 * time.Minute), LastSeen: tuitest.Now.Add(-5 * time.Minute), Sample: "2026-11-25T08:25:00Z ERROR analysis 77 failed: division by zero in portfolio 1042", Workloads: []string{"deploy/worker"}},
		}},
		Since:    24 * time.Hour,
		New:      []string{"b2"},
		Previous: at,
	}
}

func TestErrorKindsPanel(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		t.Run(sizeName(size.w, size.h), func(t *testing.T) {
			cl := tuitest.NewCluster(0)
			src := sources(cl)
			src.Errors = func(context.Context) (*kube.ErrorKinds, error) { return errorKindsResult(), nil }
			tab := healthtab.New(tuitest.Common(), src)
			tab.SetSize(size.w, size.h-2)
			drive(t, tab, tab.Init())
			collapsed := tuitest.Plain(tab.View())
			if !strings.Contains(collapsed, "1 new kind of error in the last 24h · 2 kinds, 431 lines (e to show)") {
				t.Fatalf("the collapsed panel:\n%s", collapsed)
			}
			press(t, tab, "e")
			golden.RequireEqual(t, tuitest.Plain(tab.View()))
			for w := 1; w <= 10; w += 3 {
				for h := 1; h <= 5; h++ {
					tab.SetSize(w, h)
					_ = tab.View()
				}
			}
		})
	}
}

func TestErrorKindsPanelHiddenWithoutCluster(t *testing.T) {
	src := healthtab.Sources{
		Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return nil, common.KubeInfoMsg{}, errors.New("no Kubernetes configuration found — set kubernetes.kubeconfig or KUBECONFIG")
		},
		Errors: func(context.Context) (*kube.ErrorKinds, error) {
			return nil, errors.New("no Kubernetes configuration found — set kubernetes.kubeconfig or KUBECONFIG")
		},
	}
	tab := healthtab.New(tuitest.Common(), src)
	tab.SetSize(120, 30)
	drive(t, tab, tab.Init())
	if out := tuitest.Plain(tab.View()); strings.Contains(out, "New kinds of errors") || !strings.Contains(out, "press r to retry") {
		t.Fatalf("without a cluster the panel stays out of the way:\n%s", out)
	}
}

func TestErrorKindsPanelError(t *testing.T) {
	cl := tuitest.NewCluster(0)
	src := sources(cl)
	src.Errors = func(context.Context) (*kube.ErrorKinds, error) {
		return nil, errors.New(`user "viewer" cannot list pods in namespace "stockapp" — ask for RBAC list on pods there`)
	}
	tab := healthtab.New(tuitest.Common(), src)
	tab.SetSize(120, 30)
	drive(t, tab, tab.Init())
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "New kinds of errors user \"viewer\" cannot list pods") || !strings.Contains(out, "CrashLoopBackOff") {
		t.Fatalf("a failed run shows its error in the panel's line, the rest works:\n%s", out)
	}
}
