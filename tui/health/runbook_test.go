package health_test

import (
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// TestRunbookKey: b asks the cockpit to open the runbook section of the
// selected problem: crash loop, Pending pod, other pod problem, node.
func TestRunbookKey(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		filter string
		want   string
	}{
		{"crash loop (first problem)", nil, "", "pod-crashloop"},
		{"pending pod", nil, "m4n8r", "pod-pending"},
		{"pod not ready", nil, "scheduler", "pod-problems"},
		{"restarting pod", nil, "redis-0", "pod-crashloop"},
		{"not ready node", []string{"n"}, "", "node-not-ready"},
		{"from the details", []string{"enter"}, "", "pod-crashloop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, _ := loaded(t, 120, 38, 0)
			if tt.filter != "" {
				press(t, tab, "/")
				for _, r := range tt.filter {
					press(t, tab, string(r))
				}
				press(t, tab, "enter")
			}
			press(t, tab, tt.keys...)
			_, cmd := tab.Update(tuitest.Key("b"))
			msgs := tuitest.Run(cmd, time.Second)
			if len(msgs) != 1 {
				t.Fatalf("b gave %d messages, want one OpenRunbookMsg", len(msgs))
			}
			got, ok := msgs[0].(common.OpenRunbookMsg)
			if !ok || got.Section != tt.want {
				t.Fatalf("b gave %#v, want section %q", msgs[0], tt.want)
			}
		})
	}
}
