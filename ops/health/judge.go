package health

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Above judges a value where higher is worse: at or above Crit is critical,
// at or above Warn a warning.
func Above(v float64, l config.Limit) Status {
	switch {
	case v >= l.Crit:
		return Crit
	case v >= l.Warn:
		return Warn
	}
	return OK
}

// Below judges a value where lower is worse (hit ratios): at or below Crit is
// critical, below Warn a warning.
func Below(v float64, l config.Limit) Status {
	switch {
	case v <= l.Crit:
		return Crit
	case v < l.Warn:
		return Warn
	}
	return OK
}

// AboveDuration judges a duration where longer is worse.
func AboveDuration(d time.Duration, l config.DurationLimit) Status {
	switch {
	case d >= l.Crit:
		return Crit
	case d >= l.Warn:
		return Warn
	}
	return OK
}

// Percent formats a limit on a percentage for the threshold column.
func Percent(l config.Limit) string {
	return fmt.Sprintf("warn ≥%g%% crit ≥%g%%", l.Warn, l.Crit)
}

// PercentMin formats a lower-is-worse limit on a percentage.
func PercentMin(l config.Limit) string {
	return fmt.Sprintf("warn <%g%% crit ≤%g%%", l.Warn, l.Crit)
}

// Count formats a limit on a count.
func Count(l config.Limit) string {
	return fmt.Sprintf("warn ≥%g crit ≥%g", l.Warn, l.Crit)
}

// Durations formats a limit on a duration.
func Durations(l config.DurationLimit) string {
	return fmt.Sprintf("warn ≥%s crit ≥%s", ShortDuration(l.Warn), ShortDuration(l.Crit))
}

// ShortDuration formats d without zero units: "5m", "1h30m", "2s", "250ms".
func ShortDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	d = d.Round(time.Second)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
