package bundle

import (
	"context"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
)

const partMetrics = "metrics.csv"

// readMetrics writes the metrics window as CSV: the running engine's when
// there is one (the cockpit's), else an engine built from the config and
// sampled now — twice, metrics.interval apart, when that fits in the
// source's timeout, so that rates have a value. Kubernetes' series come
// only from a running engine: the cluster part lists the pods already.
func readMetrics(ctx context.Context, cfg *config.Config, engine *opmetrics.Engine, timeout time.Duration, out *emitter) error {
	t0 := time.Now()
	if engine == nil {
		setup, err := opmetrics.Build(cfg, nil)
		if err != nil {
			return err
		}
		defer setup.Close()
		engine = setup.Engine
		engine.SampleOnce(ctx)
		if iv := engine.Interval(); 2*iv < timeout && len(engine.Snapshot(0).Sources) > 0 {
			select {
			case <-time.After(iv):
				engine.SampleOnce(ctx)
			case <-ctx.Done():
			}
		}
	}
	out.Put(partMetrics, metricsCSV(engine.Snapshot(0)), time.Since(t0), nil)
	return nil
}

// metricsCSV is one row per point: series, source, title, unit, time,
// value; a series without points is one row with its error or state.
func metricsCSV(s opmetrics.Snapshot) []byte {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"series", "source", "title", "unit", "time", "value", "state", "error"})
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	for _, v := range s.Series {
		if len(v.Points) == 0 {
			_ = w.Write([]string{v.ID, v.Source, v.Title, string(v.Unit), timeText(v.At), num(v.Value), v.State.String(), oneLine(v.Err)})
			continue
		}
		for _, p := range v.Points {
			_ = w.Write([]string{v.ID, v.Source, v.Title, string(v.Unit), p.At.UTC().Format(time.RFC3339Nano), num(p.V), "", ""})
		}
	}
	w.Flush()
	return []byte(b.String())
}
