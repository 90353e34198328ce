package metrics

import (
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/NimbleMarkets/ntcharts/v2/linechart/timeserieslinechart"
	"github.com/NimbleMarkets/ntcharts/v2/sparkline"
	"github.com/charmbracelet/x/ansi"

	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
)

// buckets spreads points over n columns covering from..to (the right edge
// is now), keeping each column's largest value; NaN marks the columns
// before the first sample.
func buckets(pts []opmetrics.Point, from, to time.Time, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	span := to.Sub(from)
	if span <= 0 || n == 0 {
		return out
	}
	for _, p := range pts {
		i := int(float64(p.At.Sub(from)) / float64(span) * float64(n))
		if i < 0 {
			continue
		}
		i = min(i, n-1)
		if math.IsNaN(out[i]) || p.V > out[i] {
			out[i] = p.V
		}
	}
	// Columns narrower than the sampling interval fall between samples:
	// carry the last value on rather than draw a gap.
	for i := 1; i < n; i++ {
		if math.IsNaN(out[i]) && !math.IsNaN(out[i-1]) {
			out[i] = out[i-1]
		}
	}
	return out
}

// drawSparkline draws the points over the window as w×h columns (ntcharts),
// scaled between the window's min and max so that small changes show;
// columns without a sample stay empty.
func drawSparkline(pts []opmetrics.Point, from, to time.Time, w, h int, style lipgloss.Style) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	cols := buckets(pts, from, to, w)
	lo, hi, _ := opmetrics.MinMax(pts)
	sl := sparkline.New(w, h, sparkline.WithMaxValue(1), sparkline.WithNoAutoMaxValue(), sparkline.WithStyle(style))
	for _, v := range cols {
		switch {
		case math.IsNaN(v):
			sl.Push(0)
		case hi > lo:
			sl.Push(0.15 + 0.85*(v-lo)/(hi-lo))
		default:
			sl.Push(0.5) // flat: a level line at mid height
		}
	}
	sl.DrawColumnsOnly()
	return renderCanvas(&sl.Canvas)
}

// enlargedView shows the selected series as a line chart over the window,
// with its warn and crit levels when they fall near the data.
func (t *Tab) enlargedView() string {
	if t.sel >= len(t.panels) {
		return ""
	}
	s := t.c.Styles
	v := t.panels[t.sel]
	from, to := t.snap.At.Add(-t.window()), t.snap.At
	pts := windowPoints(v.Points, from)
	st := s.ForLevel(level(v.State))

	head := s.Title.Render(v.Source+" · "+v.Title) + "  " + st.Render(strings.ToUpper(v.State.String()))
	if !v.Since.IsZero() && v.State.String() != "ok" {
		head += s.Muted.Render(" for " + since(t.snap.At, v.Since))
	}
	lo, hi, ok := opmetrics.MinMax(pts)
	facts := "now " + st.Bold(true).Render(opmetrics.FormatValue(v.Value, v.Unit))
	if ok {
		facts += s.Muted.Render(fmt.Sprintf(" · min %s · max %s over %s", opmetrics.FormatValue(lo, v.Unit), opmetrics.FormatValue(hi, v.Unit), shortWindow(t.window())))
	}
	facts += s.Muted.Render(" · " + v.Threshold.Format(v.Unit) + " (thresholds." + v.Threshold.Name + ")")
	detail := s.Muted.Render(v.Detail)
	if v.Err != "" {
		detail = s.Error.Render(v.Err)
	}
	lines := []string{
		ansi.Truncate(head, t.width, "…"),
		ansi.Truncate(facts, t.width, "…"),
		ansi.Truncate(detail, t.width, "…"),
	}
	chartH := t.bodyHeight() - len(lines) - 1
	if chartH < 4 || len(pts) == 0 {
		lines = append(lines, s.Muted.Render("  no samples in this window yet"))
		return strings.Join(lines, "\n")
	}
	chart, legend := t.lineChart(v, pts, from, to, t.width, chartH)
	lines = append(lines, chart, legend)
	return strings.Join(lines, "\n")
}

// lineChart draws the series (and the thresholds near it) with ntcharts'
// time-series line chart.
func (t *Tab) lineChart(v opmetrics.SeriesView, pts []opmetrics.Point, from, to time.Time, w, h int) (string, string) {
	s := t.c.Styles
	lo, hi, _ := opmetrics.MinMax(pts)
	span := math.Max(hi-lo, math.Max(math.Abs(hi)*0.1, 1e-9))
	yMin, yMax := lo-span*0.1, hi+span*0.1
	var shown []string
	near := func(x float64) bool { return x >= lo-2*span && x <= hi+2*span }
	for _, l := range []struct {
		name string
		v    float64
	}{{"warn", v.Threshold.Limit.Warn}, {"crit", v.Threshold.Limit.Crit}} {
		if near(l.v) {
			yMin, yMax = math.Min(yMin, l.v), math.Max(yMax, l.v)
			shown = append(shown, l.name)
		}
	}
	if v.Unit == opmetrics.UnitPercent || lo >= 0 {
		yMin = math.Max(yMin, 0)
	}
	unit := v.Unit
	c := timeserieslinechart.New(w, h,
		timeserieslinechart.WithTimeRange(from, to),
		timeserieslinechart.WithYRange(yMin, yMax),
		timeserieslinechart.WithXYSteps(4, 2),
		timeserieslinechart.WithAxesStyles(s.Muted, s.Muted),
		timeserieslinechart.WithXLabelFormatter(func(_ int, x float64) string {
			return time.Unix(int64(x), 0).In(t.snap.At.Location()).Format("15:04:05")
		}),
		timeserieslinechart.WithYLabelFormatter(func(_ int, y float64) string { return opmetrics.FormatValue(y, unit) }),
		timeserieslinechart.WithStyle(s.ForLevel(level(v.State))),
		timeserieslinechart.WithDataSetStyle("warn", s.Warn),
		timeserieslinechart.WithDataSetStyle("crit", s.Crit),
	)
	for _, p := range pts {
		c.Push(timeserieslinechart.TimePoint{Time: p.At, Value: p.V})
	}
	for _, name := range shown {
		level := v.Threshold.Limit.Warn
		if name == "crit" {
			level = v.Threshold.Limit.Crit
		}
		c.PushDataSet(name, timeserieslinechart.TimePoint{Time: from, Value: level})
		c.PushDataSet(name, timeserieslinechart.TimePoint{Time: to, Value: level})
	}
	names := append([]string{timeserieslinechart.DefaultDataSetName}, shown...)
	c.DrawBrailleDataSets(names)
	legend := s.Muted.Render("  ─ " + v.Title)
	for _, n := range shown {
		st := s.Warn
		if n == "crit" {
			st = s.Crit
		}
		legend += "  " + st.Render("─ "+n)
	}
	if len(shown) < 2 {
		legend += s.Muted.Render("  (levels far from the data are left off the chart)")
	}
	return renderCanvas(&c.Canvas), ansi.Truncate(legend, w, "…")
}
