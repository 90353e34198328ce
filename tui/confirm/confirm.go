// Package confirm is the cockpit's one confirmation prompt for actions that
// change something. It defaults to No: enter on an untouched prompt
// cancels. For dangerous actions it asks the operator to type the target's
// name (a database, a namespace) and confirms only on an exact match.
//
// The owning tab forwards key presses while the prompt is Active and reads
// the Decision that Update returns. Its keys are the key map's Confirm group
// (tui/keys); ShortHelp lists those the prompt offers.
package confirm

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/opsdeck/opsdeck/tui/keys"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// bindings are the prompt's keys, from the cockpit's key map.
var bindings = keys.Default().Confirm

// Decision is what the operator decided.
type Decision int

// Decisions.
const (
	Pending Decision = iota
	Confirmed
	Cancelled
)

// Model is a confirmation prompt.
type Model struct {
	styles *styles.Styles
	title  string
	body   string
	target string // type-the-name mode when set
	yes    bool   // the highlighted choice (y/n mode)
	input  textinput.Model
	active bool
	width  int
}

// New returns a yes/no prompt: title is the question, body what will
// happen. No is selected.
func New(s *styles.Styles, title, body string) Model {
	return Model{styles: s, title: title, body: body, active: true}
}

// NewTyped returns a prompt that confirms only when the operator types
// target exactly.
func NewTyped(s *styles.Styles, title, body, target string) Model {
	in := styles.NewInput()
	in.Prompt = "> "
	in.Placeholder = target
	in.CharLimit = 256
	in.Focus()
	return Model{styles: s, title: title, body: body, target: target, input: in, active: true}
}

// Active reports whether the prompt waits for an answer.
func (m Model) Active() bool { return m.active }

// Typed reports whether the prompt is in type-the-name mode (it takes
// every key, so the cockpit must not treat them as shortcuts).
func (m Model) Typed() bool { return m.target != "" }

// SetWidth sets the width the prompt wraps its text to.
func (m *Model) SetWidth(w int) {
	m.width = w
	m.input.SetWidth(max(w-6, 10))
}

// Update handles a key and returns the prompt and the decision so far.
func (m Model) Update(msg tea.Msg) (Model, Decision, tea.Cmd) {
	if !m.active {
		return m, Pending, nil
	}
	k, isKey := msg.(tea.KeyPressMsg)
	kb := bindings
	if m.target != "" {
		if isKey {
			switch {
			case key.Matches(k, kb.Cancel):
				m.active = false
				return m, Cancelled, nil
			case key.Matches(k, kb.Submit):
				if m.input.Value() == m.target {
					m.active = false
					return m, Confirmed, nil
				}
				return m, Pending, nil
			}
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, Pending, cmd
	}
	if !isKey {
		return m, Pending, nil
	}
	switch {
	case key.Matches(k, kb.Yes):
		m.active = false
		return m, Confirmed, nil
	case key.Matches(k, kb.No):
		m.active = false
		return m, Cancelled, nil
	case key.Matches(k, kb.Switch):
		m.yes = !m.yes
	case key.Matches(k, kb.Submit):
		m.active = false
		if m.yes {
			return m, Confirmed, nil
		}
		return m, Cancelled, nil
	}
	return m, Pending, nil
}

// View renders the prompt as a bordered panel.
func (m Model) View() string {
	s := m.styles
	w := max(m.width-4, 20)
	var b strings.Builder
	b.WriteString(s.Warn.Render(m.title))
	if m.body != "" {
		b.WriteString("\n\n" + lipgloss.NewStyle().Width(w).Render(m.body))
	}
	b.WriteString("\n\n")
	if m.target != "" {
		b.WriteString("Type " + s.Title.Render(m.target) + " to confirm, " + bindings.Cancel.Help().Key + " to cancel:\n")
		b.WriteString(m.input.View())
		if v := m.input.Value(); v != "" && v != m.target {
			b.WriteString("\n" + s.Muted.Render("does not match yet"))
		}
	} else {
		no, yes := s.TableSelected.Render(" No "), s.Muted.Render(" Yes ")
		if m.yes {
			no, yes = s.Muted.Render(" No "), s.TableSelected.Render(" Yes ")
		}
		hint := helpLine(bindings.Yes, bindings.No, bindings.Switch) + " · " + bindings.Submit.Help().Key
		b.WriteString(no + "  " + yes + "   " + s.Muted.Render(hint))
	}
	return s.Panel.Width(min(m.width, w+4)).Render(b.String())
}

// ShortHelp returns the keys the prompt offers, for the owning tab's help:
// yes, no and the highlight, or for a typed prompt enter and cancel.
func (m Model) ShortHelp() []key.Binding {
	if m.target != "" {
		return []key.Binding{bindings.Submit, bindings.Cancel}
	}
	return []key.Binding{bindings.Yes, bindings.No, bindings.Switch}
}

// helpLine renders bs as the prompt's hint: "y yes · n/esc no".
func helpLine(bs ...key.Binding) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.Help().Key + " " + b.Help().Desc
	}
	return strings.Join(parts, " · ")
}
