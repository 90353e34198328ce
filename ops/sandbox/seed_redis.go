package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisSeedStats says what SeedRedis wrote.
type RedisSeedStats struct {
	// Keys maps each database number to the keys written there.
	Keys map[int]int64 `json:"keys"`
	// ByType maps each Redis type ("string", "hash", "list", "set", "zset",
	// "stream") to the keys of that type.
	ByType map[string]int64 `json:"by_type"`
	// WithTTL counts the keys written with an expiry.
	WithTTL int64 `json:"with_ttl"`
	// StreamEntries is the length of events:prices.
	StreamEntries int64 `json:"stream_entries"`
	// Hits and Misses are the lookups made afterwards so that the keyspace
	// hit rate means something (about 90%).
	Hits   int64         `json:"hits"`
	Misses int64         `json:"misses"`
	Took   time.Duration `json:"took_ns"`
}

// redisVolume is how much SeedRedis writes at one scale.
type redisVolume struct {
	stocks, sessions, cached, queued, events, users, rateLimits, taskResults int
}

func redisVolumeFor(scale int) redisVolume {
	if scale <= 0 {
		return redisVolume{stocks: 25, sessions: 50, cached: 100, queued: 40, events: 200, users: 20, rateLimits: 30, taskResults: 60}
	}
	return redisVolume{
		stocks: 300 * scale, sessions: 2000 * scale, cached: 3000 * scale, queued: 500 * scale,
		events: 10000 * scale, users: 1000 * scale, rateLimits: 500 * scale, taskResults: 2000 * scale,
	}
}

// redisSeedBatch is how many commands go in one pipeline round trip.
const redisSeedBatch = 1000

// SeedRedis writes the stock-analysis application's keys, pipelined, with
// every common type and realistic names. Database 0 (the application cache):
// quote hashes stock:quote:<SYMBOL> (TTL), stock:meta:<SYMBOL> strings,
// session:<uuid> hashes (TTL), cache:analysis:<SYMBOL>:<kind>:<days> strings
// (TTL), the queue:tasks list, leaderboard:{gainers,losers,volume} sorted
// sets, sector:<name>:members and user:<id>:watchlist sets and the
// events:prices stream. Database 1 (the workers): task results
// task:result:<uuid> (TTL), rate-limit counters ratelimit:api:<ip> (TTL)
// and the queue:tasks:failed list. Then it reads some keys back, hits and
// misses. Data is generated from a fixed seed; scale 0 is small, scale 1 is
// about 10,000 keys.
func SeedRedis(ctx context.Context, client *goredis.Client, scale int) (RedisSeedStats, error) {
	start := time.Now()
	v := redisVolumeFor(scale)
	w := &redisSeedWriter{
		ctx:   ctx,
		conn:  client.Conn(),
		stats: RedisSeedStats{Keys: map[int]int64{}, ByType: map[string]int64{}},
	}
	defer w.conn.Close()
	rng := rand.New(rand.NewPCG(42, 2024))
	symbols := redisSymbols(v.stocks)

	w.selectDB(0)
	seedQuotes(w, rng, symbols)
	seedSessions(w, rng, v.sessions)
	seedAnalysisCache(w, rng, symbols, v.cached)
	seedQueue(w, rng, "queue:tasks", symbols, v.queued)
	seedLeaderboards(w, rng, symbols)
	seedSets(w, rng, symbols, v.users)
	seedPriceEvents(w, rng, symbols, v.events)

	w.selectDB(1)
	seedTaskResults(w, rng, v.taskResults)
	seedRateLimits(w, rng, v.rateLimits)
	seedQueue(w, rng, "queue:tasks:failed", symbols, max(v.queued/10, 1))

	w.selectDB(0)
	seedLookups(w, symbols, v.cached)
	if err := w.flush(); err != nil {
		return RedisSeedStats{}, err
	}
	w.stats.Took = time.Since(start)
	return w.stats, nil
}

// redisSeedWriter queues commands on one connection and sends them in
// batches, keeping count of what it wrote.
type redisSeedWriter struct {
	ctx   context.Context
	conn  *goredis.Conn
	pipe  goredis.Pipeliner
	db    int
	n     int
	err   error
	stats RedisSeedStats
}

func (w *redisSeedWriter) p() goredis.Pipeliner {
	if w.pipe == nil {
		w.pipe = w.conn.Pipeline()
	}
	return w.pipe
}

// sent is called after each queued command; it flushes full batches.
func (w *redisSeedWriter) sent() {
	w.n++
	if w.n >= redisSeedBatch {
		_ = w.flush()
	}
}

func (w *redisSeedWriter) flush() error {
	if w.err != nil || w.pipe == nil || w.n == 0 {
		return w.err
	}
	cmds, err := w.pipe.Exec(w.ctx)
	w.n = 0
	if err == nil {
		return nil
	}
	for _, cmd := range cmds {
		// A GET of a missing key (a seeded miss) answers nil: not a failure.
		if cerr := cmd.Err(); cerr != nil && !errors.Is(cerr, goredis.Nil) {
			w.err = fmt.Errorf("seed Redis: %s: %w", cmd.Name(), cerr)
			return w.err
		}
	}
	return nil
}

