package config

import (
	"math"

	"github.com/goccy/go-yaml"
)

// MarshalYAML writes whole levels as integers: the YAML encoder would write
// 2000000 as 2e+06, which the strict loader does not read back as a number.
func (l Limit) MarshalYAML() (any, error) {
	return yaml.MapSlice{{Key: "warn", Value: yamlNumber(l.Warn)}, {Key: "crit", Value: yamlNumber(l.Crit)}}, nil
}

func yamlNumber(v float64) any {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return int64(v)
	}
	return v
}
