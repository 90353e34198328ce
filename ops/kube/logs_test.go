package kube_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestLogRing(t *testing.T) {
	r := kube.NewLogRing(3)
	for i := range 5 {
		r.Add(kube.LogLine{Text: fmt.Sprint(i)})
	}
	texts := func(ls []kube.LogLine) string {
		var s []string
		for _, l := range ls {
			s = append(s, fmt.Sprintf("%d:%s", l.Seq, l.Text))
		}
		return strings.Join(s, ",")
	}
	if got := texts(r.Lines()); got != "3:2,4:3,5:4" || r.Len() != 3 || r.Total() != 5 {
		t.Fatalf("ring %s len %d total %d", got, r.Len(), r.Total())
	}
	if got, missed := r.After(1); texts(got) != "3:2,4:3,5:4" || missed != 1 {
		t.Errorf("After(1) = %s, missed %d", texts(got), missed)
	}
	if got, missed := r.After(4); texts(got) != "5:4" || missed != 0 {
		t.Errorf("After(4) = %s, missed %d", texts(got), missed)
	}
	if got, _ := r.After(5); len(got) != 0 {
		t.Errorf("After(5) = %s", texts(got))
	}
}

// logsFixture is a client and the seeded pods' names, with logs set on
// the sandbox's fake kubelet.
type logsFixture struct {
	client *kube.Client
	cs     kubernetes.Interface
	k      *sandbox.Kubelet
	api    string // a running api pod
}

func newLogsFixture(t *testing.T) logsFixture {
	t.Helper()
	srv := needKube(t)
	client, err := kube.NewClientForConfig(srv.Config(), "sandbox", []string{"stockapp"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("stockapp").List(context.Background(), metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil {
		t.Fatal(err)
	}
	f := logsFixture{client: client, cs: cs, k: srv.Kubelet()}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && f.api == "" {
			f.api = p.Name
		}
	}
	return f
}

func lines(from time.Time, step time.Duration, texts ...string) []sandbox.LogLine {
	out := make([]sandbox.LogLine, len(texts))
	for i, s := range texts {
		out[i] = sandbox.LogLine{Time: from.Add(time.Duration(i) * step), Text: s}
	}
	return out
}

func readAll(t *testing.T, f logsFixture, req kube.LogRequest) ([]kube.LogLine, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 30*time.Second)
	defer cancel()
	if req.Namespace == "" {
		req.Namespace = "stockapp"
	}
	s, err := f.client.StreamLogs(ctx, req)
	if err != nil {
		return nil, err
	}
	err = s.Wait()
	return s.Ring().Lines(), err
}

func textsOf(ls []kube.LogLine) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Text)
	}
	return strings.Join(s, "|")
}

