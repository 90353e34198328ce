package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// The drill's exit codes: 0 proven, 2 refused, 3 a wrong command line.
func TestDrillCLI(t *testing.T) {
	cfgPath, _ := backupConfig(t, nil)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no kind", []string{"drill"}, 3, "accepts between 1 and 2 arg"},
		{"bad kind", []string{"drill", "everything"}, 3, `unknown drill "everything": choose database, redis, config, pitr, full`},
		{"bad id", []string{"drill", "database", "yesterday"}, 3, "not a backup set ID"},
		{"bad target", []string{"drill", "database", "--target", "moon"}, 3, `--target "moon"`},
		{"no set", []string{"drill", "redis"}, 2, "no backup set"},
		{"no archive", []string{"drill", "pitr"}, 2, "no base backup with a WAL archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := opsdeck(t, nil, append([]string{"--config", cfgPath}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("got %+v, want exit %d and %q", r, tt.code, tt.want)
			}
		})
	}
	if r := opsdeck(t, nil, "--config", cfgPath, "backup", "redis"); r.code != 0 {
		t.Fatalf("backup redis: %+v", r)
	}
	r := opsdeck(t, nil, "--config", cfgPath, "drill", "redis", "latest", "-o", "json")
	var rep struct {
		Drill struct {
			Outcome string `json:"outcome"`
			Proof   string `json:"proof"`
			Cleaned bool   `json:"cleaned"`
		} `json:"drill"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Drill.Outcome != "proven" || rep.Drill.Proof != "digest" || !rep.Drill.Cleaned {
		t.Fatalf("drill redis: %v %+v", err, r)
	}
	if r := opsdeck(t, nil, "--config", cfgPath, "drill", "redis", "-q"); r.code != 0 || !strings.Contains(r.stdout, "PROVEN") || r.stderr != "" {
		t.Fatalf("drill redis -q: %+v", r)
	}
}
