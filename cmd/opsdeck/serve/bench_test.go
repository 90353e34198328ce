package serve_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// held opens a viewer session drawn to its pods table and keeps it open
// until release is closed.
func held(t testing.TB, i int, release <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	c, err := dial(fmt.Sprintf("viewer%d", i), viewerKey)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Error(err)
		return
	}
	defer sess.Close()
	_ = sess.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{})
	stdout, _ := sess.StdoutPipe()
	if err := sess.Shell(); err != nil {
		t.Error(err)
		return
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			if _, err := stdout.Read(buf); err != nil {
				return
			}
		}
	}()
	<-release
}

// rssMB is this process's resident memory.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// samplerLoops counts the metrics engine's sampling goroutines.
func samplerLoops() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "ops/metrics.(*Engine).loop")
}

// BenchmarkViewerSessions20 holds 20 viewer sessions open at once on the
// sandbox and reports the memory each adds (goal: under 30 MB) and the
// sampling goroutines in total (goal: one set, whatever the sessions).
func BenchmarkViewerSessions20(b *testing.B) {
	if srv == nil {
		b.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	const n = 20
	for range b.N {
		// Warm up the shared sources with one session, then measure.
		var wg sync.WaitGroup
		release := make(chan struct{})
		wg.Add(1)
		go held(b, -1, release, &wg)
		time.Sleep(3 * time.Second)
		close(release)
		wg.Wait()
		runtime.GC()
		time.Sleep(time.Second)
		base, loops0 := rssMB(), samplerLoops()

		release = make(chan struct{})
		for i := range n {
			wg.Add(1)
			go held(b, i, release, &wg)
		}
		time.Sleep(8 * time.Second) // every session draws and samples a few rounds
		runtime.GC()
		open, loops := rssMB(), samplerLoops()
		close(release)
		wg.Wait()
		b.ReportMetric((open-base)/n, "MB/session")
		b.ReportMetric(float64(loops), "sampler-goroutines")
		b.ReportMetric(float64(loops0), "sampler-goroutines-before")
		if loops != loops0 {
			b.Errorf("sampler goroutines went from %d to %d with %d sessions: samplers must be shared", loops0, loops, n)
		}
	}
}
