package health

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	ophealth "github.com/opsdeck/opsdeck/ops/health"
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

func (s sortState) name() string {
	n := s.keys[s.col]
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

// matcher reports whether all the filter's words occur in one of fields.
func matcher(filter string) func(fields ...string) bool {
	words := strings.Fields(strings.ToLower(filter))
	return func(fields ...string) bool {
		for _, w := range words {
			found := false
			for _, f := range fields {
				if strings.Contains(strings.ToLower(f), w) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
}

// applyRows filters, sorts and hands the rows to the tables. It runs in
// Update, so it stays linear in the number of pods with no I/O.
func (t *Tab) applyRows() {
	th := t.c.Config.Thresholds
	match := matcher(t.filter.Value())

	type podItem struct {
		row    kube.PodRow
		status ophealth.Status
	}
	pods := make([]podItem, 0, len(t.pods))
	t.podProblems, t.nodeProblems = 0, 0
	for _, p := range t.pods {
		st := ophealth.PodStatus(p, th)
		if st != ophealth.OK {
			t.podProblems++
		}
		if t.problemsOnly && st == ophealth.OK {
			continue
		}
		if t.focus == focusPods && !match(p.Namespace, p.Name, p.Status, p.Node, p.Reason) {
			continue
		}
		pods = append(pods, podItem{p, st})
	}
	ps := t.podSort
	slices.SortStableFunc(pods, func(a, b podItem) int {
		var c int
		switch ps.keys[ps.col] {
		case "problems":
			c = cmp.Compare(b.status.Severity(), a.status.Severity())
		case "status":
			c = cmp.Compare(a.row.Status, b.row.Status)
		case "restarts":
			c = cmp.Compare(b.row.Restarts, a.row.Restarts)
		case "age":
			c = cmp.Compare(a.row.Age, b.row.Age)
		case "node":
			c = cmp.Compare(a.row.Node, b.row.Node)
		}
		if ps.desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Or(cmp.Compare(a.row.Namespace, b.row.Namespace), cmp.Compare(a.row.Name, b.row.Name))
		}
		return c
	})
	rows := make([]table.Row, len(pods))
	for i, p := range pods {
		r := p.row
		rows[i] = table.Row{
			Key: r.Namespace + "/" + r.Name,
			Cells: []string{r.Namespace, r.Name, r.Ready, r.Status, restarts(r),
				kube.HumanAge(r.Age), r.Node, r.Reason},
			Level: level(p.status),
		}
	}
	t.podTable.SetRows(rows)

	type nodeItem struct {
		row    kube.NodeRow
		status ophealth.Status
	}
	nodes := make([]nodeItem, 0, len(t.nodes))
	for _, n := range t.nodes {
		st := ophealth.NodeStatus(n)
		if st != ophealth.OK {
			t.nodeProblems++
		}
		if t.problemsOnly && st == ophealth.OK {
			continue
		}
		if t.focus == focusNodes && !match(n.Name, n.Status, n.Roles, strings.Join(n.Conditions, " ")) {
			continue
		}
		nodes = append(nodes, nodeItem{n, st})
	}
	ns := t.nodeSort
	slices.SortStableFunc(nodes, func(a, b nodeItem) int {
		var c int
		switch ns.keys[ns.col] {
		case "problems":
			c = cmp.Compare(b.status.Severity(), a.status.Severity())
		case "pods":
			c = cmp.Compare(b.row.PodsCount, a.row.PodsCount)
		case "age":
			c = cmp.Compare(a.row.Age, b.row.Age)
		}
		if ns.desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(a.row.Name, b.row.Name)
		}
		return c
	})
	nrows := make([]table.Row, len(nodes))
	for i, n := range nodes {
		r := n.row
		pods := "-"
		if r.PodsCount >= 0 {
			pods = strconv.Itoa(r.PodsCount) + "/" + strconv.FormatInt(r.PodsAllocatable, 10)
		}
		conds := strings.Join(r.Conditions, ",")
		if conds == "" && r.Reason != "" {
			conds = r.Reason
		}
		nrows[i] = table.Row{
			Key:   r.Name,
			Cells: []string{r.Name, r.Status, r.Roles, r.CPUAllocatable, r.MemAllocatable, pods, kube.HumanAge(r.Age), r.Version, conds},
			Level: level(n.status),
		}
	}
	t.nodeTable.SetRows(nrows)
}

func restarts(r kube.PodRow) string {
	if r.Restarts == 0 {
		return "0"
	}
	return strconv.Itoa(r.Restarts)
}

func level(s ophealth.Status) styles.Level { return styles.Level(s) }
