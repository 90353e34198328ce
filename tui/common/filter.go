package common

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// FilterKey handles a key while a tab's filter is being typed: KeepFilter
// (enter) keeps the filter and ends typing, DropFilter (esc) clears it and
// ends typing, anything else edits it. It reports whether typing ended and
// whether the filter's value changed (the tab then re-applies its rows).
func (c *Common) FilterKey(in *textinput.Model, msg tea.KeyPressMsg) (done, changed bool, cmd tea.Cmd) {
	switch {
	case key.Matches(msg, c.Keys.KeepFilter):
		in.Blur()
		return true, false, nil
	case key.Matches(msg, c.Keys.DropFilter):
		in.Blur()
		changed = in.Value() != ""
		in.SetValue("")
		return true, changed, nil
	}
	before := in.Value()
	*in, cmd = in.Update(msg)
	return false, in.Value() != before, cmd
}
