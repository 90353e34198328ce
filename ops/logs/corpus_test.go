package logs

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// corpusStart is the time of the corpus's first line.
var corpusStart = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// dbPassword is the password in the corpus's DSNs; it must never reach a
// template or a sample.
const dbPassword = "S3cr3t-Pa55"

// entry is one line of a corpus and where it came from.
type entry struct {
	src  Source
	line string
	at   time.Time // when it was read
}

// kind makes the lines of one kind: emit is called with the line's time and
// the generator and appends one or more lines.
type kind struct {
	src   Source
	count int
	emit  func(ts time.Time, r *rand.Rand) []string
}

var symbols = []string{"AAPL", "MSFT", "TSLA", "NVDA", "AMZN", "GOOG", "META", "NFLX"}
var tables = []string{"prices", "trades", "signals", "quotes"}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func stamp(ts time.Time) string { return ts.Format("2006-01-02T15:04:05.000Z07:00") }

func hexID(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	b[0] = digits[r.IntN(10)]     // a digit, so it is an id and not a word
	b[n-1] = digits[10+r.IntN(6)] // a letter, so it is not a number
	return string(b)
}

var (
	api        = Source{Workload: "deploy/api", Pod: "api-6d4f9c7b8-x2kq9"}
	api2       = Source{Workload: "deploy/api", Pod: "api-6d4f9c7b8-m7wzp"}
	worker     = Source{Workload: "deploy/worker", Pod: "worker-5c8d7f6b9-qq4rt"}
	analysis   = Source{Workload: "deploy/analysis", Pod: "analysis-7f9d8c6b5-lk2jd"}
	portfolio  = Source{Workload: "deploy/portfolio", Pod: "portfolio-0"}
	marketSync = Source{Workload: "deploy/market-sync", Pod: "market-sync-84c5d-vv9xn"}
)

// errorKinds are the corpus's errors and warnings, each with its expected
// template.
func errorKinds(scale int) []kind {
	n := func(c int) int { return max(1, c*scale/100) }
	return []kind{
		{worker, n(120), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf("%s ERROR worker db: query timeout after %dms (query_id=%d, table=%s)",
				stamp(ts), 5000+r.IntN(900), 10000+r.IntN(90000), pick(r, tables))}
		}},
		{api, n(90), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf("%s ERROR api redis: dial tcp 10.0.3.%d:%d: connect: connection refused",
				stamp(ts), 2+r.IntN(200), 6379+r.IntN(3))}
		}},
		{api2, n(150), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf("%s ERROR api GET /api/v1/quotes/%s returned 500 in %dms [req %s]",
				stamp(ts), pick(r, symbols), 20+r.IntN(3000), hexID(r, 12))}
		}},
		{worker, n(60), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf(`time=%s level=warn msg="slow query" duration=%d.%ds sql_hash=%s table=%s`,
				stamp(ts), 1+r.IntN(9), r.IntN(10), hexID(r, 10), pick(r, tables))}
		}},
		{analysis, n(40), func(ts time.Time, r *rand.Rand) []string {
			return []string{
				fmt.Sprintf("%s ERROR analysis indicator rsi failed for %s", stamp(ts), pick(r, symbols)),
				"Traceback (most recent call last):",
				`  File "/app/analysis/indicators.py", line 88, in rsi`,
				"    return 100 - 100 / (1 + gain / loss)",
				"ZeroDivisionError: float division by zero",
			}
		}},
		{portfolio, n(50), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf(`{"ts":%q,"level":"error","msg":"portfolio rebalance failed","portfolio_id":%d,"error":"insufficient cash: need %d.%02d have %d.%02d"}`,
				stamp(ts), 1000+r.IntN(9000), 1000+r.IntN(5000), r.IntN(100), r.IntN(1000), r.IntN(100))}
		}},
		{marketSync, n(30), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf(`E%s       1 reflector.go:147] k8s.io/client-go/informers/factory.go:150: Failed to watch *v1.Pod: failed to list *v1.Pod: Get "https://10.96.0.1:443/api/v1/pods?limit=500&resourceVersion=%d": dial tcp 10.96.0.1:443: i/o timeout`,
				ts.Format("0102 15:04:05.000000"), r.IntN(100000))}
		}},
		{api, n(80), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf("%s WARN api rate limit near for client 192.168.%d.%d: %d/%d requests",
				stamp(ts), r.IntN(256), r.IntN(256), 900+r.IntN(100), 1000)}
		}},
		{worker, n(25), func(ts time.Time, r *rand.Rand) []string {
			return []string{fmt.Sprintf("%s ERROR worker could not connect to postgres://stock:%s@db.internal:5432/stocks: connection refused (attempt %d)",
				stamp(ts), dbPassword, 1+r.IntN(5))}
		}},
	}
}

