// Package walstrip draws the WAL archive's coverage as a strip of time:
// each cell a slice of time judged against the spans the archive can
// recover to (backup.Recoverable), drawn by runs of one kind of cell.
// The Backups tab shows it under the catalog; the Restore tab's
// point-in-time timeline marks base backups and destructive transactions
// on it.
package walstrip

import (
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// Cell is one slice of time of the strip.
type Cell int

// The kinds of cell.
const (
	Before    Cell = iota // before the archive's first object and the oldest base backup
	Covered               // recoverable: a base backup and the WAL after it
	Uncovered             // not recoverable
	Gap                   // a hole between two recoverable stretches
)

// The strip's glyphs: they differ in shape too, so the strip reads
// without colour.
const (
	GlyphBefore    = "·"
	GlyphCovered   = "█"
	GlyphUncovered = "░"
	GlyphGap       = "×"
	GlyphBase      = "▼"
)

// Cells judges n slices of time from from to to. A slice is covered
// when most of it is recoverable, a gap when any hole between two
// recoverable stretches falls in it (a gap is never hidden by a wide
// slice), before when it ends before start.
func Cells(n int, from, to, start time.Time, spans []backup.TimeSpan) []Cell {
	cells := make([]Cell, max(n, 0))
	total := to.Sub(from)
	for i := range cells {
		a := from.Add(total * time.Duration(i) / time.Duration(n))
		b := from.Add(total * time.Duration(i+1) / time.Duration(n))
		if !b.After(start) {
			cells[i] = Before
			continue
		}
		if a.Before(start) {
			a = start
		}
		var covered time.Duration
		gap := false
		for j, sp := range spans {
			covered += overlap(a, b, sp.From, sp.To)
			if j > 0 && overlap(a, b, spans[j-1].To, sp.From) > 0 {
				gap = true
			}
		}
		switch {
		case gap:
			cells[i] = Gap
		case covered*2 >= b.Sub(a):
			cells[i] = Covered
		default:
			cells[i] = Uncovered
		}
	}
	return cells
}

// Index is the cell of n from from to to that t falls in, clamped to
// the strip; -1 when t is outside it.
func Index(n int, from, to, t time.Time) int {
	if n <= 0 || t.Before(from) || t.After(to) || !to.After(from) {
		return -1
	}
	return min(int(int64(n)*int64(t.Sub(from))/int64(to.Sub(from))), n-1)
}

// overlap is how long [a, b) and [c, d) share.
func overlap(a, b, c, d time.Time) time.Duration {
	if c.After(a) {
		a = c
	}
	if d.Before(b) {
		b = d
	}
	if !b.After(a) {
		return 0
	}
	return b.Sub(a)
}

// Render draws cells by runs of one kind of cell, one style call each.
func Render(s styles.Styles, cells []Cell) string {
	var b strings.Builder
	for i := 0; i < len(cells); {
		j := i
		for j < len(cells) && cells[j] == cells[i] {
			j++
		}
		glyph, st := GlyphBefore, s.Muted
		switch cells[i] {
		case Covered:
			glyph, st = GlyphCovered, s.OK
		case Uncovered:
			glyph, st = GlyphUncovered, s.Crit
		case Gap:
			glyph, st = GlyphGap, s.Crit
		}
		b.WriteString(st.Render(strings.Repeat(glyph, j-i)))
		i = j
	}
	return b.String()
}

// Legend names the glyphs: recoverable, not, gap, base backup.
func Legend(s styles.Styles) string {
	return s.OK.Render(GlyphCovered) + s.Muted.Render(" recoverable  ") +
		s.Crit.Render(GlyphUncovered) + s.Muted.Render(" not  ") +
		s.Crit.Render(GlyphGap) + s.Muted.Render(" gap  ") +
		s.Title.Render(GlyphBase) + s.Muted.Render(" base backup")
}
