package bundle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/bundle"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// benchSandbox is BenchmarkBundleVsByHand's sandbox, started once.
var benchSandbox *sandbox.Sandbox

// helperEnv names the config of a bundle run in a child process (the
// benchmark's, so that its memory is the bundle's own), and helperOut
// the file it writes.
const (
	helperEnv = "OPSDECK_BUNDLE_HELPER_CONFIG"
	helperOut = "OPSDECK_BUNDLE_HELPER_OUT"
)

// TestBundleHelper is not a test: it is the child process of
// BenchmarkBundleVsByHand, a bundle as `opsdeck incident bundle` writes
// it, its Result on stdout.
func TestBundleHelper(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("the benchmark's child process")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := access.WithIdentity(context.Background(), access.Local(false))
	res, err := bundle.Collect(ctx, bundle.Sources{Config: cfg}, bundle.Options{Path: os.Getenv(helperOut)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
	// The peak RSS from the kernel's own count: the parent's wait4
	// rusage would add the parent's, which the child shared until exec.
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				fmt.Printf("PEAK %s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			}
		}
	}
}

// BenchmarkBundleVsByHand (make bench, scripts/bench-bundle.sh): the
// bundle of a sandbox with 10,000 extra pods on 50 nodes, 20 of them
// crash-looping with logs and previous logs on the fake kubelet, written
// by a child process (wall time and peak RSS, the kernel's VmHWM), against
// scripts/bundle-by-hand.sh (kubectl, psql, redis-cli) on the same
// sandbox, interleaved; medians of b.N rounds. OPSDECK_BENCH_PODS and
// OPSDECK_BENCH_UNHEALTHY change the sizes, KUBECTL the kubectl;
// OPSDECK_BENCH_MEMPROFILE=PATH writes the bundle's heap profiles.
func BenchmarkBundleVsByHand(b *testing.B) {
	pods := sandbox.EnvInt("OPSDECK_BENCH_PODS", 10_000)
	unhealthy := sandbox.EnvInt("OPSDECK_BENCH_UNHEALTHY", 20)
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		kubectl = "kubectl"
	}
	for _, tool := range []string{kubectl, "psql", "redis-cli", "bash", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s is missing: %v (make deps)", tool, err)
		}
	}
	script, err := filepath.Abs("../../scripts/bundle-by-hand.sh")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// One sandbox for the runs the benchmark is called with (b.N 1, then
	// the rounds asked for), stopped by TestMain.
	if benchSandbox == nil {
		t0 := time.Now()
		s, err := sandbox.Start(ctx, sandbox.Options{Scale: 0, Nodes: 50, ExtraPods: pods})
		if err != nil {
			b.Fatal(err)
		}
		benchSandbox = s
		b.Logf("sandbox of %d pods on 50 nodes in %s", s.KubeSeed.Pods, time.Since(t0).Round(time.Second))
		crashed := crashPods(b, ctx, s, unhealthy)
		b.Logf("%d analyzer pods crash-looping, each with logs and previous logs", len(crashed))
	}
	s := benchSandbox

	dir := b.TempDir()
	var ours, rss, theirs, ratios []float64
	var parts, failed int
	b.ResetTimer()
	for i := range b.N {
		out := filepath.Join(dir, fmt.Sprintf("ours-%d.tar.zst", i))
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBundleHelper$", "-test.count=1")
		if p := os.Getenv("OPSDECK_BENCH_MEMPROFILE"); p != "" {
			cmd.Args = append(cmd.Args, fmt.Sprintf("-test.memprofile=%s.%d", p, i), "-test.memprofilerate=65536")
		}
		cmd.Env = append(os.Environ(), helperEnv+"="+s.ConfigPath, helperOut+"="+out)
		t0 := time.Now()
		stdout, err := cmd.Output()
		wall := time.Since(t0)
		if err != nil {
			b.Fatalf("the bundle: %v\n%s", err, stdout)
		}
		var res bundle.Result
		_, doc, _ := strings.Cut(string(stdout), "RESULT ")
		if err := json.Unmarshal([]byte(strings.SplitN(doc, "\n", 2)[0]), &res); err != nil {
			b.Fatalf("the bundle's result: %v\n%s", err, stdout)
		}
		parts, failed = len(res.Parts), len(res.Failed())
		for _, p := range res.Failed() {
			b.Logf("failed part %s: %s", p.Name, p.Err)
		}
		var peakKiB float64
		if _, p, ok := strings.Cut(string(stdout), "PEAK "); ok {
			peakKiB, _ = strconv.ParseFloat(strings.SplitN(p, "\n", 2)[0], 64)
		}

		hand := exec.CommandContext(ctx, "bash", script)
		hand.Env = append(os.Environ(), "KUBECTL="+kubectl, "KUBECONFIG="+s.Kube.KubeconfigPath(), "NAMESPACE="+s.KubeSeed.Namespace,
			"PGURL="+s.Postgres.DSN(), "REDIS_URL="+s.Redis.URL(), "TAIL=2000", "OUT="+filepath.Join(dir, fmt.Sprintf("theirs-%d.tar.zst", i)))
		t1 := time.Now()
		if out, err := hand.CombinedOutput(); err != nil {
			b.Fatalf("the script: %v\n%s", err, out)
		}
		byHand := time.Since(t1)

		ours = append(ours, wall.Seconds())
		rss = append(rss, peakKiB/1024)
		theirs = append(theirs, byHand.Seconds())
		ratios = append(ratios, wall.Seconds()/byHand.Seconds())
		b.Logf("round %d: bundle %.2fs (%.0f MiB peak RSS, %d parts, %d failed, %s), by hand %.2fs",
			i+1, wall.Seconds(), peakKiB/1024, parts, failed, humanSize(res.Size), byHand.Seconds())
	}
	b.StopTimer()
	b.ReportMetric(median(ours), "bundle-s/op")
	b.ReportMetric(median(rss), "bundle-MiB")
	b.ReportMetric(median(theirs), "by-hand-s/op")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(float64(parts), "parts")
	b.ReportMetric(float64(failed), "failed")
}

