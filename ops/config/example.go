package config

import _ "embed"

// ExampleYAML is a documented configuration file whose values are the
// defaults (state_dir and backup.dir, which depend on the environment, are
// commented out). `opsdeck config example` prints it.
//
//go:embed example.yaml
var ExampleYAML string
