package table_test

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/tui/keys"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

func rows(n int) []table.Row {
	out := make([]table.Row, n)
	for i := range out {
		out[i] = table.Row{Key: fmt.Sprint(i), Cells: []string{fmt.Sprintf("row-%03d", i)}}
	}
	return out
}

func TestNavigateAndKeepSelection(t *testing.T) {
	s := styles.Default()
	m := table.New(&s, table.Column{Title: "NAME", Width: 10, Flex: true})
	m.SetSize(20, 11) // a header and 10 rows
	m.SetRows(rows(100))
	km := keys.Default()
	for _, tc := range []struct {
		key  tea.KeyPressMsg
		want int
	}{
		{tea.KeyPressMsg{Code: tea.KeyDown}, 1},
		{tea.KeyPressMsg{Code: tea.KeyPgDown}, 11},
		{tea.KeyPressMsg{Code: 'G', Text: "G"}, 99},
		{tea.KeyPressMsg{Code: tea.KeyUp}, 98},
		{tea.KeyPressMsg{Code: tea.KeyPgUp}, 88},
		{tea.KeyPressMsg{Code: 'g', Text: "g"}, 0},
	} {
		if !m.Navigate(tc.key, km) {
			t.Fatalf("%s not a navigation key", tc.key)
		}
		if m.Cursor() != tc.want {
			t.Fatalf("after %s cursor %d, want %d", tc.key, m.Cursor(), tc.want)
		}
	}
	if m.Navigate(tea.KeyPressMsg{Code: 'x', Text: "x"}, km) {
		t.Fatal("x taken for navigation")
	}
	// The selection follows its row when rows are replaced.
	m.MoveDown(5)
	m.SetRows(rows(100)[3:])
	if sel, _ := m.Selected(); sel.Key != "5" {
		t.Fatalf("selection moved to %s", sel.Key)
	}
	// Only the rows that fit are drawn.
	if n := strings.Count(m.View(), "row-"); n != 10 {
		t.Fatalf("drew %d rows, want 10", n)
	}
}
