package main_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The incident commands on the sandbox: wrong input exits 3, a second open
// and a read-only note exit 2, the timeline carries a backup run during the
// incident, and the closing writes the postmortem.
func TestIncidentCLI(t *testing.T) {
	cfgPath, cfg := backupConfig(t, nil)
	run := func(args ...string) result { return opsdeck(t, nil, append([]string{"--config", cfgPath}, args...)...) }
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"incident", "open", "P7", "x"}, 3, `unknown incident level "P7"`},
		{[]string{"incident", "open", "P1"}, 3, "requires at least 2 arg"},
		{[]string{"incident", "note", "nothing open"}, 3, "no incident is open"},
		{[]string{"incident", "close"}, 3, "no incident is open"},
		{[]string{"incident", "show", "x7"}, 3, `"x7" is not an incident number`},
		{[]string{"incident", "show", "9"}, 3, "incident 9: no such incident"},
	} {
		if r := run(tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s", strings.Join(tc.args, " "), r.code, tc.code, tc.want, r.stderr)
		}
	}
	r := run("incident", "open", "p1", "API", "5xx", "after", "deploy")
	if r.code != 0 || !strings.Contains(r.stdout, "incident 1 opened: P1 API 5xx after deploy") || !strings.Contains(r.stdout, "respond within 1h") {
		t.Fatalf("open: %+v", r)
	}
	if r := run("incident", "open", "P2", "another"); r.code != 2 || !strings.Contains(r.stderr, "incident 1 (P1") {
		t.Errorf("second open: %+v", r)
	}
	if r := run("--read-only", "incident", "note", "x"); r.code != 2 || !strings.Contains(r.stderr, "read-only") {
		t.Errorf("read-only note: %+v", r)
	}
	if r := run("incident", "note", "restarted", "worker"); r.code != 0 {
		t.Fatalf("note: %+v", r)
	}
	if r := run("backup", "redis"); r.code != 0 {
		t.Fatalf("backup: %+v", r)
	}
	r = run("incident", "show", "-o", "json")
	var doc struct {
		Schema   string `json:"schema"`
		Timeline []struct {
			Kind, Who, Text string
		} `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Schema != "opsdeck.incident.show/v1" {
		t.Fatalf("show -o json: %v %+v", err, r)
	}
	var kinds []string
	for _, e := range doc.Timeline {
		kinds = append(kinds, e.Kind+":"+e.Text)
	}
	all := strings.Join(kinds, "\n")
	for _, want := range []string{"open:P1 opened", "note:restarted worker", "audit:backup.create", "rollout:"} {
		if !strings.Contains(all, want) {
			t.Errorf("timeline lacks %q:\n%s", want, all)
		}
	}
	r = run("incident", "close", "--summary", "worker crash loop")
	if r.code != 0 || !strings.Contains(r.stdout, "postmortem skeleton:") {
		t.Fatalf("close: %+v", r)
	}
	pm, err := os.ReadFile(strings.TrimSpace(r.stdout[strings.Index(r.stdout, "postmortem skeleton: ")+len("postmortem skeleton: "):]))
	if err != nil || !strings.Contains(string(pm), "worker crash loop") || !strings.Contains(string(pm), "backup.create") {
		t.Fatalf("postmortem: %v\n%s", err, pm)
	}
	if r := run("incident", "list"); r.code != 0 || !strings.Contains(r.stdout, "closed") {
		t.Errorf("list: %+v", r)
	}
	_ = cfg
}
