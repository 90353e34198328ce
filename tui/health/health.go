// Package health is the cockpit's Health tab: the Postgres and Redis checks
// at the top, then the cluster's nodes and pods, live from informers, with a
// filter, sorting, colours by status and a detail view.
package health

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

// focus is the table receiving keys.
type focus int

const (
	focusPods focus = iota
	focusNodes
)

// Tab is the Health tab.
type Tab struct {
	c   *common.Common
	src Sources

	kube     KubeSource
	kubeErr  error
	kubeErrs map[string]error
	pods     []kube.PodRow
	nodes    []kube.NodeRow
	synced   bool

	checks    []health.Result
	checksAt  time.Time
	checking  bool
	refreshed time.Time

	podTable  table.Model
	nodeTable table.Model
	// podRows and nodeRows are the tables' rows, formatted once per snapshot.
	podRows  rowSet[kube.PodRow]
	nodeRows rowSet[kube.NodeRow]
	// podProblems and nodeProblems count the rows not OK, computed with the
	// rows so that View never walks 10,000 pods.
	podProblems, nodeProblems int
	focus                     focus

	filter       textinput.Model
	filtering    bool
	problemsOnly bool
	podSort      sortState
	nodeSort     sortState

	detail     viewport.Model
	showDetail bool
	detailKey  string

	// logs is the selected pod's log view while open.
	logs *logView
	errs errorKinds

	width, height int
}

// New returns the Health tab reading from src.
func New(c *common.Common, src Sources) *Tab {
	if src.CheckEvery <= 0 {
		src.CheckEvery = 15 * time.Second
	}
	if src.Timeout <= 0 {
		src.Timeout = 5 * time.Second
	}
	if src.ErrorsEvery <= 0 {
		src.ErrorsEvery = 5 * time.Minute
	}
	if src.ErrorsTimeout <= 0 {
		src.ErrorsTimeout = time.Minute
	}
	fi := styles.NewInput()
	fi.Prompt = "/"
	fi.Placeholder = "filter: words match name, namespace, status, node"
	fi.CharLimit = 120
	t := &Tab{
		c:         c,
		src:       src,
		filter:    fi,
		podTable:  table.New(&c.Styles, podColumns...),
		nodeTable: table.New(&c.Styles, nodeColumns...),
		detail:    viewport.New(),
	}
	t.podSort.keys, t.nodeSort.keys = podSortKeys, nodeSortKeys
	t.podTable.SetEmpty("no pods yet")
	t.nodeTable.SetEmpty("no nodes yet")
	t.nodeTable.Blur()
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Health" }

// Init connects to the cluster and runs the first checks.
func (t *Tab) Init() tea.Cmd {
	return tea.Batch(t.connectKube(), t.runChecks(), t.runErrorKinds())
}

// LastRefresh implements common.Refreshed.
func (t *Tab) LastRefresh() time.Time { return t.refreshed }

// Capturing implements common.Tab: true while the filter or the log
// view's search is being typed.
func (t *Tab) Capturing() bool { return t.filtering || t.logs != nil && t.logs.Capturing() }

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	t.width, t.height = w, h
	t.filter.SetWidth(max(w-20, 10))
	if t.logs != nil {
		t.logs.SetSize(w, h)
	}
	t.layout()
}

func (t *Tab) connectKube() tea.Cmd {
	if t.src.Kube == nil {
		return nil
	}
	connect, timeout := t.src.Kube, t.src.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(t.c.Context, timeout)
		defer cancel()
		src, info, err := connect(ctx)
		if err != nil {
			return kubeErrMsg{err}
		}
		return kubeConnectedMsg{src: src, info: info}
	}
}

