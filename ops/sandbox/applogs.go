package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ServeAppLogs gives every scheduled pod of namespace ns logs on the fake
// kubelet, as the stock-analysis application would write them: an hour of
// history, then new lines at a few a second for running containers (INFO,
// WARN and ERROR with varying ids and numbers), a fatal last log before
// the crash of a restarted container (`logs --previous`), and the finished
// backup job's log. The generators run until ctx ends, stop is called or
// the kubelet stops.
func ServeAppLogs(ctx context.Context, cfg *rest.Config, k *Kubelet, ns string) (stop func(), err error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("app logs: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	pods, err := cs.CoreV1().Pods(ns).List(lctx, metav1.ListOptions{})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("app logs: listing pods of %s: %w", ns, err)
	}
	gctx, stopAll := context.WithCancel(ctx)
	now := time.Now()
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" {
			continue // not scheduled: no kubelet has its logs
		}
		// The benchmark's thousands of extra pods get a short history
		// and no generator.
		live := i < maxLivePods
		for _, st := range p.Status.ContainerStatuses {
			serveContainerLogs(gctx, k, p, st, now, live)
		}
	}
	return stopAll, nil
}

// maxLivePods is how many pods get an hour of history and live lines.
const maxLivePods = 50

// appRates is how many lines a second each app writes in the demo.
var appRates = map[string]float64{"api": 3, "worker": 1, "scheduler": 0.2, "postgres": 0.5, "redis": 0.3, "analyzer": 0.05}

func serveContainerLogs(ctx context.Context, k *Kubelet, p *corev1.Pod, st corev1.ContainerStatus, now time.Time, live bool) {
	app := p.Labels["app"]
	seed := uint64(len(p.Name)) * 7919
	for _, c := range p.Name {
		seed = seed*31 + uint64(c)
	}
	rng := rand.New(rand.NewPCG(seed, 42))
	gen := appLines(app)
	history := func(from, to time.Time, n int) []LogLine {
		lines := make([]LogLine, 0, n+1)
		step := to.Sub(from) / time.Duration(n+1)
		for i := 0; i < n; i++ {
			t := from.Add(step * time.Duration(i+1))
			lines = append(lines, LogLine{Time: t, Text: gen(rng, t)})
		}
		return lines
	}
	if last := st.LastTerminationState.Terminated; last != nil {
		prev := history(last.StartedAt.Time, last.FinishedAt.Time, 40)
		prev = append(prev, LogLine{Time: last.FinishedAt.Time, Text: fatalLine(app, last.Reason, last.FinishedAt.Time)})
		k.SetPrevious(p.Namespace, p.Name, st.Name, prev)
	}
	switch {
	case st.State.Terminated != nil: // a finished job
		t := st.State.Terminated
		k.SetLog(p.Namespace, p.Name, st.Name, backupJobLog(t.StartedAt.Time, t.FinishedAt.Time))
	case st.State.Waiting != nil: // crash loop: the short life of the last try
		start := now.Add(-150 * time.Second)
		lines := []LogLine{
			{Time: start, Text: logf(start, "INFO", "starting %s 2.14.1 (pid 1)", app)},
			{Time: start.Add(400 * time.Millisecond), Text: logf(start, "INFO", "connecting to redis at redis:6379 db=0")},
			{Time: start.Add(2 * time.Second), Text: logf(start, "ERROR", "job queue: consumer group \"analysis\" lag 18234 exceeds limit 10000")},
			{Time: start.Add(3 * time.Second), Text: fatalLine(app, "Error", start.Add(3*time.Second))},
		}
		k.SetLog(p.Namespace, p.Name, st.Name, lines)
	default:
		from := now.Add(-time.Hour)
		if st.State.Running != nil && st.State.Running.StartedAt.After(from) {
			from = st.State.Running.StartedAt.Time
		}
		rate := appRates[app]
		if rate == 0 {
			rate = 0.1
		}
		n := int(min(3600*rate, 2000))
		if !live {
			n = min(n, 20)
		}
		k.SetLog(p.Namespace, p.Name, st.Name, history(from, now, n))
		if live && st.Ready {
			k.Generate(ctx, p.Namespace, p.Name, st.Name, rate, func(_ int, t time.Time) string { return gen(rng, t) })
		}
	}
}

// logf is one line in the application's format: time, level, message.
func logf(t time.Time, level, format string, args ...any) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z") + " " + level + " " + fmt.Sprintf(format, args...)
}

var tickers = []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "ASML", "SAP", "NOVO"}

