package main_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: opsdeck version and --version print one line, -o json the
// version document with its schema.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := opsdeck(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "opsdeck version ") || !strings.Contains(r.stdout, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) {
			t.Errorf("opsdeck %v: exit %d, %q", args, r.code, r.stdout)
		}
	}
	r := opsdeck(t, nil, "version", "-o", "json")
	var doc map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("version -o json: exit %d, %v: %q", r.code, err, r.stdout)
	}
	if doc["schema"] != "opsdeck.version/v1" || doc["version"] == "" || doc["go_version"] != runtime.Version() || doc["platform"] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version -o json = %v", doc)
	}
	if _, ok := doc["commit"]; !ok {
		t.Errorf("version -o json has no commit: %v", doc)
	}
	if _, ok := doc["date"]; !ok {
		t.Errorf("version -o json has no date: %v", doc)
	}
}