func (w *redisSeedWriter) selectDB(db int) {
	w.p().Select(w.ctx, db)
	w.db = db
	w.sent()
}

// key records one written key.
func (w *redisSeedWriter) key(kind string, ttl time.Duration) {
	w.stats.Keys[w.db]++
	w.stats.ByType[kind]++
	if ttl > 0 {
		w.stats.WithTTL++
	}
}

func (w *redisSeedWriter) expire(key string, ttl time.Duration) {
	if ttl > 0 {
		w.p().Expire(w.ctx, key, ttl)
		w.sent()
	}
}

// redisSymbols are the sandbox's tickers: the known ones, then made-up
// four-letter ones like the PostgreSQL seed's.
func redisSymbols(n int) []string {
	known := []string{"AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "META", "TSLA", "JPM", "V", "JNJ",
		"XOM", "WMT", "PG", "UNH", "HD", "KO", "PFE", "BAC", "INTC", "DIS"}
	out := make([]string, 0, n)
	for g := 1; g <= n; g++ {
		if g <= len(known) {
			out = append(out, known[g-1])
			continue
		}
		out = append(out, string([]byte{'X', byte('A' + g%26), byte('A' + (g/26)%26), byte('A' + (g/676)%26)}))
	}
	return out
}

func seedQuotes(w *redisSeedWriter, rng *rand.Rand, symbols []string) {
	now := time.Now().UTC()
	for _, sym := range symbols {
		price := 10 + rng.Float64()*490
		change := (rng.Float64() - 0.5) * price * 0.06
		key := "stock:quote:" + sym
		w.p().HSet(w.ctx, key,
			"symbol", sym,
			"price", fmt.Sprintf("%.2f", price),
			"change", fmt.Sprintf("%.2f", change),
			"change_pct", fmt.Sprintf("%.2f", change/price*100),
			"volume", strconv.Itoa(100000+rng.IntN(9000000)),
			"updated_at", now.Format(time.RFC3339))
		w.sent()
		ttl := 30*time.Minute + time.Duration(rng.IntN(1800))*time.Second
		w.expire(key, ttl)
		w.key("hash", ttl)

		meta, _ := json.Marshal(map[string]any{"symbol": sym, "exchange": "NASDAQ", "currency": "USD", "lot_size": 1})
		w.p().Set(w.ctx, "stock:meta:"+sym, meta, 0)
		w.sent()
		w.key("string", 0)
	}
}

func seedSessions(w *redisSeedWriter, rng *rand.Rand, n int) {
	agents := []string{"StockApp/3.4.1 (iPhone; iOS 17.5)", "StockApp/3.4.0 (Android 14)",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15"}
	for i := range n {
		key := "session:" + seededUUID(rng)
		w.p().HSet(w.ctx, key,
			"user_id", strconv.Itoa(1+rng.IntN(2000)),
			"created_at", time.Now().Add(-time.Duration(rng.IntN(86400))*time.Second).UTC().Format(time.RFC3339),
			"ip", fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256),
			"user_agent", agents[i%len(agents)])
		w.sent()
		ttl := time.Duration(1+rng.IntN(7*24)) * time.Hour
		w.expire(key, ttl)
		w.key("hash", ttl)
	}
}

func seedAnalysisCache(w *redisSeedWriter, rng *rand.Rand, symbols []string, n int) {
	kinds := []string{"technical", "fundamental", "sentiment", "backtest"}
	windows := []int{20, 50, 200}
	signals := []string{"buy", "hold", "sell"}
	for i := range n {
		key := analysisCacheKey(symbols, i)
		body, _ := json.Marshal(map[string]any{
			"symbol": symbols[i%len(symbols)], "kind": kinds[i/len(symbols)%len(kinds)],
			"window_days": windows[i/len(symbols)/len(kinds)%len(windows)],
			"signal":      signals[rng.IntN(len(signals))], "score": rng.IntN(1000) / 10,
			"rsi": 20 + rng.Float64()*60, "computed_at": time.Now().UTC().Format(time.RFC3339),
		})
		ttl := time.Hour + time.Duration(rng.IntN(3600))*time.Second
		w.p().Set(w.ctx, key, body, ttl)
		w.sent()
		w.key("string", ttl)
	}
}

// analysisCacheKey is the i-th analysis cache key; i beyond the seeded
// count gives keys that do not exist, for misses.
func analysisCacheKey(symbols []string, i int) string {
	kinds := []string{"technical", "fundamental", "sentiment", "backtest"}
	windows := []int{20, 50, 200}
	return fmt.Sprintf("cache:analysis:%s:%s:%d", symbols[i%len(symbols)],
		kinds[i/len(symbols)%len(kinds)], windows[i/len(symbols)/len(kinds)%len(windows)]) + suffixFor(i, len(symbols)*len(kinds)*len(windows))
}

