package walstrip

import (
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
)

func TestStripCells(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	for _, tt := range []struct {
		name  string
		start time.Time
		spans []backup.TimeSpan
		want  string
	}{
		{"all covered", h(0), []backup.TimeSpan{{From: h(0), To: h(10)}}, "##########"},
		{"nothing recoverable", h(0), nil, ".........."},
		{"before the data", h(4), []backup.TimeSpan{{From: h(4), To: h(10)}}, "    ######"},
		// A hole of a minute inside one cell is still shown.
		{"narrow gap shown", h(0), []backup.TimeSpan{{From: h(0), To: h(5.5)}, {From: h(5.52), To: h(10)}}, "#####x####"},
		// The tail not yet archived: covered while most of a cell is.
		{"tail", h(0), []backup.TimeSpan{{From: h(0), To: h(9.6)}}, "##########"},
		{"stale tail", h(0), []backup.TimeSpan{{From: h(0), To: h(7.2)}}, "#######..."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cells := Cells(10, h(0), h(10), tt.start, tt.spans)
			got := ""
			for _, c := range cells {
				got += map[Cell]string{Before: " ", Covered: "#", Uncovered: ".", Gap: "x"}[c]
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	for _, tt := range []struct {
		at   time.Time
		want int
	}{{h(0), 0}, {h(0.99), 0}, {h(1), 1}, {h(9.99), 9}, {h(10), 9}, {h(-1), -1}, {h(11), -1}} {
		if got := Index(10, h(0), h(10), tt.at); got != tt.want {
			t.Errorf("Index(%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
	if got := Index(0, h(0), h(10), h(1)); got != -1 {
		t.Errorf("no cells: %d", got)
	}
}