func TestLogsOfAPod(t *testing.T) {
	f := newLogsFixture(t)
	now := time.Now()
	f.k.SetLog("stockapp", f.api, "api", lines(now.Add(-10*time.Minute), time.Minute,
		"INFO started", "WARN slow", "ERROR boom", "INFO connecting to postgres://app:hunter2@db:5432/stock", "INFO token s3cr3t-token used"))
	got, err := readAll(t, f, kube.LogRequest{Target: f.api, Tail: -1, Secrets: []string{"s3cr3t-token"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "INFO started|WARN slow|ERROR boom|INFO connecting to postgres://app:xxxxx@db:5432/stock|INFO token xxxxx used"
	if textsOf(got) != want {
		t.Fatalf("lines %q\nwant  %q", textsOf(got), want)
	}
	for _, l := range got {
		if l.Pod != f.api || l.Container != "api" || strings.Contains(l.Text, "hunter2") || strings.Contains(l.Text, "s3cr3t") {
			t.Errorf("line %+v", l)
		}
	}
	// --tail and --since.
	if got, err := readAll(t, f, kube.LogRequest{Target: f.api, Tail: 2, Secrets: []string{"s3cr3t-token"}}); err != nil || textsOf(got) != "INFO connecting to postgres://app:xxxxx@db:5432/stock|INFO token xxxxx used" {
		t.Errorf("tail 2: %q, %v", textsOf(got), err)
	}
	if got, err := readAll(t, f, kube.LogRequest{Target: f.api, Tail: -1, Since: 6*time.Minute + 30*time.Second, Secrets: []string{"s3cr3t-token"}}); err != nil || textsOf(got) != "INFO token xxxxx used" {
		t.Errorf("since 6m30s: %q, %v", textsOf(got), err)
	}
	// An unknown pod is the command line's mistake, with a hint.
	_, err = readAll(t, f, kube.LogRequest{Target: "api-nope", Tail: -1})
	var te *kube.LogTargetError
	if !errors.As(err, &te) || !te.NotFound || !strings.Contains(err.Error(), `"stockapp"`) {
		t.Errorf("unknown pod: %v", err)
	}
	// Without an identity nothing is read.
	if _, err := f.client.StreamLogs(context.Background(), kube.LogRequest{Namespace: "stockapp", Target: f.api}); !errors.Is(err, access.ErrNoIdentity) {
		t.Errorf("no identity: %v", err)
	}
	// Any role may read, read-only or not.
	ctx := accesstest.As(context.Background(), "vera", access.Viewer)
	if s, err := f.client.StreamLogs(ctx, kube.LogRequest{Namespace: "stockapp", Target: f.api, Tail: 1}); err != nil || s.Wait() != nil || s.Ring().Len() != 1 {
		t.Errorf("a viewer: %v", err)
	}
}

func TestLogsContainerChoiceAndPrevious(t *testing.T) {
	f := newLogsFixture(t)
	ctx := accesstest.Admin(context.Background())
	// A namespace of its own, so that the seeded one's counts stay.
	ns, name := "logs-containers", "two-containers"
	if _, err := f.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{
		NodeName:   "node-01",
		Containers: []corev1.Container{{Name: "app", Image: "stockapp/api:1"}, {Name: "proxy", Image: "envoy:1"}},
	}}
	if _, err := f.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f.k.SetLog(ns, name, "app", lines(now, 0, "app line"))
	f.k.SetLog(ns, name, "proxy", lines(now, 0, "proxy line"))
	f.k.SetPrevious(ns, name, "app", lines(now.Add(-time.Hour), 0, "app crashed: out of memory"))

	_, err := readAll(t, f, kube.LogRequest{Namespace: ns, Target: name, Tail: -1})
	var te *kube.LogTargetError
	if !errors.As(err, &te) || strings.Join(te.Containers, ",") != "app,proxy" || !strings.Contains(err.Error(), "app, proxy") {
		t.Fatalf("two containers, none chosen: %v", err)
	}
	if got, err := readAll(t, f, kube.LogRequest{Namespace: ns, Target: name, Container: "proxy", Tail: -1}); err != nil || textsOf(got) != "proxy line" {
		t.Errorf("-c proxy: %q, %v", textsOf(got), err)
	}
	if _, err := readAll(t, f, kube.LogRequest{Namespace: ns, Target: name, Container: "nope", Tail: -1}); !errors.As(err, &te) {
		t.Errorf("-c nope: %v", err)
	}
	if got, err := readAll(t, f, kube.LogRequest{Namespace: ns, Target: name, Container: "app", Previous: true, Tail: -1}); err != nil || textsOf(got) != "app crashed: out of memory" {
		t.Errorf("--previous: %q, %v", textsOf(got), err)
	}
	if _, err := readAll(t, f, kube.LogRequest{Namespace: ns, Target: name, Container: "proxy", Previous: true, Tail: -1}); !errors.Is(err, kube.ErrNoPreviousLog) {
		t.Errorf("--previous of a container that never restarted: %v", err)
	}
}

func TestLogsOfADeployment(t *testing.T) {
	f := newLogsFixture(t)
	ctx := accesstest.Admin(context.Background())
	srcs, err := f.client.ResolveLogSources(ctx, kube.LogRequest{Namespace: "stockapp", Target: "deploy/api"})
	if err != nil {
		t.Fatal(err)
	}
	// api has 3 replicas, one Pending: two pods on a node.
	if len(srcs) != 2 {
		t.Fatalf("deploy/api: %+v", srcs)
	}
	for _, s := range srcs {
		f.k.SetLog("stockapp", s.Pod, "api", lines(time.Now(), 0, "hello from "+s.Pod))
	}
	got, err := readAll(t, f, kube.LogRequest{Target: "deploy/api", Tail: -1})
	if err != nil || len(got) != 2 {
		t.Fatalf("deploy/api lines %+v, %v", got, err)
	}
	if _, err := f.client.ResolveLogSources(ctx, kube.LogRequest{Namespace: "stockapp", Target: "deploy/nope"}); err == nil {
		t.Errorf("deploy/nope resolved")
	}
}

func TestLogsFollow(t *testing.T) {
	f := newLogsFixture(t)
	f.k.SetLog("stockapp", f.api, "api", nil)
	stop := f.k.Generate(context.Background(), "stockapp", f.api, "api", 500, func(i int, _ time.Time) string { return fmt.Sprintf("gen %d", i) })
	defer stop()
	ctx, cancel := context.WithCancel(accesstest.Admin(context.Background()))
	s, err := f.client.StreamLogs(ctx, kube.LogRequest{Namespace: "stockapp", Target: f.api, Follow: true, Tail: -1, Keep: 100})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for s.Ring().Total() < 300 {
		select {
		case <-s.Updates():
		case <-deadline:
			t.Fatalf("followed %d lines", s.Ring().Total())
		}
	}
	cancel()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end with its context")
	}
	if err := s.Err(); err != nil {
		t.Errorf("a stream stopped by its caller: %v", err)
	}
	ls := s.Ring().Lines()
	if len(ls) != 100 {
		t.Fatalf("ring holds %d lines, want 100", len(ls))
	}
	for i := 1; i < len(ls); i++ {
		var a, b int
		fmt.Sscanf(ls[i-1].Text, "gen %d", &a)
		fmt.Sscanf(ls[i].Text, "gen %d", &b)
		if b != a+1 {
			t.Fatalf("lines out of order: %q then %q", ls[i-1].Text, ls[i].Text)
		}
	}
}

// TestLogsRingBounded100k reads a 100,000-line log into a ring of 1,000:
// the ring stays at 1,000 lines and the heap does not grow with the log.
func TestLogsRingBounded100k(t *testing.T) {
	f := newLogsFixture(t)
	const n = 100_000
	big := make([]sandbox.LogLine, n)
	now := time.Now()
	for i := range big {
		big[i] = sandbox.LogLine{Time: now, Text: fmt.Sprintf("2026-01-14T09:00:00.000Z INFO request_id=%08x GET /api/v1/quotes/AAPL status=200 duration_ms=%d", i, i%97)}
	}
	f.k.SetLog("stockapp", f.api, "api", big)
	big = nil
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := readAll(t, f, kube.LogRequest{Target: f.api, Tail: -1, Keep: 1000})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(got) != 1000 || !strings.Contains(got[999].Text, fmt.Sprintf("request_id=%08x", n-1)) {
		t.Fatalf("ring kept %d lines, last %q", len(got), got[len(got)-1].Text)
	}
	// 100k lines are about 10 MB; the ring holds about 100 KB of them.
	// (The fake kubelet's copy was allocated before the first reading.)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("heap grew by %d bytes reading 100k lines into a ring of 1000", grew)
	}
	f.k.SetLog("stockapp", f.api, "api", nil)
}

func TestLogsForbidden(t *testing.T) {
	srv := needKube(t)
	path, err := srv.AddUser("no-logs", nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kube.NewClient(config.KubeConfig{Kubeconfig: path, Namespaces: []string{"stockapp"}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.StreamLogs(accesstest.Admin(context.Background()), kube.LogRequest{Namespace: "stockapp", Target: "whatever"})
	kind, msg := kube.Classify(err)
	if kind != kube.KindForbidden || !strings.Contains(msg, "cannot get pods") || !strings.Contains(msg, "ask for RBAC get on pods") {
		t.Fatalf("forbidden: %v, %s", kind, msg)
	}
}
