package main_test

import (
	"encoding/json"
	"maps"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestVersion: opsdeck version and --version print one line, -o json the
// version document with its schema, -o yaml the same document.
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
	// -o yaml is the same document.
	y := opsdeck(t, nil, "version", "-o", "yaml")
	j, err := yaml.YAMLToJSON([]byte(y.stdout))
	var ydoc map[string]string
	if err != nil || json.Unmarshal(j, &ydoc) != nil || y.code != 0 || !strings.HasPrefix(y.stdout, "schema: opsdeck.version/v1\n") || !maps.Equal(ydoc, doc) {
		t.Errorf("version -o yaml: exit %d, %v: %q; want %v", y.code, err, y.stdout, doc)
	}
}
