package health

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

var podColumns = []table.Column{
	{Title: "NAMESPACE", Width: 10},
	{Title: "NAME", Width: 24, Flex: true},
	{Title: "READY", Width: 5},
	{Title: "STATUS", Width: 16},
	{Title: "RESTARTS", Width: 8, Right: true},
	{Title: "AGE", Width: 6, Right: true},
	{Title: "NODE", Width: 12, Flex: true},
	{Title: "REASON", Width: 20, Flex: true},
}

var nodeColumns = []table.Column{
	{Title: "NAME", Width: 18, Flex: true},
	{Title: "STATUS", Width: 10},
	{Title: "ROLES", Width: 8},
	{Title: "CPU", Width: 6, Right: true},
	{Title: "MEMORY", Width: 8, Right: true},
	{Title: "PODS", Width: 7, Right: true},
	{Title: "AGE", Width: 6, Right: true},
	{Title: "VERSION", Width: 8},
	{Title: "CONDITIONS", Width: 16, Flex: true},
}

// sortState is a table's sort column and direction; column 0 is "problems
// first", the default.
type sortState struct {
	col  int
	desc bool
	keys []string
}

func (s *sortState) next() { s.col = (s.col + 1) % len(s.keys) }

func (s sortState) key() string { return s.keys[s.col] }

// same reports whether o sorts the same way.
func (s sortState) same(o sortState) bool { return s.col == o.col && s.desc == o.desc }

func (s sortState) name() string {
	n := s.key()
	if s.col == 0 && !s.desc {
		return n + " first"
	}
	if s.desc {
		return n + " ↓"
	}
	return n + " ↑"
}

var (
	podSortKeys  = []string{"problems", "name", "status", "restarts", "age", "node"}
	nodeSortKeys = []string{"problems", "name", "pods", "age"}
)

// item is one pod or node as the tables need it, computed once per snapshot:
// its verdict, its table row (cells formatted once) and the lower-cased text
// the filter searches. Filtering and sorting then move items, not strings.
type item[R any] struct {
	data     R
	status   health.Status
	row      table.Row
	haystack string
}

// rowSet is the state of one table's rows: every item in sort order, and the
// filter that picked the shown ones, so that typing more of a filter only
// narrows what is already shown.
type rowSet[R any] struct {
	all, shown   []item[R]
	filter       string
	problemsOnly bool
}

// show selects the items matching filter (all of its words, case-insensitive)
// and, with problemsOnly, not OK. When filter extends the previous one, only
// the items shown so far are searched.
func (s *rowSet[R]) show(filter string, problemsOnly bool) []table.Row {
	filter = strings.ToLower(filter)
	from := s.all
	if s.shown != nil && problemsOnly == s.problemsOnly && s.filter != "" && strings.HasPrefix(filter, s.filter) &&
		!strings.HasSuffix(s.filter, " ") {
		from = s.shown
	}
	words := strings.Fields(filter)
	shown := make([]item[R], 0, len(from))
	for _, it := range from {
		if problemsOnly && it.status == health.OK {
			continue
		}
		if matchAll(it.haystack, words) {
			shown = append(shown, it)
		}
	}
	s.shown, s.filter, s.problemsOnly = shown, filter, problemsOnly
	rows := make([]table.Row, len(shown))
	for i, it := range shown {
		rows[i] = it.row
	}
	return rows
}

// reset replaces the items; the next show searches them all.
func (s *rowSet[R]) reset(all []item[R]) { s.all, s.shown = all, nil }

func matchAll(haystack string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(haystack, w) {
			return false
		}
	}
	return true
}

