package runbooks

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/opsdeck/opsdeck/tui/styles"
)

// confirm asks the operator to confirm a command that changes things. The
// answer defaults to No: only "y" (or, when a word is required, typing it
// and enter) says yes; enter alone, "n" and esc say no.
type confirm struct {
	question string
	detail   []string
	word     string
	input    textinput.Model
}

// newConfirm returns a question; with word set, the operator must type it.
func newConfirm(question string, detail []string, word string) *confirm {
	c := &confirm{question: question, detail: detail, word: word}
	if word != "" {
		c.input = textinput.New()
		c.input.Prompt = "> "
		c.input.Placeholder = word
		c.input.CharLimit = 128
		st := c.input.Styles()
		st.Cursor.Blink = false
		c.input.SetStyles(st)
		c.input.SetWidth(40)
		c.input.Focus()
	}
	return c
}

// answer is the outcome of a key press: undecided, yes or no.
type answer int

const (
	undecided answer = iota
	yes
	no
)

// update handles a key press.
func (c *confirm) update(msg tea.KeyPressMsg) (answer, tea.Cmd) {
	switch msg.String() {
	case "esc", "ctrl+c":
		return no, nil
	}
	if c.word == "" {
		switch msg.String() {
		case "y", "Y":
			return yes, nil
		case "n", "N", "enter":
			return no, nil
		}
		return undecided, nil
	}
	if msg.String() == "enter" {
		if strings.TrimSpace(c.input.Value()) == c.word {
			return yes, nil
		}
		return no, nil
	}
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(msg)
	return undecided, cmd
}

// view draws the question as a panel width columns wide at most.
func (c *confirm) view(s *styles.Styles, width int) string {
	lines := []string{s.Title.Render(c.question), ""}
	for _, d := range c.detail {
		lines = append(lines, s.Muted.Render(d))
	}
	lines = append(lines, "")
	if c.word == "" {
		lines = append(lines, s.HelpKey.Render("y")+s.HelpDesc.Render(" yes · ")+s.HelpKey.Render("n/enter/esc")+s.HelpDesc.Render(" no (the default)"))
	} else {
		lines = append(lines, "Type "+s.Warn.Render(c.word)+" and press enter to confirm; esc cancels.", c.input.View())
	}
	box := s.Panel.BorderForeground(s.Palette.Warn).Width(min(max(width-4, 30), 100))
	return lipgloss.NewStyle().Padding(1, 2).Render(box.Render(strings.Join(lines, "\n")))
}
