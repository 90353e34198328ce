package config

import (
	"fmt"
	"time"
)

// Drill targets: where `opsdeck drill database` restores a set.
const (
	// DrillInstance is a temporary PostgreSQL instance on this machine.
	DrillInstance = "instance"
	// DrillServer is a scratch database <db>_drill_<set> on the production
	// server, dropped after.
	DrillServer = "server"
)

// DrillConfig drives `opsdeck drill` and what the check says of drills.
type DrillConfig struct {
	// Target is where a database drill restores: "instance" (a temporary
	// PostgreSQL on this machine, the default) or "server" (a scratch
	// database on postgres.dsn's server, dropped after).
	Target string `yaml:"target" json:"target"`
	// MaxAge is how old a component's newest successful drill may be
	// before the check warns (default 35 days: a monthly drill).
	MaxAge time.Duration `yaml:"max_age" json:"max_age"`
	// RTOTarget is the recovery time the last drill should stay under
	// (0: not judged).
	RTOTarget time.Duration `yaml:"rto_target" json:"rto_target"`
}

// DefaultDrill returns the drill defaults.
func DefaultDrill() DrillConfig {
	return DrillConfig{Target: DrillInstance, MaxAge: 35 * 24 * time.Hour}
}

// validateDrill checks the drill section.
func (c *Config) validateDrill(one func(path, reason, hint string, cause error)) {
	d := c.Drill
	if d.Target != DrillInstance && d.Target != DrillServer {
		one("drill.target", fmt.Sprintf("%q is not a drill target", d.Target), `use "instance" or "server"`, nil)
	}
	if d.MaxAge < time.Hour {
		one("drill.max_age", fmt.Sprintf("%v is too short", d.MaxAge), `use at least "1h", e.g. "840h" (35 days)`, nil)
	}
	if d.RTOTarget < 0 {
		one("drill.rto_target", fmt.Sprintf("%v is negative", d.RTOTarget), `use "0" (not judged) or a duration such as "15m"`, nil)
	}
}
