package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// SmokeTarget is the Target of the HTTP smoke checks' results.
const SmokeTarget = "http"

// smokeConcurrency is how many requests of one check are in flight.
const smokeConcurrency = 4

// maxSmokeBody is how much of an answer's body is read (and timed).
const maxSmokeBody = 1 << 20

// Sample is one smoke request's outcome: its status and latency (to the
// end of the body), or the error that ended it.
type Sample struct {
	Status  int
	Latency time.Duration
	Err     error
}

// Smoke sends the check's requests (h with its defaults), at most four at a
// time, each bounded by timeout, and returns their samples in order.
// Redirects are not followed: the status is the URL's own.
func Smoke(ctx context.Context, h config.HTTPCheck, timeout time.Duration) []Sample {
	client := &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
			TLSHandshakeTimeout: timeout,
			MaxIdleConnsPerHost: smokeConcurrency,
		},
	}
	defer client.CloseIdleConnections()
	samples := make([]Sample, h.Requests)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(smokeConcurrency, h.Requests) {
		wg.Go(func() {
			for i := range next {
				samples[i] = request(ctx, client, h.URL)
			}
		})
	}
	for i := range samples {
		if ctx.Err() != nil {
			samples[i] = Sample{Err: ctx.Err()}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return samples
}

// request sends one GET and reads (a bounded part of) the answer.
func request(ctx context.Context, client *http.Client, url string) Sample {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Sample{Err: err}
	}
	req.Header.Set("User-Agent", "opsdeck-check-deploy")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Sample{Err: err}
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSmokeBody))
	return Sample{Status: resp.StatusCode, Latency: time.Since(start), Err: err}
}

// P95 is the 95th percentile (nearest rank) of the latencies of the
// samples that got an answer; 0 when none did.
func P95(samples []Sample) time.Duration {
	var ls []time.Duration
	for _, s := range samples {
		if s.Err == nil {
			ls = append(ls, s.Latency)
		}
	}
	if len(ls) == 0 {
		return 0
	}
	slices.Sort(ls)
	rank := (95*len(ls) + 99) / 100 // ceil(0.95 n)
	return ls[rank-1]
}

// JudgeSmoke judges a smoke check's samples (h with its defaults): any
// failed request or answer with another status than expected is
// critical, named with its count; a p95 latency above h.MaxLatency is a
// warning. The URL is shown without its secrets.
func JudgeSmoke(h config.HTTPCheck, samples []Sample) health.Result {
	r := health.Result{Target: SmokeTarget, Name: h.Name, Status: health.OK, Runbook: "validating-a-deploy",
		Threshold: fmt.Sprintf("status %d, p95 ≤ %s", h.ExpectStatus, h.MaxLatency)}
	wrong := map[int]int{}
	failed := map[string]int{}
	ok := 0
	for _, s := range samples {
		switch {
		case s.Err != nil:
			failed[smokeError(s.Err, h.URL)]++
		case s.Status != h.ExpectStatus:
			wrong[s.Status]++
		default:
			ok++
		}
	}
	p95 := P95(samples)
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(wrong)) {
		parts = append(parts, fmt.Sprintf("%d ×%d of %d", code, wrong[code], len(samples)))
	}
	for _, msg := range slices.Sorted(maps.Keys(failed)) {
		parts = append(parts, fmt.Sprintf("%s ×%d of %d", msg, failed[msg], len(samples)))
	}
	if len(parts) > 0 {
		r.Status = health.Crit
		r.Value = strings.Join(parts, ", ")
		if p95 > 0 {
			r.Value += fmt.Sprintf("; p95 %s", p95.Round(time.Millisecond))
		}
		r.Hint = fmt.Sprintf("GET %s answers wrongly: look at the application's logs (opsdeck logs deploy/…) and its Service", redact.URL(h.URL))
		return r
	}
	r.Value = fmt.Sprintf("%d×%d, p95 %s", ok, h.ExpectStatus, p95.Round(time.Millisecond))
	if p95 > h.MaxLatency {
		r.Status = health.Warn
		r.Hint = fmt.Sprintf("GET %s is slow: compare with before the deploy (Metrics tab, API P95) and look at the new pods' CPU and the database", redact.URL(h.URL))
	}
	return r
}

// smokeError is a failed request's reason in a few words, without the URL
// (which may hold a secret).
func smokeError(err error, url string) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return redact.String(msg, redact.Passwords(url)...)
}
