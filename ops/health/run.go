package health

import (
	"context"
	"fmt"
	"time"
)

// Checker checks one target. Check must honour ctx; Run still stops waiting
// for it when the timeout passes, so a stuck driver cannot hang the others.
type Checker struct {
	Target string
	Check  func(ctx context.Context) []Result
}

// RunCheckers runs every checker concurrently, each bounded by timeout, and
// returns their results in checker order.
func RunCheckers(ctx context.Context, timeout time.Duration, checkers []Checker) Report {
	start := time.Now()
	out := make([][]Result, len(checkers))
	done := make(chan int, len(checkers))
	for i, c := range checkers {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			t0 := time.Now()
			rs := c.Check(cctx)
			for j := range rs {
				rs[j].Target = c.Target
				rs[j].Took = time.Since(t0)
			}
			out[i] = rs
			done <- i
		}()
	}
	// Wait for each checker, but never past the timeout plus a short grace for
	// the checker to turn its own context error into a result.
	deadline := time.NewTimer(timeout + 500*time.Millisecond)
	defer deadline.Stop()
	finished := make([]bool, len(checkers))
wait:
	for range checkers {
		select {
		case i := <-done:
			finished[i] = true
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	var rep Report
	for i, c := range checkers {
		if !finished[i] {
			rep.Results = append(rep.Results, Result{
				Target: c.Target, Name: "reachable", Status: Unknown,
				Value: fmt.Sprintf("no answer within %s", timeout),
				Hint:  "the server or the network is not answering; check that it runs and that this host can reach it",
				Took:  time.Since(start),
			})
			continue
		}
		rep.Results = append(rep.Results, out[i]...)
	}
	rep.Status = Worst(rep.Results)
	rep.Took = time.Since(start)
	return rep
}
