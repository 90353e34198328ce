package health_test

import (
	"context"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redact"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// The log view's benchmark (scripts/bench-logview.sh, `make bench`): a pod
// writing 5,000 lines a second, followed in a 200x58 view. Each iteration
// is one frame: the view's own command waits for the lines (not timed),
// then Update and View take them (timed). Goal: a frame ≤ 16 ms and the
// process, writer included, ≤ 25 % of a core. Run with a fixed count of
// frames: go test -run '^$' -bench LogFollow -benchtime 100x ./tui/health
const logRate = 5000

func BenchmarkLogFollow5k(b *testing.B) { benchLogFollow(b) }

// BenchmarkLogFollow5kSearch follows with a search active: every new line
// is matched, every shown match highlighted.
func BenchmarkLogFollow5kSearch(b *testing.B) {
	benchLogFollow(b, "/", "e", "r", "r", "o", "r", "enter", "G")
}

func benchLogFollow(b *testing.B, keys ...string) {
	var st *fakeStream
	src := sources(tuitest.NewCluster(0))
	src.Checks = nil
	src.LogLines = 10000
	src.Logs = func(_ context.Context, req kube.LogRequest) (healthtab.LogStream, []kube.LogSource, error) {
		st = newFakeStream(req.Keep)
		return st, []kube.LogSource{{Namespace: req.Namespace, Pod: req.Target, Container: "worker"}}, nil
	}
	tab := healthtab.New(tuitest.Common(), src)
	tab.SetSize(benchW, benchBodyH)
	tuitest.Drive(b, tab, tab.Init(), 100*time.Millisecond)
	_, open := tab.Update(tuitest.Key("l"))
	if open == nil {
		b.Fatal("l opened no log")
	}
	_, next := tab.Update(open())
	for _, k := range keys {
		tab.Update(tuitest.Key(k))
	}

	// The writer: 5,000 lines a second in 10 ms batches, each line through
	// the redactor as the stream's reader does.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	corpus := appLines(1, 4096)
	secrets := []string{"s3cret-Pa55"}
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		i := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for range logRate / 100 {
				st.ring.Add(kube.LogLine{Pod: "p", Container: "worker", Text: redact.String(corpus[i%len(corpus)], secrets...)})
				i++
			}
			select {
			case st.updates <- struct{}{}:
			default:
			}
		}
	}()

	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	var worst, total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		msg := next()
		b.StartTimer()
		t0 := time.Now()
		_, next = tab.Update(msg)
		_ = tab.View()
		d := time.Since(t0)
		total += d
		worst = max(worst, d)
		if next == nil {
			b.Fatal("the view stopped following")
		}
	}
	b.StopTimer()
	wall := time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/frame")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms/frame")
	b.ReportMetric(math.Round(1000*cpu.Seconds()/wall.Seconds())/10, "%cpu")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "frames/s")
}
