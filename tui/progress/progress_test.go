package progress

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/styles"
)

func TestView(t *testing.T) {
	st := styles.Default()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m := New(&st, "backup full", clock)
	m.Apply(progress.Event{Kind: progress.Start, Step: "database"})
	now = now.Add(time.Second)
	m.Apply(progress.Event{Kind: progress.Advance, Step: "database", Done: 100 << 20, Total: 400 << 20, Bytes: true})
	now = now.Add(time.Second)
	m.Apply(progress.Event{Kind: progress.Advance, Step: "database", Done: 200 << 20, Total: 400 << 20, Bytes: true})
	got := ansi.Strip(m.View(120))
	for _, w := range []string{"backup full", " 50% ", "200.0 MiB/400.0 MiB", "100.0 MiB/s", "ETA 2s", "database"} {
		if !strings.Contains(got, w) {
			t.Errorf("%q lacks %q", got, w)
		}
	}
	if w := ansi.StringWidth(m.View(40)); w > 40 {
		t.Errorf("width %d > 40", w)
	}
	// Unknown total: no percentage, no ETA.
	m.Apply(progress.Event{Kind: progress.Start, Step: "redis"})
	m.Apply(progress.Event{Kind: progress.Advance, Step: "redis", Done: 5 << 20, Bytes: true})
	got = ansi.Strip(m.View(120))
	if strings.Contains(got, "%") || strings.Contains(got, "ETA") || !strings.Contains(got, "5.0 MiB") {
		t.Errorf("unknown total: %q", got)
	}
}