// snapshot copies the cache's rows in a Cmd and prepares the tables' items
// there, off the UI goroutine. It waits for the next change unless first is
// set, and lets changes settle for a moment so that a burst of 10,000
// updates costs one snapshot.
func (t *Tab) snapshot(first bool) tea.Cmd {
	ctx, src, th, ps, ns := t.c.Context, t.kube, t.c.Config.Thresholds, t.podSort, t.nodeSort
	return func() tea.Msg {
		if !first {
			select {
			case <-src.Changes():
			case <-ctx.Done():
				return nil
			}
			time.Sleep(150 * time.Millisecond)
			// Drain the notification a burst left behind; the snapshot covers it.
			select {
			case <-src.Changes():
			default:
			}
		}
		msg := kubeSnapshotMsg{pods: src.Pods(), nodes: src.Nodes(), errs: src.Errors(), at: time.Now(), podSort: ps, nodeSort: ns}
		msg.podItems, msg.podProblems = podItems(msg.pods, th, ps)
		msg.nodeItems, msg.nodeProblems = nodeItems(msg.nodes, ns)
		return msg
	}
}

func (t *Tab) runChecks() tea.Cmd {
	if t.src.Checks == nil || t.checking {
		return nil
	}
	t.checking = true
	run, timeout := t.src.Checks, t.src.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(t.c.Context, timeout+time.Second)
		defer cancel()
		return checksMsg{results: run(ctx), at: time.Now()}
	}
}

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	switch msg := msg.(type) {
	case kubeConnectedMsg:
		t.kube, t.kubeErr = msg.src, nil
		info := msg.info
		return t, tea.Batch(t.snapshot(true), func() tea.Msg { return info })
	case kubeErrMsg:
		t.kubeErr = msg.err
		t.synced = true
		t.layout()
		return t, nil
	case kubeSnapshotMsg:
		t.pods, t.nodes, t.kubeErrs = msg.pods, msg.nodes, msg.errs
		t.synced = true
		t.refreshed = msg.at
		t.layout() // the nodes table's height follows the number of nodes
		if msg.podSort.same(t.podSort) {
			t.podRows.reset(msg.podItems)
			t.podProblems = msg.podProblems
		} else {
			t.rebuildPods()
		}
		if msg.nodeSort.same(t.nodeSort) {
			t.nodeRows.reset(msg.nodeItems)
			t.nodeProblems = msg.nodeProblems
		} else {
			t.rebuildNodes()
		}
		t.applyRows()
		return t, t.snapshot(false)
	case checksMsg:
		t.checks, t.checksAt, t.checking = msg.results, msg.at, false
		if msg.at.After(t.refreshed) {
			t.refreshed = msg.at
		}
		t.layout()
		every := t.src.CheckEvery
		return t, t.c.Tick(every, func(time.Time) tea.Msg { return checksTickMsg{} })
	case checksTickMsg:
		return t, t.runChecks()
	case errorKindsMsg:
		return t, t.setErrorKinds(msg)
	case errorKindsTickMsg:
		return t, t.runErrorKinds()
	case logOpenedMsg, logLinesMsg:
		if t.logs == nil {
			return t, nil // the view was closed; its stream ended with it
		}
		cmd, _ := t.logs.Update(msg)
		return t, cmd
	case tea.KeyPressMsg:
		return t, t.handleKey(msg)
	}
	if t.logs != nil && t.logs.Capturing() {
		var cmd tea.Cmd
		t.logs.search, cmd = t.logs.search.Update(msg)
		return t, cmd
	}
	if t.filtering {
		var cmd tea.Cmd
		t.filter, cmd = t.filter.Update(msg)
		return t, cmd
	}
	return t, nil
}

