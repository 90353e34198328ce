package tuitest

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/tui/common"
)

// Drive runs cmd and feeds the messages it yields back into tab, and the
// messages of the commands those return, until nothing is left (at most
// 100 messages). A command that has not answered within wait (a timer, a
// wait for the next change) yields nothing.
func Drive(t testing.TB, tab common.Tab, cmd tea.Cmd, wait time.Duration) common.Tab {
	t.Helper()
	queue := Run(cmd, wait)
	for i := 0; i < len(queue) && i < 100; i++ {
		var next tea.Cmd
		tab, next = tab.Update(queue[i])
		queue = append(queue, Run(next, wait)...)
	}
	return tab
}

// Run runs cmd (and the commands of a batch) and returns the messages that
// arrive within wait.
func Run(cmd tea.Cmd, wait time.Duration) []tea.Msg {
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		if b, ok := msg.(tea.BatchMsg); ok {
			var out []tea.Msg
			for _, c := range b {
				out = append(out, Run(c, wait)...)
			}
			return out
		}
		if msg == nil {
			return nil
		}
		return []tea.Msg{msg}
	case <-time.After(wait):
		return nil
	}
}

// Press sends keys to tab one by one, driving the commands each returns.
func Press(t testing.TB, tab common.Tab, wait time.Duration, keys ...string) common.Tab {
	t.Helper()
	for _, k := range keys {
		var cmd tea.Cmd
		tab, cmd = tab.Update(Key(k))
		tab = Drive(t, tab, cmd, wait)
	}
	return tab
}