// podItems turns pods into items in the order of ps and counts those not
// OK. It is pure: the snapshot Cmd runs it off the UI goroutine, and Update
// runs it again only when the sort changes.
func podItems(pods []kube.PodRow, th config.Thresholds, ps sortState) (items []item[kube.PodRow], problems int) {
	items = make([]item[kube.PodRow], len(pods))
	for i, p := range pods {
		st := health.PodStatus(p, th)
		if st != health.OK {
			problems++
		}
		cells := []string{p.Namespace, p.Name, p.Ready, p.Status, strconv.Itoa(p.Restarts), kube.HumanAge(p.Age), p.Node, p.Reason}
		items[i] = item[kube.PodRow]{
			data: p, status: st,
			row:      table.Row{Key: p.Namespace + "/" + p.Name, Cells: cells, Level: level(st)},
			haystack: strings.ToLower(p.Namespace + " " + p.Name + " " + p.Status + " " + p.Node + " " + p.Reason),
		}
	}
	slices.SortStableFunc(items, func(a, b item[kube.PodRow]) int {
		var c int
		switch ps.key() {
		case "problems":
			c = cmp.Compare(b.status.Severity(), a.status.Severity())
		case "status":
			c = cmp.Compare(a.data.Status, b.data.Status)
		case "restarts":
			c = cmp.Compare(b.data.Restarts, a.data.Restarts)
		case "age":
			c = cmp.Compare(a.data.Age, b.data.Age)
		case "node":
			c = cmp.Compare(a.data.Node, b.data.Node)
		}
		if ps.desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.data.Namespace, b.data.Namespace), cmp.Compare(a.data.Name, b.data.Name))
	})
	return items, problems
}

// nodeItems is podItems for nodes.
func nodeItems(nodes []kube.NodeRow, ns sortState) (items []item[kube.NodeRow], problems int) {
	items = make([]item[kube.NodeRow], len(nodes))
	for i, n := range nodes {
		st := health.NodeStatus(n)
		if st != health.OK {
			problems++
		}
		pods := "-"
		if n.PodsCount >= 0 {
			pods = strconv.Itoa(n.PodsCount) + "/" + strconv.FormatInt(n.PodsAllocatable, 10)
		}
		conds := strings.Join(n.Conditions, ",")
		if conds == "" && n.Reason != "" {
			conds = n.Reason
		}
		items[i] = item[kube.NodeRow]{
			data: n, status: st,
			row: table.Row{Key: n.Name, Level: level(st),
				Cells: []string{n.Name, n.Status, n.Roles, n.CPUAllocatable, n.MemAllocatable, pods, kube.HumanAge(n.Age), n.Version, conds}},
			haystack: strings.ToLower(n.Name + " " + n.Status + " " + n.Roles + " " + conds),
		}
	}
	slices.SortStableFunc(items, func(a, b item[kube.NodeRow]) int {
		var c int
		switch ns.key() {
		case "problems":
			c = cmp.Compare(b.status.Severity(), a.status.Severity())
		case "pods":
			c = cmp.Compare(b.data.PodsCount, a.data.PodsCount)
		case "age":
			c = cmp.Compare(a.data.Age, b.data.Age)
		}
		if ns.desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.data.Name, b.data.Name))
	})
	return items, problems
}

// rebuildPods re-orders the pods after a sort change.
func (t *Tab) rebuildPods() {
	items, problems := podItems(t.pods, t.c.Config.Thresholds, t.podSort)
	t.podRows.reset(items)
	t.podProblems = problems
}

// rebuildNodes re-orders the nodes after a sort change.
func (t *Tab) rebuildNodes() {
	items, problems := nodeItems(t.nodes, t.nodeSort)
	t.nodeRows.reset(items)
	t.nodeProblems = problems
}

// applyRows hands the tables the rows that pass the filter (which applies to
// the focused table) and the problems-only switch.
func (t *Tab) applyRows() {
	podFilter, nodeFilter := t.filter.Value(), ""
	if t.focus == focusNodes {
		podFilter, nodeFilter = "", t.filter.Value()
	}
	t.podTable.SetRows(t.podRows.show(podFilter, t.problemsOnly))
	t.nodeTable.SetRows(t.nodeRows.show(nodeFilter, t.problemsOnly))
}

func level(s health.Status) styles.Level { return styles.Level(s) }