// appLines returns the line generator of an app. The generator is called
// from one goroutine at a time (history, then the kubelet's generator).
func appLines(app string) func(r *rand.Rand, t time.Time) string {
	id := func(r *rand.Rand) string { return fmt.Sprintf("%08x", r.Uint32()) }
	tick := func(r *rand.Rand) string { return tickers[r.IntN(len(tickers))] }
	switch app {
	case "api":
		return func(r *rand.Rand, t time.Time) string {
			switch n := r.IntN(100); {
			case n < 80:
				return logf(t, "INFO", "request_id=%s GET /api/v1/quotes/%s status=200 duration_ms=%d", id(r), tick(r), 3+r.IntN(40))
			case n < 90:
				return logf(t, "INFO", "request_id=%s POST /api/v1/portfolios/%d/analyze status=202 duration_ms=%d", id(r), 1000+r.IntN(9000), 20+r.IntN(200))
			case n < 96:
				return logf(t, "WARN", "request_id=%s slow query on daily_prices took %d ms (limit 500 ms)", id(r), 500+r.IntN(2500))
			case n < 99:
				return logf(t, "ERROR", "request_id=%s GET /api/v1/quotes/%s status=502 upstream market-data timeout after %d ms", id(r), tick(r), 3000+r.IntN(2000))
			default:
				return logf(t, "ERROR", "request_id=%s redis: connection pool exhausted (%d/%d in use)", id(r), 64, 64)
			}
		}
	case "worker", "analyzer":
		return func(r *rand.Rand, t time.Time) string {
			switch n := r.IntN(100); {
			case n < 75:
				return logf(t, "INFO", "job=%s analysis of %s done in %d ms (%d rows)", id(r), tick(r), 50+r.IntN(900), 200+r.IntN(5000))
			case n < 92:
				return logf(t, "WARN", "job=%s retry %d/5 for %s: rate limited by market-data", id(r), 1+r.IntN(4), tick(r))
			default:
				return logf(t, "ERROR", "job=%s failed for %s: deadlock detected on table daily_prices (pid %d)", id(r), tick(r), 1000+r.IntN(30000))
			}
		}
	case "scheduler":
		return func(r *rand.Rand, t time.Time) string {
			if r.IntN(10) == 0 {
				return logf(t, "WARN", "schedule %q ran %d s late", "refresh-quotes", 1+r.IntN(30))
			}
			return logf(t, "INFO", "enqueued %d jobs for schedule %q", 5+r.IntN(200), "refresh-quotes")
		}
	case "postgres":
		return func(r *rand.Rand, t time.Time) string {
			switch n := r.IntN(10); {
			case n < 6:
				return t.UTC().Format("2006-01-02 15:04:05.000 UTC") + fmt.Sprintf(" [%d] LOG:  checkpoint complete: wrote %d buffers (%.1f%%)", 60+r.IntN(40), r.IntN(4000), r.Float64()*10)
			case n < 9:
				return t.UTC().Format("2006-01-02 15:04:05.000 UTC") + fmt.Sprintf(" [%d] LOG:  automatic vacuum of table \"stockdb.public.daily_prices\": index scans: %d", 1000+r.IntN(9000), r.IntN(3))
			default:
				return t.UTC().Format("2006-01-02 15:04:05.000 UTC") + fmt.Sprintf(" [%d] ERROR:  canceling statement due to statement timeout", 1000+r.IntN(9000))
			}
		}
	case "redis":
		return func(r *rand.Rand, t time.Time) string {
			if r.IntN(8) == 0 {
				return fmt.Sprintf("1:M %s # WARNING: used_memory %d MB is above 90%% of maxmemory", t.UTC().Format("02 Jan 2006 15:04:05.000"), 900+r.IntN(100))
			}
			return fmt.Sprintf("1:M %s * %d changes in 60 seconds. Saving...", t.UTC().Format("02 Jan 2006 15:04:05.000"), 1000+r.IntN(90000))
		}
	}
	return func(r *rand.Rand, t time.Time) string {
		return logf(t, "INFO", "heartbeat seq=%d", r.IntN(1_000_000))
	}
}

// fatalLine is the last line a container wrote before it died.
func fatalLine(app, reason string, t time.Time) string {
	if reason == "OOMKilled" {
		return fmt.Sprintf("1:M %s # WARNING: used_memory 1023 MB at maxmemory; evicting keys failed (noeviction)", t.UTC().Format("02 Jan 2006 15:04:05.000"))
	}
	return logf(t, "ERROR", "%s: fatal: unhandled exception in consumer loop: KeyError: 'adj_close' (exit 1)", app)
}

// backupJobLog is the log of last night's finished backup job.
func backupJobLog(start, end time.Time) []LogLine {
	texts := []string{
		"INFO backup started: components database, redis, kube",
		"INFO database: pg_dump of stockdb (1.8 GiB) streaming",
		"INFO redis: BGSAVE done, 45213 keys",
		"WARN kube: 2 objects skipped (managed by the cluster)",
		"INFO set 20260114T020000Z committed, verified (sha256 ok)",
	}
	lines := make([]LogLine, len(texts))
	for i, s := range texts {
		t := start.Add(end.Sub(start) * time.Duration(i) / time.Duration(len(texts)))
		lines[i] = LogLine{Time: t, Text: t.UTC().Format("2006-01-02T15:04:05.000Z") + " " + s}
	}
	return lines
}
