package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// Unit says how a series' values read.
type Unit string

// The units of series. Configured panels use the same spellings.
const (
	UnitNone        Unit = ""
	UnitPercent     Unit = "%"
	UnitSeconds     Unit = "s"
	UnitBytes       Unit = "bytes"
	UnitBytesPerSec Unit = "bytes/s"
	UnitPerSec      Unit = "/s"
	UnitPerMin      Unit = "/min"
)

// Level is the reference system's metric level.
type Level string

// The three levels of the reference monitoring.
const (
	LevelSystem      Level = "system"
	LevelApplication Level = "application"
	LevelBusiness    Level = "business"
)

// Threshold is the level a series is judged against, in the series' unit.
type Threshold struct {
	// Name is the key in the config's thresholds section, or the panel's
	// name for a panel with its own levels.
	Name  string       `json:"name"`
	Limit config.Limit `json:"limit"`
	// Lower means lower values are worse.
	Lower bool `json:"lower,omitempty"`
}

// thresholdFrom turns a config threshold into one in the series' unit:
// scale converts the config's unit (MiB, GiB) to the series'.
func thresholdFrom(n config.NamedLimit, scale float64) Threshold {
	return Threshold{Name: n.Name, Limit: config.Limit{Warn: n.Limit.Warn * scale, Crit: n.Limit.Crit * scale}, Lower: n.Lower}
}

// namedThreshold looks a threshold up by its config key; a key missing from
// Thresholds is a programming error caught by the tests.
func namedThreshold(th config.Thresholds, name string, scale float64) Threshold {
	n, ok := th.Named(name)
	if !ok {
		panic("metrics: unknown threshold " + name)
	}
	return thresholdFrom(n, scale)
}

// systemSeries returns a maker of source's system-level series, each judged
// by a config threshold scaled to the series' unit.
func systemSeries(source string, th config.Thresholds) func(id, title string, u Unit, threshold string, scale float64) SeriesInfo {
	return func(id, title string, u Unit, threshold string, scale float64) SeriesInfo {
		return SeriesInfo{ID: id, Source: source, Level: LevelSystem, Title: title, Unit: u, Threshold: namedThreshold(th, threshold, scale)}
	}
}

// Judge returns the state of value v: ops/health's Above, or Below when
// lower is worse; Unknown for NaN (no value).
func (t Threshold) Judge(v float64) health.Status {
	if math.IsNaN(v) {
		return health.Unknown
	}
	if t.Lower {
		return health.Below(v, t.Limit)
	}
	return health.Above(v, t.Limit)
}

// Format renders the threshold in unit u: "warn ≥80% crit ≥95%", or for
// lower-is-worse "warn <90% crit ≤80%".
func (t Threshold) Format(u Unit) string {
	if t.Lower {
		return fmt.Sprintf("warn <%s crit ≤%s", FormatValue(t.Limit.Warn, u), FormatValue(t.Limit.Crit, u))
	}
	return fmt.Sprintf("warn ≥%s crit ≥%s", FormatValue(t.Limit.Warn, u), FormatValue(t.Limit.Crit, u))
}

// SeriesInfo describes one series.
type SeriesInfo struct {
	// ID is unique: "postgres.connections", "prometheus.api_p95".
	ID string `json:"id"`
	// Source groups series for the display and names where they come
	// from: postgres, redis, kubernetes, prometheus or business.
	Source    string    `json:"source"`
	Level     Level     `json:"level"`
	Title     string    `json:"title"`
	Unit      Unit      `json:"unit"`
	Threshold Threshold `json:"threshold"`
}

// Reading is one value a sampler read for a series. NaN means the series
// has no value this time (nothing to measure), with Detail saying why; Err
// is a failure of this series only (a bad query), the sampler's other
// series being fine.
type Reading struct {
	ID     string
	Value  float64
	Detail string
	Err    error
}

// FormatValue renders v in unit u, compactly: "12.5%", "340ms", "4.2Mi",
// "1.2k/s". NaN renders as "–".
func FormatValue(v float64, u Unit) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	switch u {
	case UnitPercent:
		return trimFloat(v, percentDigits(v)) + "%"
	case UnitSeconds:
		return formatSeconds(v)
	case UnitBytes:
		return humanBytes(v)
	case UnitBytesPerSec:
		return humanBytes(v) + "/s"
	case UnitPerSec:
		return compact(v) + "/s"
	case UnitPerMin:
		return compact(v) + "/min"
	}
	return compact(v)
}

func percentDigits(v float64) int {
	switch a := math.Abs(v); {
	case a >= 99 && a < 100:
		return 2 // 99.97% is not 100%
	case a >= 10:
		return 1
	}
	return 2
}

// compact renders a count or rate with k/M/G suffixes and few digits.
func compact(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimFloat(v/1e9, 1) + "G"
	case a >= 1e6:
		return trimFloat(v/1e6, 1) + "M"
	case a >= 1e4:
		return trimFloat(v/1e3, 1) + "k"
	case a >= 100 || a == math.Trunc(a):
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 1:
		return trimFloat(v, 1)
	}
	return trimFloat(v, 2)
}

func trimFloat(v float64, digits int) string {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func formatSeconds(v float64) string {
	switch {
	case v <= 0:
		return "0s"
	case v < 1:
		return trimFloat(v*1000, 0) + "ms"
	case v < 60:
		return trimFloat(v, 2) + "s"
	}
	return health.ShortDuration(time.Duration(v * float64(time.Second)))
}

func humanBytes(v float64) string {
	if math.Abs(v) < 1 {
		return "0B"
	}
	return kube.HumanBytes(int64(v))
}
