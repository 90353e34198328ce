package main_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// errorsRun is what `opsdeck logs errors -o json` prints, in part.
type errorsRun struct {
	Schema    string `json:"schema"`
	Templates []struct {
		ID     string `json:"id"`
		Text   string `json:"text"`
		Count  int64  `json:"count"`
		Sample string `json:"sample"`
	} `json:"templates"`
	New   []string `json:"new"`
	Saved bool     `json:"saved"`
}

// `logs errors` groups the sandbox pods' error lines into templates: the
// first run finds every kind new, a second run knows those it saw, and a
// kind of error written after it is reported new; the password in a line
// never shows.
func TestLogsErrors(t *testing.T) {
	requireSandbox(t)
	cfgPath, _ := backupConfig(t, nil)
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	worker := runningPod(t, cs, "worker")
	k := sb.Kube.Kubelet()
	k.AppendLog("stockapp", worker, "worker", sandbox.LogLine{Time: time.Now(), Text: "ERROR login failed for postgres://app:" + sb.Postgres.Password + "@db:5432/stockdb"})
	run := func() errorsRun {
		t.Helper()
		r := opsdeck(t, nil, "--config", cfgPath, "logs", "errors", "--since", "2h", "-o", "json")
		var out errorsRun
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Schema != "opsdeck.logs.errors/v1" || !out.Saved {
			t.Fatalf("logs errors: %v\nexit %d\n%s%s", err, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, sb.Postgres.Password) {
			t.Fatal("the password is printed")
		}
		return out
	}
	first := run()
	if len(first.Templates) == 0 || len(first.New) != len(first.Templates) {
		t.Fatalf("first run: %d templates, %d new", len(first.Templates), len(first.New))
	}
	known := map[string]bool{}
	for _, tp := range first.Templates {
		known[tp.Text] = true
	}
	second := run()
	for _, tp := range second.Templates {
		if known[tp.Text] && slices.Contains(second.New, tp.ID) {
			t.Errorf("second run: %q is known, reported new", tp.Text)
		}
	}
	k.AppendLog("stockapp", worker, "worker", sandbox.LogLine{Time: time.Now(), Text: "ERROR quota exceeded for tenant 42 on bucket prices-7"})
	third := run()
	var quota []string
	for _, tp := range third.Templates {
		if strings.Contains(tp.Sample, "quota exceeded") {
			quota = append(quota, tp.ID)
		}
	}
	if len(quota) != 1 || !slices.Contains(third.New, quota[0]) {
		t.Fatalf("third run: the quota error is %v, new %v", quota, third.New)
	}
	r := opsdeck(t, nil, "--config", cfgPath, "logs", "errors", "--no-save")
	if r.code != 0 || !strings.Contains(r.stdout, "kinds") || !strings.Contains(r.stdout, "quota exceeded") {
		t.Fatalf("text: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := opsdeck(t, nil, "--config", cfgPath, "logs", "errors", "--since", "-1h"); r.code != 3 {
		t.Fatalf("--since -1h: exit %d, want 3", r.code)
	}
}
