package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// benchKeys is the keyspace size of BenchmarkKeyspaceVsRedisCLI
// (OPSDECK_BENCH_KEYS overrides it).
func benchKeys() int {
	if n, err := strconv.Atoi(os.Getenv("OPSDECK_BENCH_KEYS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchScanCount is SCAN's COUNT for opsdeck's runs (the configuration's
// default, 1000; OPSDECK_BENCH_SCAN_COUNT overrides it).
func benchScanCount() int {
	if n, err := strconv.Atoi(os.Getenv("OPSDECK_BENCH_SCAN_COUNT")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// seedBenchKeyspace writes n keys of the application's kinds into db 0 of
// c: quote strings, session hashes, watchlist sets, leaderboard sorted sets,
// queue lists (a third with a TTL), plus one planted big key per type.
func seedBenchKeyspace(tb testing.TB, c *goredis.Client, n int) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	pipe := c.Pipeline()
	flush := func() {
		if _, err := pipe.Exec(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	small := n - 6
	for i := range small {
		var ttl time.Duration
		if i%3 == 0 {
			ttl = time.Duration(1+rng.IntN(72)) * time.Hour
		}
		switch r := i % 100; {
		case r < 60:
			pipe.Set(ctx, fmt.Sprintf("cache:quote:S%04d:%d", i%5000, i), strings.Repeat("p", 20+rng.IntN(180)), ttl)
		case r < 80:
			pipe.HSet(ctx, fmt.Sprintf("session:%08x-%04x", rng.Uint32(), i%65536), "user", i, "ip", "10.0.0.1", "agent", "StockApp/3.4", "plan", "pro")
		case r < 90:
			pipe.SAdd(ctx, fmt.Sprintf("user:%d:watchlist", i), "AAPL", "MSFT", "NVDA", "TSLA", i)
		case r < 95:
			pipe.ZAdd(ctx, fmt.Sprintf("leaderboard:%d", i), goredis.Z{Score: 1, Member: "a"}, goredis.Z{Score: 2, Member: "b"}, goredis.Z{Score: float64(i), Member: "c"})
		default:
			pipe.RPush(ctx, fmt.Sprintf("queue:tasks:%d", i), "t1", "t2", "t3")
		}
		if ttl > 0 && i%100 >= 60 {
			pipe.Expire(ctx, fmt.Sprintf("user:%d:watchlist", i), ttl)
		}
		if pipe.Len() >= 5000 {
			flush()
		}
	}
	flush()
	big := make([]any, 0, 50000)
	for i := range 50000 {
		big = append(big, fmt.Sprintf("element-%06d", i))
	}
	pipe.Set(ctx, "big:string", strings.Repeat("x", 4<<20), 0)
	pipe.RPush(ctx, "big:list", big...)
	pipe.SAdd(ctx, "big:set", big...)
	pipe.HSet(ctx, "big:hash", big...)
	zs := make([]goredis.Z, 0, 50000)
	for i, m := range big {
		zs = append(zs, goredis.Z{Score: float64(i), Member: m})
	}
	pipe.ZAdd(ctx, "big:zset", zs...)
	for i := range 20000 {
		pipe.XAdd(ctx, &goredis.XAddArgs{Stream: "big:stream", Values: []any{"i", i, "payload", "pppppppppppppppppppp"}})
	}
	flush()
}

// cliBiggest parses redis-cli --memkeys' summary: the biggest key of each
// type with its size, and the bytes per type.
var (
	cliBiggestRE = regexp.MustCompile(`Biggest\s+(\w+) found '"?(.*?)"?' has (\d+) bytes`)
	cliTotalRE   = regexp.MustCompile(`(\d+) (\w+?)s with (\d+) bytes`)
)

// BenchmarkKeyspaceVsRedisCLI analyses the same keyspace of about 1 M keys
// with opsdeck (SCAN with pipelined TYPE / MEMORY USAGE / PTTL, no rate
// cap) and with `redis-cli --memkeys`, in the same run on the same server,
// and reports the wall times and their ratio. redis-cli sends MEMORY USAGE
// without SAMPLES (Redis samples 5 elements of each big key, even with
// --memkeys-samples 0), so opsdeck is timed with SAMPLES 5 too, and the two
// must agree exactly on the biggest key of each type and the bytes per
// type; opsdeck's exact mode (SAMPLES 0) is timed as well. `make bench`
// runs it with -benchtime 1x.
func BenchmarkKeyspaceVsRedisCLI(b *testing.B) {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		b.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		b.Skip("redis-cli is not installed (apt-get install redis-tools)")
	}
	ctx := context.Background()
	srv, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{MaxMemory: "4gb"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop() })
	c, err := redis.NewClient(srv.URL(), 30*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	n := benchKeys()
	seedBenchKeyspace(b, c, n)
	analyse := func(samples int) (*redis.KeyspaceAnalysis, time.Duration) {
		t0 := time.Now()
		a, err := redis.AnalyzeKeyspace(ctx, c, redis.KeyspaceOptions{DBs: []int{0}, MemorySamples: samples, MaxOpsPerSec: 0, ScanCount: benchScanCount()})
		d := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if a.Keys < int64(n) {
			b.Errorf("opsdeck saw %d keys of %d", a.Keys, n)
		}
		return a, d
	}
	b.ResetTimer()
	var ours, exact, theirs []float64
	for b.Loop() {
		// Interleaved, so that load from elsewhere on the machine falls on
		// both alike; the medians are reported.
		a, d := analyse(5)
		ours = append(ours, d.Seconds())
		t1 := time.Now()
		out, err := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port), "-n", "0", "--memkeys").CombinedOutput()
		theirs = append(theirs, time.Since(t1).Seconds())
		if err != nil {
			b.Fatalf("redis-cli: %v\n%s", err, out)
		}
		if agree, detail := compareWithCLI(a, string(out)); !agree {
			b.Errorf("the analyses disagree: %s", detail)
		}
		_, d = analyse(0)
		exact = append(exact, d.Seconds())
	}
	b.StopTimer()
	ratios := make([]float64, len(ours))
	exactRatios := make([]float64, len(ours))
	for i := range ours {
		ratios[i], exactRatios[i] = ours[i]/theirs[i], exact[i]/theirs[i]
	}
	b.ReportMetric(median(ours), "opsdeck-s/op")
	b.ReportMetric(median(exact), "opsdeck-exact-s/op")
	b.ReportMetric(median(theirs), "redis-cli-s/op")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(median(exactRatios), "exact-ratio")
	b.ReportMetric(float64(n), "keys")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// compareWithCLI checks that redis-cli's biggest key of each type is
// opsdeck's (same name, same bytes) and that the bytes per type match.
func compareWithCLI(a *redis.KeyspaceAnalysis, out string) (bool, string) {
	ok := true
	var notes []string
	for _, m := range cliBiggestRE.FindAllStringSubmatch(out, -1) {
		typ, key := m[1], m[2]
		bytes, _ := strconv.ParseInt(m[3], 10, 64)
		ts := a.ByType[typ]
		if ts == nil || len(ts.Top) == 0 || ts.Top[0].Key != key || ts.Top[0].Bytes != bytes {
			ok = false
			notes = append(notes, fmt.Sprintf("biggest %s: redis-cli %s %d bytes, opsdeck %s", typ, key, bytes, top(ts)))
		}
	}
	for _, m := range cliTotalRE.FindAllStringSubmatch(out, -1) {
		typ := m[2]
		keys, _ := strconv.ParseInt(m[1], 10, 64)
		bytes, _ := strconv.ParseInt(m[3], 10, 64)
		ts := a.ByType[typ]
		if keys == 0 {
			continue
		}
		if ts == nil || ts.Keys != keys || ts.Bytes != bytes {
			ok = false
			notes = append(notes, fmt.Sprintf("%s: redis-cli %d keys %d bytes, opsdeck %s", typ, keys, bytes, top(ts)))
		}
	}
	if len(cliBiggestRE.FindAllString(out, -1)) == 0 {
		return false, "redis-cli printed no summary:\n" + out
	}
	return ok, strings.Join(notes, "; ")
}

func top(ts *redis.TypeStats) string {
	if ts == nil || len(ts.Top) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d keys %d bytes, biggest %s %d bytes", ts.Keys, ts.Bytes, ts.Top[0].Key, ts.Top[0].Bytes)
}
