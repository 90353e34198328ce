package config

import (
	"fmt"
	"time"
)

// IncidentConfig drives incident mode: the response time of each level and
// how far before an incident's opening its timeline starts.
type IncidentConfig struct {
	// Response is the time within which an incident of each level must be
	// answered; the banner turns red once it has passed. The reference
	// system's levels: P0 15m, P1 1h, P2 4h, P3 24h.
	Response ResponseTimes `yaml:"response" json:"response"`
	// Lookback is how long before the opening the timeline starts (30m):
	// what changed just before is often the cause.
	Lookback time.Duration `yaml:"lookback" json:"lookback"`
	// Record is how often a running cockpit or server records the alerts
	// and check results that changed while an incident is open (30s).
	Record time.Duration `yaml:"record" json:"record"`
}

// ResponseTimes are the response times of the four incident levels.
type ResponseTimes struct {
	P0 time.Duration `yaml:"p0" json:"p0"`
	P1 time.Duration `yaml:"p1" json:"p1"`
	P2 time.Duration `yaml:"p2" json:"p2"`
	P3 time.Duration `yaml:"p3" json:"p3"`
}

// Of returns the response time of level ("P0" … "P3"), and false for
// another name.
func (r ResponseTimes) Of(level string) (time.Duration, bool) {
	switch level {
	case "P0":
		return r.P0, true
	case "P1":
		return r.P1, true
	case "P2":
		return r.P2, true
	case "P3":
		return r.P3, true
	}
	return 0, false
}

// DefaultIncident returns the reference system's incident levels.
func DefaultIncident() IncidentConfig {
	return IncidentConfig{
		Response: ResponseTimes{P0: 15 * time.Minute, P1: time.Hour, P2: 4 * time.Hour, P3: 24 * time.Hour},
		Lookback: 30 * time.Minute,
		Record:   30 * time.Second,
	}
}

// validateIncident checks the incident section.
func (c *Config) validateIncident(one func(path, reason, hint string, cause error)) {
	i := c.Incident
	for _, l := range []struct {
		name string
		d    time.Duration
	}{{"p0", i.Response.P0}, {"p1", i.Response.P1}, {"p2", i.Response.P2}, {"p3", i.Response.P3}} {
		if l.d <= 0 {
			one("incident.response."+l.name, fmt.Sprintf("must be positive, got %v", l.d), `use a duration such as "15m" or "4h"`, nil)
		}
	}
	if i.Lookback < 0 {
		one("incident.lookback", fmt.Sprintf("%v is negative", i.Lookback), `use "0" (from the opening) or a duration such as "30m"`, nil)
	}
	if i.Record < time.Second {
		one("incident.record", fmt.Sprintf("%v is too short", i.Record), `use at least "1s", e.g. "30s"`, nil)
	}
}