// crashPods puts n analyzer pods, spread over the list, in
// CrashLoopBackOff (7 restarts, last exit Error 1) through the status
// subresource, and gives each 5,000 lines of log and 3,000 of previous log
// on the fake kubelet.
func crashPods(b *testing.B, ctx context.Context, s *sandbox.Sandbox, n int) []string {
	cs, err := kubernetes.NewForConfig(s.Kube.Config())
	if err != nil {
		b.Fatal(err)
	}
	ns := s.KubeSeed.Namespace
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=analyzer"})
	if err != nil {
		b.Fatal(err)
	}
	var scheduled []corev1.Pod
	for _, p := range list.Items {
		if p.Spec.NodeName != "" && len(p.Status.ContainerStatuses) == 1 {
			scheduled = append(scheduled, p)
		}
	}
	if len(scheduled) < n {
		b.Fatalf("%d scheduled analyzer pods, want %d", len(scheduled), n)
	}
	slices.SortFunc(scheduled, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	now := time.Now()
	k := s.Kube.Kubelet()
	var names []string
	for i := range n {
		p := scheduled[i*len(scheduled)/n]
		cst := &p.Status.ContainerStatuses[0]
		cst.Ready, cst.RestartCount = false, 7
		cst.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 2m40s restarting failed container"}}
		cst.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
			StartedAt: metav1.NewTime(now.Add(-3 * time.Minute)), FinishedAt: metav1.NewTime(now.Add(-150 * time.Second))}}
		for j := range p.Status.Conditions {
			if c := &p.Status.Conditions[j]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.Reason = corev1.ConditionFalse, "ContainersNotReady"
			}
		}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		k.SetLog(ns, p.Name, cst.Name, logLines(now.Add(-time.Hour), 5000, p.Name, s.Postgres.Password))
		k.SetPrevious(ns, p.Name, cst.Name, logLines(now.Add(-2*time.Hour), 3000, p.Name, s.Postgres.Password))
		names = append(names, p.Name)
	}
	return names
}

// logLines are n lines of an analyzer's log from start, one a second, a
// few of them holding the database's password.
func logLines(start time.Time, n int, pod, password string) []sandbox.LogLine {
	lines := make([]sandbox.LogLine, n)
	for i := range lines {
		t := start.Add(time.Duration(i) * time.Second)
		text := fmt.Sprintf("%s INFO analyzer %s: analysed batch %d of 512 symbols in %dms (queue lag %d)", t.UTC().Format(time.RFC3339Nano), pod, i, 40+i%300, i%977)
		if i%500 == 499 {
			text = fmt.Sprintf("%s ERROR analyzer %s: connect postgres://stock:%s@postgres:5432/stockdb: timeout after 5s", t.UTC().Format(time.RFC3339Nano), pod, password)
		}
		lines[i] = sandbox.LogLine{Time: t, Text: text}
	}
	return lines
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func humanSize(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
