// Package health runs the morning check: every target checked concurrently
// against the configured thresholds, each result ok, warn, crit or unknown.
package health

import "time"

// Status is the outcome of one check, following the Nagios convention for
// exit codes.
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
	// Target is the system checked: "postgres", "redis" or "kubernetes".
	Target string `json:"target"`
	// Name is the check, e.g. "connections" or "node/worker-3".
	Name string `json:"check"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Value is what was measured, human readable.
	Value string `json:"value"`
	// Threshold is the level the value was judged against, "" if none.
	Threshold string `json:"threshold,omitempty"`
	// Hint says what to do next when the status is not OK.
	Hint string `json:"hint,omitempty"`
	// Runbook names the runbook section that explains this check.
	Runbook string `json:"runbook,omitempty"`
	// Took is how long the target's check took.
	Took time.Duration `json:"-"`
}

// Report is the outcome of a whole check run.
type Report struct {
	Results []Result      `json:"results"`
	Status  Status        `json:"status"`
	Took    time.Duration `json:"-"`
}
