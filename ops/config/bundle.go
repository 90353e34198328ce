package config

import (
	"fmt"
	"time"
)

// BundleConfig drives the incident's diagnostic bundle (`opsdeck incident
// bundle`, the cockpit's D).
type BundleConfig struct {
	// Timeout bounds the whole bundle: whatever a source has not answered
	// by then is a line saying so (default 60s).
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// SourceTimeout bounds each source on its own: the cluster's listing,
	// the pods' logs, PostgreSQL, Redis, the metrics, the check (default 15s).
	SourceTimeout time.Duration `yaml:"source_timeout" json:"source_timeout"`
	// LogLines is how many last lines of each container's log (and of its
	// previous instance's) are kept (default 2000); each log is also cut
	// at 4 MiB.
	LogLines int `yaml:"log_lines" json:"log_lines"`
	// Dir is where bundles are written (default: <state_dir>/bundles).
	Dir string `yaml:"dir" json:"dir"`
}

// DefaultBundle returns the bundle's defaults.
func DefaultBundle() BundleConfig {
	return BundleConfig{Timeout: 60 * time.Second, SourceTimeout: 15 * time.Second, LogLines: 2000}
}

// validateBundle checks the bundle section.
func (c *Config) validateBundle(one func(path, reason, hint string, cause error)) {
	b := c.Bundle
	if b.Timeout < time.Second {
		one("bundle.timeout", fmt.Sprintf("%v is too short", b.Timeout), `use at least "1s", e.g. "60s"`, nil)
	}
	if b.SourceTimeout < time.Second || b.SourceTimeout > b.Timeout {
		one("bundle.source_timeout", fmt.Sprintf("%v must be at least 1s and at most bundle.timeout (%v)", b.SourceTimeout, b.Timeout), `use e.g. "15s"`, nil)
	}
	if b.LogLines < 1 || b.LogLines > 1_000_000 {
		one("bundle.log_lines", fmt.Sprintf("%d is out of range", b.LogLines), "use a number of lines between 1 and 1000000, e.g. 2000", nil)
	}
}
