package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Levels are the incident levels, most severe first.
var Levels = []string{"P0", "P1", "P2", "P3"}

// ParseLevel reads a level: "P1", "p1" or "1".
func ParseLevel(s string) (string, error) {
	l := strings.ToUpper(strings.TrimSpace(s))
	if len(l) == 1 {
		l = "P" + l
	}
	for _, known := range Levels {
		if l == known {
			return l, nil
		}
	}
	return "", fmt.Errorf("unknown incident level %q: use P0 (critical, 15m), P1 (1h), P2 (4h) or P3 (24h)", s)
}

// The kinds of timeline entries.
const (
	KindOpen     = "open"
	KindNote     = "note"
	KindBundle   = "bundle"
	KindAlert    = "alert"
	KindCheck    = "check"
	KindAudit    = "audit"
	KindRollout  = "rollout"
	KindEvent    = "event"
	KindTemplate = "template"
	KindClose    = "close"
	// KindSource is a source the timeline could not read: its error.
	KindSource = "source"
)

// Entry is one line of an incident's timeline.
type Entry struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// Who acted, for notes, bundles and audit records.
	Who  string `json:"who,omitempty"`
	Text string `json:"text"`
	// Status is an alert's "firing" or "resolved", a check's ok/warn/crit.
	Status string `json:"status,omitempty"`
	// Key identifies a recorded change so that two recorders (or one
	// restarted) record it once.
	Key string `json:"key,omitempty"`
}

// Bundle is a diagnostic bundle written during an incident.
type Bundle struct {
	Path string    `json:"path"`
	Size int64     `json:"size"`
	At   time.Time `json:"at"`
	Who  string    `json:"who"`
}

// Incident is one incident, open or closed.
type Incident struct {
	ID    int    `json:"id"`
	Env   string `json:"env"`
	Level string `json:"level"`
	Title string `json:"title"`
	// OpenedBy is the user who opened it (the identity's user).
	OpenedBy string    `json:"opened_by"`
	OpenedAt time.Time `json:"opened_at"`
	ClosedBy string    `json:"closed_by,omitempty"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// Summary is what the closer said happened.
	Summary string `json:"summary,omitempty"`
	// Postmortem is the path of the skeleton written at closing.
	Postmortem string   `json:"postmortem,omitempty"`
	Bundles    []Bundle `json:"bundles,omitempty"`
	// Entries are what the incident recorded itself: opening, notes,
	// bundles, alert and check changes, closing. Timeline adds the rest.
	Entries []Entry `json:"entries"`
}

// IsOpen reports whether the incident has not been closed.
func (i Incident) IsOpen() bool { return i.ClosedAt.IsZero() }

// Name is "incident 7".
func (i Incident) Name() string { return fmt.Sprintf("incident %d", i.ID) }

// End is when the incident closed, or now while it is open.
func (i Incident) End(now time.Time) time.Time {
	if i.IsOpen() {
		return now
	}
	return i.ClosedAt
}

// Elapsed is how long the incident has been (or was) open.
func (i Incident) Elapsed(now time.Time) time.Duration { return i.End(now).Sub(i.OpenedAt) }

// Response is the response time of the incident's level.
func (i Incident) Response(cfg config.IncidentConfig) time.Duration {
	d, _ := cfg.Response.Of(i.Level)
	return d
}

// Overdue reports whether the incident is open past its level's response
// time.
func (i Incident) Overdue(cfg config.IncidentConfig, now time.Time) bool {
	r := i.Response(cfg)
	return i.IsOpen() && r > 0 && i.Elapsed(now) > r
}

// hasKey reports whether the incident recorded an entry with key.
func (i Incident) hasKey(key string) bool {
	for _, e := range i.Entries {
		if e.Key != "" && e.Key == key {
			return true
		}
	}
	return false
}

// Short formats a duration for banners and lists: "45s", "12m", "3h05m",
// "2d4h".
func Short(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour && int(d.Minutes())%60 == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	if int(d.Hours())%24 == 0 {
		return fmt.Sprintf("%dd", int(d.Hours())/24)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
