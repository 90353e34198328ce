package restore

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/safefile"
)

// DrillMetricsFile is the drills' textfile in backup.metrics_dir, beside
// opsdeck_backup.prom, for node exporter's textfile collector.
const DrillMetricsFile = "opsdeck_drill.prom"

// RenderDrillMetrics renders, per component, when its newest successful
// drill ended and that drill's recovery time.
func RenderDrillMetrics(recs []DrillRecord) []byte {
	st := DrillStatuses(recs)
	comps := make([]string, 0, len(st))
	for c, s := range st {
		if s.LastProven != nil {
			comps = append(comps, c)
		}
	}
	slices.Sort(comps)
	var b strings.Builder
	b.WriteString("# HELP opsdeck_drill_last_success_timestamp_seconds When the component's newest successful restore drill ended.\n")
	b.WriteString("# TYPE opsdeck_drill_last_success_timestamp_seconds gauge\n")
	for _, c := range comps {
		fmt.Fprintf(&b, "opsdeck_drill_last_success_timestamp_seconds{component=%q} %d\n", c, st[c].LastProven.End.Unix())
	}
	b.WriteString("# HELP opsdeck_drill_rto_seconds The recovery time (to the proof) of the component's newest successful drill.\n")
	b.WriteString("# TYPE opsdeck_drill_rto_seconds gauge\n")
	for _, c := range comps {
		fmt.Fprintf(&b, "opsdeck_drill_rto_seconds{component=%q} %.3f\n", c, st[c].LastProven.RTO.Seconds())
	}
	return []byte(b.String())
}

// writeDrillMetrics rewrites the drills' textfile from the history.
func (e *Engine) writeDrillMetrics() error {
	dir := e.cfg().Backup.MetricsDir
	if dir == "" {
		return nil
	}
	recs, err := ReadDrills(e.cfg().StateDir)
	if err != nil {
		return err
	}
	return safefile.Write(filepath.Join(dir, DrillMetricsFile), RenderDrillMetrics(recs), 0o644)
}
