package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/config"
)

// envConfig writes the sandbox's configuration with two environments on
// it: prod (read-only, the sandbox's Redis database 0) and staging (Redis
// database 1). They share the top level's PostgreSQL and backup store
// directory, each under its own name.
func envConfig(t *testing.T) (path string, store string) {
	t.Helper()
	path, cfg := backupConfig(t, func(c *config.Config) { c.Redis.URL = "" })
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	staging := strings.TrimSuffix(sb.Redis.URL(), "/0") + "/1"
	if _, err := f.WriteString("environments:\n" +
		"  prod:\n    read_only: true\n    redis:\n      url: " + sb.Redis.URL() + "\n" +
		"  staging:\n    redis:\n      url: " + staging + "\n"); err != nil {
		t.Fatal(err)
	}
	return path, cfg.Backup.Dir
}

func TestEnvironmentsCLI(t *testing.T) {
	path, store := envConfig(t)
	run := func(env []string, args ...string) result {
		return opsdeck(t, env, append([]string{"--config", path}, args...)...)
	}
	if r := run(nil, "config", "validate"); r.code != 0 || !strings.Contains(r.stdout, "ok (environments: prod, staging)") {
		t.Fatalf("validate: %+v", r)
	}
	for _, env := range []string{"prod", "staging"} {
		if r := run(nil, "--env", env, "check", "--target", "postgres,redis"); r.code != 0 {
			t.Fatalf("--env %s check: %+v", env, r)
		}
	}
	if words, _, _ := completions(t, nil, "--config", path, "check", "--env", "s"); len(words) != 1 || words[0] != "staging" {
		t.Errorf("--env completes to %v", words)
	}
	// The chosen environment's values: staging's own Redis database.
	r := run([]string{"OPSDECK_ENV=staging"}, "config", "show", "-o", "json")
	var shown struct {
		Redis struct{ URL string } `json:"redis"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || !strings.HasSuffix(shown.Redis.URL, "/1") {
		t.Fatalf("config show of staging (%v): %+v", err, r)
	}

	// An unknown environment, or none chosen without a default: exit 3.
	if r := run(nil, "--env", "stagign", "check"); r.code != 3 || !strings.Contains(r.stderr, `unknown environment "stagign" (did you mean "staging"?)`) || !strings.Contains(r.stderr, "prod, staging") {
		t.Fatalf("unknown environment: %+v", r)
	}
	if r := run(nil, "check"); r.code != 3 || !strings.Contains(r.stderr, "none is chosen — pass --env NAME") {
		t.Fatalf("no environment chosen: %+v", r)
	}

	// prod is read-only, staging acts; each sees only its own sets.
	if r := run(nil, "--env", "prod", "backup", "redis"); r.code != 2 || !strings.Contains(r.stderr, "read-only") {
		t.Fatalf("a backup in read-only prod: %+v", r)
	}
	if r := run(nil, "--env", "staging", "backup", "redis"); r.code != 0 || !strings.Contains(r.stdout, "committed and verified") {
		t.Fatalf("a backup in staging: %+v", r)
	}
	sets, _ := filepath.Glob(filepath.Join(store, "staging", "2*"))
	if len(sets) != 1 {
		t.Fatalf("staging's sets in %s/staging: %v", store, sets)
	}
	list := func(env string) []map[string]any {
		r := run(nil, "--env", env, "backups", "list", "-o", "json")
		var l struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
			t.Fatalf("--env %s backups list (%v): %+v", env, err, r)
		}
		return l.Items
	}
	if got := list("staging"); len(got) != 1 {
		t.Errorf("staging lists %d sets, want its 1", len(got))
	}
	if got := list("prod"); len(got) != 0 {
		t.Errorf("prod lists staging's sets: %v", got)
	}
}
