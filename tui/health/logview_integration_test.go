package health_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/sandbox"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// TestLogViewOnTheSandbox opens the log view of an api pod of the seeded
// sandbox through the Health tab, its lines served by the fake kubelet:
// the lines appear (secrets masked), appended lines follow, the previous
// container's log, search; a viewer session reads logs too, and a session
// without an identity is refused.
func TestLogViewOnTheSandbox(t *testing.T) {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := sandbox.StartKube(ctx, sandbox.KubeOptions{})
	if err != nil {
		t.Fatalf("the log view's test needs a local API server (make deps): %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if _, err := sandbox.SeedKube(ctx, srv.Config(), sandbox.KubeSeedOptions{}); err != nil {
		t.Fatal(err)
	}
	client, err := kube.NewClientForConfig(srv.Config(), "sandbox", []string{"stockapp"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := kube.NewCache(client, client.Namespaces())
	if err != nil {
		t.Fatal(err)
	}
	cache.Start(ctx)
	t.Cleanup(cache.Stop)
	if err := cache.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("stockapp").List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil {
		t.Fatal(err)
	}
	var pod string
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && pod == "" {
			pod = p.Name
		}
	}
	if pod == "" {
		t.Fatal("no api pod on a node in the seed")
	}
	const secret = "s3cret-Pa55"
	now := time.Now()
	k := srv.Kubelet()
	k.SetLog("stockapp", pod, "api", []sandbox.LogLine{
		{Time: now.Add(-time.Minute), Text: "INFO started on :8080"},
		{Time: now.Add(-50 * time.Second), Text: "INFO connecting to postgres://app:" + secret + "@db:5432/stocks"},
		{Time: now.Add(-40 * time.Second), Text: "ERROR upstream market-data timeout after 5000 ms"},
	})
	k.SetPrevious("stockapp", pod, "api", []sandbox.LogLine{{Time: now.Add(-time.Hour), Text: "FATAL out of memory: killed"}})

	open := func(c *common.Common) *logHarness {
		src := healthtab.Sources{
			Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
				return cache, common.KubeInfoMsg{Context: "sandbox"}, nil
			},
			Logs: func(ctx context.Context, req kube.LogRequest) (healthtab.LogStream, []kube.LogSource, error) {
				req.Secrets = []string{secret}
				st, err := client.StreamLogs(ctx, req)
				if err != nil {
					return nil, nil, err
				}
				return st, st.Sources, nil
			},
		}
		tab := healthtab.New(c, src)
		tab.SetSize(160, 30)
		lh := &logHarness{tab: tab, driver: newDriver(tab)}
		lh.start(tab.Init())
		lh.settle()
		lh.typeKeys(append([]string{"/"}, strings.Split(pod, "")...)...)
		lh.press("enter", "l")
		t.Cleanup(func() { lh.press("esc", "esc") }) // closes the stream
		return lh
	}
	// waitFor settles until the view shows want.
	waitFor := func(lh *logHarness, want string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			out := tuitest.Plain(lh.tab.View())
			if strings.Contains(out, want) {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("the log view never showed %q:\n%s", want, out)
			}
			lh.settle()
		}
	}

	admin := common.New(accesstest.Admin(ctx), config.Default())
	lh := open(admin)
	out := waitFor(lh, "market-data timeout")
	if strings.Contains(out, secret) || !strings.Contains(out, "started on :8080") || !strings.Contains(out, "● following") {
		t.Fatalf("the pod's log, followed, its secret masked:\n%s", out)
	}
	k.AppendLog("stockapp", pod, "api", sandbox.LogLine{Time: time.Now(), Text: "WARN slow request GET /api/v1/quotes/AAPL took 1200 ms"})
	waitFor(lh, "slow request GET")
	lh.typeKeys("/", "t", "i", "m", "e", "o", "u", "t")
	lh.press("enter")
	waitFor(lh, "/timeout 1 of 1")
	lh.press("esc", "p")
	out = waitFor(lh, "out of memory: killed")
	if !strings.Contains(out, "previous (crashed) container") || strings.Contains(out, "started on :8080") {
		t.Fatalf("p should show the previous container's log only:\n%s", out)
	}

	viewer := common.New(accesstest.As(ctx, "vera", access.Viewer), config.Default())
	waitFor(open(viewer), "market-data timeout")

	nobody := common.New(ctx, config.Default())
	waitFor(open(nobody), "carries no identity")
}
