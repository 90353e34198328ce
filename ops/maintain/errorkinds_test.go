package maintain

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestErrorKindFindings(t *testing.T) {
	at := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	scan := &kube.ErrorScan{Namespaces: []string{"stockapp"}, Counted: 431, Templates: []oplogs.Template{
		{ID: "a", Text: "ERROR upstream timeout after <num> ms", Level: oplogs.LevelError, Count: 402, FirstSeen: at, Sample: "ERROR upstream timeout after 5000 ms", Workloads: []string{"deploy/api"}},
		{ID: "b", Text: "ERROR division by zero in portfolio <num>", Level: oplogs.LevelError, Count: 29, FirstSeen: at, Sample: "ERROR division by zero in portfolio 1042", Workloads: []string{"sts/analyzer"}, Pods: []string{"analyzer-0"}},
	}}
	first := ErrorKindFindings(&kube.ErrorKinds{ErrorScan: scan, Since: 24 * time.Hour, New: []string{"a", "b"}})
	if len(first) != 1 || first[0].Status != health.OK || !strings.Contains(first[0].Summary, "first run") {
		t.Errorf("a first run records, reports nothing new: %+v", first)
	}
	none := ErrorKindFindings(&kube.ErrorKinds{ErrorScan: scan, Since: 24 * time.Hour, New: []string{}, Previous: at})
	if len(none) != 1 || none[0].Status != health.OK || !strings.Contains(none[0].Summary, "no new kind of error in stockapp in the last 24h (2 kinds, 431 lines)") {
		t.Errorf("nothing new: %+v", none)
	}
	fs := ErrorKindFindings(&kube.ErrorKinds{ErrorScan: scan, Since: 24 * time.Hour, New: []string{"b"}, Previous: at})
	if len(fs) != 1 {
		t.Fatalf("one new kind, one finding: %+v", fs)
	}
	f := fs[0]
	if f.Status != health.Warn || f.Check != "error logs" || f.Runbook != rbErrorLogs || f.Object != "sts/analyzer" ||
		!strings.Contains(f.Summary, "new kind of error, 29× since 11-25 07:00: ERROR division by zero") ||
		f.Evidence[0] != "sample: ERROR division by zero in portfolio 1042" || !strings.Contains(f.Suggestion, "opsdeck logs analyzer-0") {
		t.Errorf("the new kind's finding: %+v", f)
	}
}

// TestErrorLogsOnTheSandbox: maintain health reads the sandbox's pods'
// logs; its first run records the kinds, a second run after a pod logged
// an error never seen reports it as new, with its sample.
func TestErrorLogsOnTheSandbox(t *testing.T) {
	cfg := sandboxConfig(t)
	e := newEngine(t, cfg)
	first := e.errorLogs(accesstest.Admin(t.Context()))
	if len(first) != 1 || first[0].NA || !strings.Contains(first[0].Summary, "first run in stockapp") {
		t.Fatalf("first run: %+v", first)
	}
	pods, err := kube.NewClientForConfig(sb.Kube.Config(), "sandbox", []string{"stockapp"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	src, err := pods.ResolveLogSources(accesstest.Admin(t.Context()), kube.LogRequest{Namespace: "stockapp", Target: "deploy/api"})
	if err != nil {
		t.Fatal(err)
	}
	const novel = "ERROR ledger reconciliation drifted by 42 cents for account 7781"
	sb.Kube.Kubelet().AppendLog("stockapp", src[0].Pod, src[0].Container, sandbox.LogLine{Time: time.Now(), Text: novel})
	second := e.errorLogs(accesstest.Admin(t.Context()))
	found := false
	for _, f := range second {
		if f.Status == health.Warn && strings.Contains(f.Summary, "ledger reconciliation drifted") {
			found = f.Evidence[0] == "sample: "+novel && f.Object == "deploy/api"
		}
	}
	if !found {
		t.Fatalf("the new kind of error is not reported: %+v", second)
	}
	// The plan's daily look at the error logs is this.
	for _, p := range Plan {
		if p.Item == "error logs" && (p.Automated != "yes" || p.Mode != ModeHealth) {
			t.Errorf("plan item: %+v", p)
		}
	}
}