// suffixFor keeps keys unique once every symbol/kind/window combination
// has been used.
func suffixFor(i, combos int) string {
	if round := i / combos; round > 0 {
		return ":v" + strconv.Itoa(round+1)
	}
	return ""
}

func seedQueue(w *redisSeedWriter, rng *rand.Rand, key string, symbols []string, n int) {
	kinds := []string{"technical", "fundamental", "sentiment", "backtest"}
	for range n {
		job, _ := json.Marshal(map[string]any{
			"id": seededUUID(rng), "kind": kinds[rng.IntN(len(kinds))],
			"symbol": symbols[rng.IntN(len(symbols))], "user_id": 1 + rng.IntN(2000),
			"enqueued_at": time.Now().Add(-time.Duration(rng.IntN(600)) * time.Second).UTC().Format(time.RFC3339),
		})
		w.p().RPush(w.ctx, key, job)
		w.sent()
	}
	w.key("list", 0)
}

func seedLeaderboards(w *redisSeedWriter, rng *rand.Rand, symbols []string) {
	for _, board := range []string{"leaderboard:gainers", "leaderboard:losers", "leaderboard:volume"} {
		members := make([]goredis.Z, 0, len(symbols))
		for _, sym := range symbols {
			score := rng.Float64() * 12
			if board == "leaderboard:volume" {
				score = float64(100000 + rng.IntN(90000000))
			}
			members = append(members, goredis.Z{Score: score, Member: sym})
		}
		w.p().ZAdd(w.ctx, board, members...)
		w.sent()
		w.key("zset", 0)
	}
}

func seedSets(w *redisSeedWriter, rng *rand.Rand, symbols []string, users int) {
	sectors := []string{"technology", "financials", "health-care", "industrials", "energy",
		"consumer-staples", "utilities", "materials"}
	for i, sector := range sectors {
		var members []any
		for j := i; j < len(symbols); j += len(sectors) {
			members = append(members, symbols[j])
		}
		if len(members) == 0 {
			members = append(members, symbols[0])
		}
		w.p().SAdd(w.ctx, "sector:"+sector+":members", members...)
		w.sent()
		w.key("set", 0)
	}
	for u := 1; u <= users; u++ {
		members := make([]any, 0, 8)
		for range 8 {
			members = append(members, symbols[rng.IntN(len(symbols))])
		}
		w.p().SAdd(w.ctx, "user:"+strconv.Itoa(u)+":watchlist", members...)
		w.sent()
		w.key("set", 0)
	}
}

func seedPriceEvents(w *redisSeedWriter, rng *rand.Rand, symbols []string, n int) {
	base := time.Now().Add(-time.Duration(n) * time.Second).UnixMilli()
	for i := range n {
		w.p().XAdd(w.ctx, &goredis.XAddArgs{
			Stream: "events:prices",
			ID:     fmt.Sprintf("%d-0", base+int64(i)*1000),
			Values: []any{
				"symbol", symbols[rng.IntN(len(symbols))],
				"price", fmt.Sprintf("%.2f", 10+rng.Float64()*490),
				"volume", strconv.Itoa(100 + rng.IntN(10000)),
			},
		})
		w.sent()
	}
	w.key("stream", 0)
	w.stats.StreamEntries = int64(n)
}

func seedTaskResults(w *redisSeedWriter, rng *rand.Rand, n int) {
	for i := range n {
		status := "SUCCESS"
		if i%12 == 0 {
			status = "FAILURE"
		}
		body, _ := json.Marshal(map[string]any{"status": status, "date_done": time.Now().UTC().Format(time.RFC3339)})
		ttl := 24 * time.Hour
		w.p().Set(w.ctx, "task:result:"+seededUUID(rng), body, ttl)
		w.sent()
		w.key("string", ttl)
	}
}

func seedRateLimits(w *redisSeedWriter, rng *rand.Rand, n int) {
	for i := range n {
		ttl := 10*time.Minute + time.Duration(rng.IntN(600))*time.Second
		w.p().Set(w.ctx, fmt.Sprintf("ratelimit:api:203.0.113.%d:%d", i%256, i/256), 1+rng.IntN(120), ttl)
		w.sent()
		w.key("string", ttl)
	}
}

// seedLookups reads analysis cache keys, nine in ten of which exist.
func seedLookups(w *redisSeedWriter, symbols []string, cached int) {
	for i := range cached {
		if i%10 == 9 {
			w.p().Get(w.ctx, "cache:analysis:missing:"+strconv.Itoa(i))
			w.stats.Misses++
		} else {
			w.p().Get(w.ctx, analysisCacheKey(symbols, i))
			w.stats.Hits++
		}
		w.sent()
	}
}

// seededUUID is a version 4 UUID drawn from rng.
func seededUUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
