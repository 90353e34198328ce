// Package alerts lists what is firing and manages silences: from
// Alertmanager's API v2 when one is configured, else by evaluating the
// metrics' own thresholds (the same rules) in opsdeck. Creating and expiring
// a silence is refused in read-only mode and audited either way.
package alerts
