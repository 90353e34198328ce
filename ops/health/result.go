// Package health runs the morning check: every target checked concurrently
// against the configured thresholds, each result ok, warn, crit or unknown.
package health

import "time"

// Status is the outcome of one check, ordered by severity except Unknown,
// which follows the Nagios convention (exit code 3).
type Status int

// Statuses in Nagios order.
const (
	OK Status = iota
	Warn
	Crit
	Unknown
)

// Result is one line of the morning check.
type Result struct {
	Target    string        `json:"target"`    // "postgres", "redis", "kubernetes"
	Name      string        `json:"name"`      // e.g. "connections", "node/worker-3"
	Status    Status        `json:"status"`    //
	Value     string        `json:"value"`     // what was measured, human readable
	Threshold string        `json:"threshold"` // the level it was judged against, "" if none
	Hint      string        `json:"hint"`      // what to do next when not OK
	Runbook   string        `json:"runbook,omitempty"`
	Took      time.Duration `json:"took_ms"`
}
