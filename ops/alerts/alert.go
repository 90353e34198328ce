package alerts

import (
	"slices"
	"strings"
	"time"
)

// Alert is one firing alert.
type Alert struct {
	// Name is the alertname label.
	Name string `json:"name"`
	// Severity is the severity label: critical, warning, info (or "").
	Severity string `json:"severity"`
	// Summary is the summary annotation (else the description).
	Summary string            `json:"summary"`
	Since   time.Time         `json:"since"`
	Labels  map[string]string `json:"labels"`
	// State is "firing", "silenced" or "inhibited".
	State string `json:"state"`
	// SilencedBy lists the IDs of the silences muting the alert.
	SilencedBy  []string `json:"silenced_by,omitempty"`
	Fingerprint string   `json:"fingerprint,omitempty"`
	// Source is "alertmanager" or "opsdeck" (evaluated locally).
	Source string `json:"source"`
}

// The states of an Alert.
const (
	StateFiring    = "firing"
	StateSilenced  = "silenced"
	StateInhibited = "inhibited"
)

// The sources of an Alert.
const (
	SourceAlertmanager = "alertmanager"
	SourceOpsdeck      = "opsdeck"
)

// SeverityRank orders severities, most severe first in sorts.
func SeverityRank(s string) int {
	switch strings.ToLower(s) {
	case "critical", "crit", "page":
		return 3
	case "warning", "warn":
		return 2
	case "info":
		return 1
	}
	return 0
}

// Sort orders alerts: firing before silenced, then most severe, then
// oldest, then by name.
func Sort(as []Alert) {
	slices.SortStableFunc(as, func(a, b Alert) int {
		if (a.State == StateFiring) != (b.State == StateFiring) {
			if a.State == StateFiring {
				return -1
			}
			return 1
		}
		if d := SeverityRank(b.Severity) - SeverityRank(a.Severity); d != 0 {
			return d
		}
		if !a.Since.Equal(b.Since) {
			return a.Since.Compare(b.Since)
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// LabelString renders labels as k=v pairs sorted by name, alertname and
// severity left out (they have their own columns).
func LabelString(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		if k != "alertname" && k != "severity" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, " ")
}

// Matcher is one label matcher of a silence.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// String renders the matcher as Alertmanager does: name="value", name=~"re", name!="v".
func (m Matcher) String() string {
	op := "="
	switch {
	case m.IsRegex && m.IsEqual:
		op = "=~"
	case m.IsRegex:
		op = "!~"
	case !m.IsEqual:
		op = "!="
	}
	return m.Name + op + `"` + m.Value + `"`
}

// Silence is one Alertmanager silence.
type Silence struct {
	ID string `json:"id"`
	// State is "active", "pending" or "expired".
	State     string    `json:"state"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// MatcherString renders all matchers: {alertname="X", job="api"}.
func (s Silence) MatcherString() string {
	parts := make([]string, 0, len(s.Matchers))
	for _, m := range s.Matchers {
		parts = append(parts, m.String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// MatchersFor returns exact matchers on every label of a, the usual way to
// silence one alert.
func MatchersFor(a Alert) []Matcher {
	names := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		names = append(names, k)
	}
	slices.Sort(names)
	ms := make([]Matcher, 0, len(names))
	for _, k := range names {
		ms = append(ms, Matcher{Name: k, Value: a.Labels[k], IsEqual: true})
	}
	return ms
}
