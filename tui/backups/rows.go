package backups

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

var columns = []table.Column{
	{Title: "ID", Width: 15},
	{Title: "KIND", Width: 8},
	{Title: "STATUS", Width: 7},
	{Title: "COMPONENTS", Width: 10, Flex: true},
	{Title: "SIZE", Width: 9, Right: true},
	{Title: "AGE", Width: 5, Right: true},
	{Title: "VERIFY", Width: 13},
	{Title: "PROVEN", Width: 30}, // "proven 2006-01-02 · RTO 59m59s"
}

// provenWidth is the width from which the PROVEN column shows; narrower,
// a proven set's VERIFY cell says "proven <month-day>".
var provenWidth = func() int {
	w := -1
	for _, c := range columns {
		w += c.Width + 1
	}
	return w
}()

// sortState cycles through the sortable columns.
type sortState struct {
	col  int // 0 newest, 1 kind, 2 size, 3 verify
	desc bool
}

var sortNames = []string{"newest", "kind", "size", "verify state"}

func (s *sortState) next() { s.col = (s.col + 1) % len(sortNames) }

func (s sortState) String() string {
	n := sortNames[s.col]
	if s.desc {
		n += " (reversed)"
	}
	return n
}

// applyRows filters and sorts the catalog into the table.
func (t *Tab) applyRows() {
	now := t.c.Now()
	words := strings.Fields(strings.ToLower(t.filter.Value()))
	sets := make([]backup.Set, 0, len(t.sets))
	for _, s := range t.sets {
		if matches(s, words) {
			sets = append(sets, s)
		}
	}
	slices.SortStableFunc(sets, func(a, b backup.Set) int {
		var c int
		switch t.sort.col {
		case 1:
			c = cmp.Compare(kindOf(a), kindOf(b))
		case 2:
			c = cmp.Compare(sizeOf(b), sizeOf(a))
		case 3:
			c = cmp.Compare(a.VerifyState(), b.VerifyState())
		}
		if c == 0 {
			c = cmp.Compare(b.ID, a.ID) // newest first
		}
		if t.sort.desc {
			c = -c
		}
		return c
	})
	rows := make([]table.Row, 0, len(sets))
	for _, s := range sets {
		rows = append(rows, rowOf(s, now, t.proven, t.width >= provenWidth))
	}
	t.tbl.SetRows(rows)
}

func kindOf(s backup.Set) string {
	if s.Manifest == nil {
		return ""
	}
	return s.Manifest.Kind
}

func sizeOf(s backup.Set) int64 {
	if s.Manifest == nil {
		return 0
	}
	return s.Manifest.Size()
}

func matches(s backup.Set, words []string) bool {
	if len(words) == 0 {
		return true
	}
	hay := s.ID + " " + s.VerifyState()
	if m := s.Manifest; m != nil {
		hay += " " + m.Kind + " " + m.Status + " " + strings.Join(m.ComponentNames(), " ") + " " + strings.Join(m.Tags, " ")
	}
	hay = strings.ToLower(hay)
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

func rowOf(s backup.Set, now time.Time, proven map[string]oprestore.DrillRecord, wide bool) table.Row {
	r := table.Row{Key: s.ID}
	if s.Manifest == nil {
		r.Cells = []string{s.ID, "?", "broken", "", "", "", s.VerifyState(), ""}
		r.Level = styles.LevelCrit
		return r
	}
	m := s.Manifest
	verify, mark := s.VerifyState(), ""
	if d, ok := proven[s.ID]; ok {
		mark = provenMark(d)
		if !wide && s.Verified() {
			verify = "proven " + d.Start.Local().Format("01-02")
		}
	}
	r.Cells = []string{m.ID, m.Kind, m.Status, strings.Join(m.ComponentNames(), ","), progress.Bytes(m.Size()), age(now.Sub(m.Start)), verify, mark}
	switch {
	case s.VerifyState() == backup.VerifyFailed:
		r.Level = styles.LevelCrit
	case m.Status != backup.StatusOK:
		r.Level = styles.LevelWarn
	case !s.Verified():
		r.Level = styles.LevelUnknown
	}
	return r
}

// provenMark is a proven set's mark: "proven 2026-11-26 · RTO 2m10s".
func provenMark(d oprestore.DrillRecord) string {
	return "proven " + d.Start.Local().Format("2006-01-02") + " · RTO " + d.RTO.Round(time.Second).String()
}

// age renders a duration as kubectl does: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
