package health

import (
	"encoding/json"
	"fmt"
	"strings"
)

var statusNames = [...]string{OK: "ok", Warn: "warn", Crit: "crit", Unknown: "unknown"}

// String returns "ok", "warn", "crit" or "unknown".
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("status(%d)", int(s))
	}
	return statusNames[s]
}

// MarshalText renders the status by name, so JSON shows "crit", not 2.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a status name.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if strings.EqualFold(n, string(b)) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("unknown status %q: want ok, warn, crit or unknown", b)
}

// ExitCode is the Nagios exit code of a status: 0 ok, 1 warn, 2 crit, 3 unknown.
func (s Status) ExitCode() int { return int(s) }

// Severity orders statuses for "worst of" and "problems first": crit > warn >
// unknown > ok. An unknown target is worse than a healthy one but a known
// critical problem outranks it, so the exit code names the most actionable state.
func (s Status) Severity() int {
	switch s {
	case Crit:
		return 3
	case Warn:
		return 2
	case Unknown:
		return 1
	}
	return 0
}

// Worse reports whether s is more severe than o.
func (s Status) Worse(o Status) bool { return s.Severity() > o.Severity() }

// Worst returns the most severe status of the results, OK when there are none.
func Worst(results []Result) Status {
	w := OK
	for _, r := range results {
		if r.Status.Worse(w) {
			w = r.Status
		}
	}
	return w
}

// MarshalJSON writes Took in milliseconds, matching its JSON name.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		Took int64 `json:"took_ms"`
	}{plain(r), r.Took.Milliseconds()})
}