// corpusTemplates are the templates of errorKinds at the scale given, in
// the order of the kinds (the traceback's kind makes two).
func corpusTemplates(scale int) []Template {
	k := errorKinds(scale)
	tp := func(i int, text string) Template { return Template{Text: text, Count: int64(k[i].count)} }
	return []Template{
		tp(0, "ERROR worker db: query timeout after <dur> (query_id=<*>, table=<*>)"),
		tp(1, "ERROR api redis: dial tcp <ip>:<num>: connect: connection refused"),
		tp(2, "ERROR api GET <*> returned <num> in <dur> [req <hex>]"),
		tp(3, "time=<*> level=warn msg= slow query duration=<*> sql_hash=<*> table=<*>"),
		tp(4, "ERROR analysis indicator rsi failed for <*>"),
		tp(4, "ZeroDivisionError: float division by zero"),
		tp(5, "ERROR portfolio rebalance failed error: insufficient cash: need <num> have <num>"),
		tp(6, "E reflector.go:<num>] k8s.io/client-go/informers/factory.go:<num>: Failed to watch *v1.Pod: failed to list *v1.Pod: Get <str>: dial tcp <ip>:<num>: i/o timeout"),
		tp(7, "WARN api rate limit near for client <ip>: <num>/<num> requests"),
		tp(8, "ERROR worker could not connect to postgres://stock:xxxxx@db.internal:<num>/stocks: connection refused (attempt <num>)"),
	}
}

// noise are INFO and DEBUG lines, some of which mention errors.
var noise = []func(ts time.Time, r *rand.Rand) (Source, string){
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return api, fmt.Sprintf("%s INFO api GET /api/v1/quotes/%s 200 %dms", stamp(ts), pick(r, symbols), 1+r.IntN(80))
	},
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return api2, fmt.Sprintf("%s INFO api GET /api/v1/errors/summary 200 %dms", stamp(ts), 1+r.IntN(80))
	},
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return worker, fmt.Sprintf("%s INFO worker retried job %d after error, ok now", stamp(ts), r.IntN(100000))
	},
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return worker, fmt.Sprintf(`time=%s level=info msg="computed signals" symbols=%d took=%dms`, stamp(ts), r.IntN(500), r.IntN(900))
	},
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return portfolio, fmt.Sprintf(`{"ts":%q,"level":"info","msg":"rebalanced, no error","portfolio_id":%d}`, stamp(ts), r.IntN(9000))
	},
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return marketSync, fmt.Sprintf("I%s       1 sync.go:88] synced %d quotes (errors: 0)", ts.Format("0102 15:04:05.000000"), r.IntN(5000))
	},
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return analysis, fmt.Sprintf("%s DEBUG analysis cache hit ratio %d%%", stamp(ts), r.IntN(100))
	},
	func(ts time.Time, r *rand.Rand) (Source, string) {
		return analysis, fmt.Sprintf("%s  [analysis] warm-up step %d", stamp(ts), r.IntN(10))
	},
}

// corpus returns a deterministic log: noiseLines of noise with the error
// kinds (each at scale percent of its count) spread through it, and extra
// kinds after the others. Lines are 100 ms apart and read a second later.
func corpus(seed uint64, noiseLines, scale int, extra ...kind) []entry {
	r := rand.New(rand.NewPCG(seed, 16))
	type slot struct {
		k     *kind
		noise int
	}
	kinds := append(errorKinds(scale), extra...)
	var slots []slot
	for i := range kinds {
		for range kinds[i].count {
			slots = append(slots, slot{k: &kinds[i]})
		}
	}
	for i := range noiseLines {
		slots = append(slots, slot{noise: 1 + i%len(noise)})
	}
	r.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	var out []entry
	ts := corpusStart
	for _, s := range slots {
		ts = ts.Add(100 * time.Millisecond)
		if s.k != nil {
			for _, line := range s.k.emit(ts, r) {
				out = append(out, entry{src: s.k.src, line: line, at: ts.Add(time.Second)})
			}
			continue
		}
		src, line := noise[s.noise-1](ts, r)
		out = append(out, entry{src: src, line: line, at: ts.Add(time.Second)})
	}
	return out
}