func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k, kh := t.c.Keys, t.c.Keys.Health
	if t.filtering {
		done, changed, cmd := t.c.FilterKey(&t.filter, msg)
		t.filtering = !done
		if changed {
			t.applyRows()
		}
		return cmd
	}
	if t.logs != nil {
		cmd, closed := t.logs.HandleKey(msg)
		if closed {
			t.logs.Close()
			t.logs = nil
		}
		return cmd
	}
	if t.showDetail {
		switch {
		case key.Matches(msg, k.Back), key.Matches(msg, k.Enter):
			t.showDetail = false
			return nil
		case key.Matches(msg, k.Runbook):
			return t.openRunbook()
		}
		var cmd tea.Cmd
		t.detail, cmd = t.detail.Update(msg)
		return cmd
	}
	tbl := t.focused()
	switch {
	case key.Matches(msg, k.Filter):
		t.filtering = true
		return t.filter.Focus()
	case key.Matches(msg, k.ClearFilter):
		if t.filter.Value() != "" {
			t.filter.SetValue("")
			t.applyRows()
		}
	case tbl.Navigate(msg, k):
	case key.Matches(msg, kh.FocusNodes):
		t.setFocus(focusNodes)
	case key.Matches(msg, kh.FocusPods):
		t.setFocus(focusPods)
	case key.Matches(msg, kh.ProblemsOnly):
		t.problemsOnly = !t.problemsOnly
		t.applyRows()
	case key.Matches(msg, k.Sort):
		t.sortOf().next()
		t.resort()
	case key.Matches(msg, k.Reverse):
		t.sortOf().desc = !t.sortOf().desc
		t.resort()
	case key.Matches(msg, k.Enter):
		t.openDetail()
	case key.Matches(msg, kh.Logs):
		return t.openLogs()
	case key.Matches(msg, kh.ErrorKinds):
		if t.src.Errors != nil {
			t.errs.shown = !t.errs.shown
			t.layout()
		}
	case key.Matches(msg, k.Runbook):
		return t.openRunbook()
	case key.Matches(msg, k.Refresh):
		cmds := []tea.Cmd{t.runChecks()}
		if t.kube == nil {
			t.kubeErr = nil
			cmds = append(cmds, t.connectKube())
		}
		return tea.Batch(cmds...)
	}
	return nil
}

func (t *Tab) focused() *table.Model {
	if t.focus == focusNodes {
		return &t.nodeTable
	}
	return &t.podTable
}

func (t *Tab) sortOf() *sortState {
	if t.focus == focusNodes {
		return &t.nodeSort
	}
	return &t.podSort
}

// resort rebuilds the focused table's rows in its new order.
func (t *Tab) resort() {
	if t.focus == focusNodes {
		t.rebuildNodes()
	} else {
		t.rebuildPods()
	}
	t.applyRows()
}

func (t *Tab) setFocus(f focus) {
	if t.focus != f && t.filter.Value() != "" {
		// The filter follows the focus: re-apply it to both tables.
		defer t.applyRows()
	}
	t.focus = f
	if f == focusNodes {
		t.nodeTable.Focus()
		t.podTable.Blur()
	} else {
		t.podTable.Focus()
		t.nodeTable.Blur()
	}
}

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding {
	k, kh := t.c.Keys, t.c.Keys.Health
	if t.logs != nil {
		return t.logs.ShortHelp()
	}
	if t.filtering {
		return []key.Binding{k.KeepFilter, k.DropFilter}
	}
	if t.showDetail {
		return []key.Binding{k.Up, k.Down, k.Back}
	}
	return []key.Binding{k.Filter, kh.FocusNodes, kh.FocusPods, k.Enter}
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k, kh := t.c.Keys, t.c.Keys.Health
	if t.logs != nil {
		return t.logs.FullHelp()
	}
	return [][]key.Binding{{kh.FocusNodes, kh.FocusPods, kh.ProblemsOnly, k.Filter, k.ClearFilter, k.Sort, k.Reverse, k.Enter, kh.Logs, kh.ErrorKinds, k.Runbook, k.Refresh}}
}

// openLogs opens the log view of the selected pod: at once when it has
// one container, after a choice when it has several.
func (t *Tab) openLogs() tea.Cmd {
	if t.src.Logs == nil || t.kube == nil || t.focus != focusPods {
		return nil
	}
	row, ok := t.podTable.Selected()
	if !ok {
		return nil
	}
	ns, name, _ := strings.Cut(row.Key, "/")
	var containers []string
	if d, found := t.kube.PodDetail(ns, name); found {
		for _, c := range d.Containers {
			if !c.Init {
				containers = append(containers, c.Name)
			}
		}
	}
	t.showDetail = false
	t.logs = newLogView(t.c, t.src.Logs, t.src.LogLines, ns, name, containers)
	t.logs.SetSize(t.width, t.height)
	return t.logs.Start()
}
