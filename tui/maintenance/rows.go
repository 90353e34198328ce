package maintenance

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

var taskColumns = []table.Column{
	{Title: "TASK", Width: 9},
	{Title: "LAST RUN", Width: 16},
	{Title: "RESULT", Width: 7},
	{Title: "FINDINGS", Width: 22},
	{Title: "WHAT IT DOES", Width: 10, Flex: true},
}

var findingColumns = []table.Column{
	{Title: " ", Width: 1},
	{Title: "AREA", Width: 8},
	{Title: "STATUS", Width: 7},
	{Title: "CHECK", Width: 20},
	{Title: "OBJECT", Width: 14, Flex: true},
	{Title: "FINDING", Width: 16, Flex: true},
}

// taskText says in a few words what each task covers.
var taskText = map[opmaintain.Mode]string{
	opmaintain.ModeFull:     "all of the below",
	opmaintain.ModeHealth:   "the morning check and the age of the last backups",
	opmaintain.ModeDB:       "dead tuples and vacuum, long queries, locks, indexes, bloat",
	opmaintain.ModeRedis:    "memory, hit rate, biggest keys, prefixes, TTLs",
	opmaintain.ModeCleanup:  "old log archives, backups, what restores left",
	opmaintain.ModeSecurity: "Postgres, Redis, Kubernetes, backup store",
	opmaintain.ModeCapacity: "growth, days until full, what runs out first",
}

// level maps a status to the style level; n/a shows as unknown.
func level(s health.Status) styles.Level { return styles.Level(s) }

func (t *Tab) setTaskRows() {
	now := t.c.Now()
	rows := make([]table.Row, 0, len(opmaintain.Modes))
	for _, m := range opmaintain.Modes {
		r := table.Row{Key: string(m), Cells: []string{string(m), "never", "", "", taskText[m]}}
		if lr, ok := t.runs[m]; ok {
			r.Cells[1] = kube.HumanAge(now.Sub(lr.At)) + " ago"
			r.Cells[2] = strings.ToUpper(lr.Status.String())
			r.Cells[3] = counts(lr.Counts)
			r.Level = level(lr.Status)
		}
		if t.running != "" && t.repMode == m && t.running == "maintain "+string(m) {
			r.Cells[1] = "running…"
		}
		rows = append(rows, r)
	}
	t.tasks.SetRows(rows)
}

// counts renders "2 crit, 3 warn, 10 ok", worst first.
func counts(c map[string]int) string {
	var parts []string
	for _, s := range []string{"crit", "warn", "unknown", "n/a", "ok"} {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// sortState is the findings' sort: a column and a direction.
type sortState struct {
	col  int
	desc bool
}

// sortNames are the sort orders s cycles through.
var sortNames = []string{"area and status", "status", "check", "object"}

func (s *sortState) next() { s.col = (s.col + 1) % len(sortNames) }

func (s sortState) String() string {
	if s.desc {
		return sortNames[s.col] + " ↑"
	}
	return sortNames[s.col]
}

// rank orders statuses by how much they need attention.
func rank(f opmaintain.Finding) int {
	switch {
	case f.NA:
		return 1
	case f.Status == health.OK:
		return 0
	}
	return f.Status.Severity() + 1
}

// setFindingRows rebuilds the findings table from the report.
func (t *Tab) setFindingRows() {
	if t.rep == nil {
		t.findings.SetRows(nil)
		return
	}
	fs := slices.Clone(t.rep.Findings)
	switch t.sort.col {
	case 1:
		slices.SortStableFunc(fs, func(a, b opmaintain.Finding) int { return cmp.Compare(rank(b), rank(a)) })
	case 2:
		slices.SortStableFunc(fs, func(a, b opmaintain.Finding) int { return strings.Compare(a.Check, b.Check) })
	case 3:
		slices.SortStableFunc(fs, func(a, b opmaintain.Finding) int { return strings.Compare(a.Object, b.Object) })
	}
	if t.sort.desc {
		slices.Reverse(fs)
	}
	rows := make([]table.Row, 0, len(fs))
	for _, f := range fs {
		mark := " "
		switch {
		case f.Done != "":
			mark = "✓"
		case f.Action != nil && t.canAct(f):
			mark = "•"
		}
		summary := f.Summary
		if f.Done != "" {
			summary = f.Done
		}
		rows = append(rows, table.Row{
			Key:   f.Key(),
			Cells: []string{mark, string(f.Area), strings.ToUpper(f.StatusText()), f.Check, f.Object, summary},
			Level: level(f.Level()),
		})
	}
	t.findings.SetRows(rows)
}
