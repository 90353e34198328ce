package confirm

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/tui/styles"
)

func keyPress(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	}
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}

func TestYesNo(t *testing.T) {
	st := styles.Default()
	tests := []struct {
		name string
		keys []string
		want Decision
	}{
		{"enter defaults to no", []string{"enter"}, Cancelled},
		{"y confirms", []string{"y"}, Confirmed},
		{"n cancels", []string{"n"}, Cancelled},
		{"esc cancels", []string{"esc"}, Cancelled},
		{"move to yes then enter", []string{"right", "enter"}, Confirmed},
		{"other keys wait", []string{"x", "1"}, Pending},
		{"Y confirms too", []string{"Y"}, Confirmed},
		{"q cancels", []string{"q"}, Cancelled},
		{"l then enter confirms", []string{"l", "enter"}, Confirmed},
		{"two moves are back on no", []string{"right", "h", "enter"}, Cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(&st, "Delete 3 sets?", "They are past retention.")
			m.SetWidth(60)
			if !strings.Contains(m.View(), "Delete 3 sets?") {
				t.Fatalf("view: %s", m.View())
			}
			d := Pending
			for _, k := range tt.keys {
				m, d, _ = m.Update(keyPress(k))
			}
			if d != tt.want {
				t.Fatalf("decision %v, want %v", d, tt.want)
			}
			if d != Pending && m.Active() {
				t.Error("still active after deciding")
			}
		})
	}
}

func TestTypedName(t *testing.T) {
	st := styles.Default()
	m := NewTyped(&st, "Restore stockdb?", "The current database is renamed.", "stockdb")
	m.SetWidth(60)
	if !m.Typed() {
		t.Fatal("not typed")
	}
	var d Decision
	for _, k := range []string{"s", "t", "o", "c", "k"} {
		m, _, _ = m.Update(keyPress(k))
	}
	m, d, _ = m.Update(keyPress("enter"))
	if d != Pending || !strings.Contains(m.View(), "does not match") {
		t.Fatalf("partial name accepted: %v\n%s", d, m.View())
	}
	for _, k := range []string{"d", "b"} {
		m, _, _ = m.Update(keyPress(k))
	}
	// "y" is just a letter here, not a yes.
	if _, d, _ := m.Update(keyPress("y")); d != Pending {
		t.Fatalf("y decided in typed mode: %v", d)
	}
	if _, d, _ = m.Update(keyPress("enter")); d != Confirmed {
		t.Fatalf("exact name: %v", d)
	}
	m2 := NewTyped(&st, "Restore?", "", "stockdb")
	if _, d, _ := m2.Update(keyPress("esc")); d != Cancelled {
		t.Fatalf("esc: %v", d)
	}
}

func TestShortHelpIsTheHint(t *testing.T) {
	st := styles.Default()
	m := New(&st, "Delete?", "")
	m.SetWidth(80)
	var parts []string
	for _, b := range m.ShortHelp() {
		parts = append(parts, b.Help().Key+" "+b.Help().Desc)
	}
	if hint := strings.Join(parts, " · "); !strings.Contains(m.View(), hint) {
		t.Errorf("the prompt's hint is not its help %q:\n%s", hint, m.View())
	}
	typed := NewTyped(&st, "Restore?", "", "stockdb")
	if got := typed.ShortHelp(); len(got) != 2 || got[1].Help().Key != "esc" {
		t.Errorf("typed help: %v", got)
	}
}
