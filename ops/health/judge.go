package health

import (
	"fmt"
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
	return fmt.Sprintf("warn ≥%s crit ≥%s", l.Warn, l.Crit)
}
