package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	goredis "github.com/redis/go-redis/v9"
)

// LoadOptions configure the demo's load generator.
type LoadOptions struct {
	// PostgresDSN and RedisURL are the seeded servers to load.
	PostgresDSN string
	RedisURL    string
	// Rate is the number of simulated API requests per second (default 20).
	Rate int
	// ErrorPercent is the share of requests that fail (default 2).
	ErrorPercent float64
	// Symbols is how many stocks the requests touch (default 25, the
	// well-known tickers first).
	Symbols int
	// Duration stops the load by itself after this long (0: until Stop).
	Duration time.Duration
}

// LoadGenerator plays the stock-analysis application's traffic against the
// sandbox: price inserts and updates, analysis queries cached in Redis,
// analysis tasks moving from queued to succeeded or failed, logins, quote
// reads, rate-limit counters, and a few failing requests. It serves the
// application's metrics (request counter with status codes, latency
// histogram) on an HTTP /metrics endpoint for Prometheus to scrape.
type LoadGenerator struct {
	// MetricsAddr is the "127.0.0.1:port" serving /metrics.
	MetricsAddr string

	opts   LoadOptions
	pool   *pgxpool.Pool
	redis  *goredis.Client
	server *http.Server

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	done, failed atomic.Int64
	// paused stops new requests while the application is scaled down.
	paused atomic.Bool

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// SetPaused stops (true) or resumes the requests, as the application's
// pods going away and coming back would.
func (l *LoadGenerator) SetPaused(p bool) { l.paused.Store(p) }

// LoadStats counts what the generator did.
type LoadStats struct {
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
}

// StartLoad connects to the servers, starts serving /metrics on a free
// loopback port and runs the load until Stop, ctx's end or opts.Duration.
func StartLoad(ctx context.Context, opts LoadOptions) (*LoadGenerator, error) {
	if opts.PostgresDSN == "" || opts.RedisURL == "" {
		return nil, errors.New("load: both a Postgres DSN and a Redis URL are needed")
	}
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.ErrorPercent < 0 || opts.ErrorPercent > 100 {
		return nil, fmt.Errorf("load: error percent %v is not in 0..100", opts.ErrorPercent)
	}
	if opts.ErrorPercent == 0 {
		opts.ErrorPercent = 2
	}
	if opts.Symbols <= 0 {
		opts.Symbols = 25
	}
	pcfg, err := pgxpool.ParseConfig(opts.PostgresDSN)
	if err != nil {
		return nil, fmt.Errorf("load: postgres dsn: %w", err)
	}
	pcfg.MaxConns = 4
	pcfg.ConnConfig.ConnectTimeout = 3 * time.Second
	pcfg.ConnConfig.RuntimeParams["application_name"] = "stockapp-loadgen"
	ropt, err := goredis.ParseURL(opts.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("load: redis url: %w", err)
	}
	ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout, ropt.PoolSize = 2*time.Second, 2*time.Second, 2*time.Second, 4

	l := &LoadGenerator{opts: opts}
	l.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("load: connect to Postgres: %w", err)
	}
	l.redis = goredis.NewClient(ropt)

	reg := prometheus.NewRegistry()
	l.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "API requests handled, by handler, method and status code.",
	}, []string{"handler", "method", "code"})
	l.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "API request latency.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"handler", "method"})
	reg.MustRegister(l.requests, l.latency)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.close()
		return nil, fmt.Errorf("load: listen for /metrics: %w", err)
	}
	l.MetricsAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	l.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	l.wg.Go(func() { _ = l.server.Serve(ln) })

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if opts.Duration > 0 {
		runCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), opts.Duration)
	}
	l.cancel = cancel
	l.wg.Go(func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-runCtx.Done():
		}
	})
	l.wg.Go(func() { l.run(runCtx) })
	return l, nil
}

// MetricsURL is the http URL of the /metrics endpoint.
func (l *LoadGenerator) MetricsURL() string { return "http://" + l.MetricsAddr + "/metrics" }

// Stats returns the requests made so far.
func (l *LoadGenerator) Stats() LoadStats {
	return LoadStats{Requests: l.done.Load(), Failed: l.failed.Load()}
}

// Stop ends the load, stops serving /metrics and closes the connections.
// Safe to call more than once.
func (l *LoadGenerator) Stop() error {
	var err error
	l.stopOnce.Do(func() {
		l.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err = l.server.Shutdown(ctx)
		l.wg.Wait()
		l.close()
	})
	return err
}

func (l *LoadGenerator) close() {
	if l.pool != nil {
		l.pool.Close()
	}
	if l.redis != nil {
		_ = l.redis.Close()
	}
}

// run issues Rate requests a second, each with its own deadline, at most
// four at a time (the pool's size) so that a slow server slows the load
// instead of piling it up.
func (l *LoadGenerator) run(ctx context.Context) {
	tick := time.NewTicker(time.Second / time.Duration(l.opts.Rate))
	defer tick.Stop()
	slots := make(chan struct{}, 4)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if l.paused.Load() {
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			continue // all busy: skip this request
		}
		req := l.pick(rng)
		inflight.Go(func() {
			defer func() { <-slots }()
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			l.serve(rctx, req)
		})
	}
}

// request is one simulated API call.
type request struct {
	handler, method string
	fail            bool
	symbol          int // 1-based stock id
	user            int
	seed            uint64
}

// handlers and their share of the traffic, in percent.
var loadMix = []struct {
	handler, method string
	share           int
}{
	{"/api/quotes", "GET", 30},
	{"/api/analysis", "GET", 25},
	{"/api/prices", "POST", 20},
	{"/api/tasks", "POST", 15},
	{"/api/login", "POST", 10},
}

func (l *LoadGenerator) pick(rng *rand.Rand) request {
	n := rng.IntN(100)
	h := loadMix[len(loadMix)-1]
	for _, m := range loadMix {
		if n < m.share {
			h = m
			break
		}
		n -= m.share
	}
	return request{
		handler: h.handler, method: h.method,
		fail:   rng.Float64()*100 < l.opts.ErrorPercent,
		symbol: 1 + rng.IntN(l.opts.Symbols),
		user:   1 + rng.IntN(50),
		seed:   rng.Uint64(),
	}
}

func (l *LoadGenerator) serve(ctx context.Context, r request) {
	start := time.Now()
	var err error
	if r.fail {
		// A real failure: the query the buggy code path sends.
		_, err = l.pool.Exec(ctx, "SELECT * FROM price_snapshots_v2 WHERE stock_id = $1", r.symbol)
	} else {
		err = l.handle(ctx, r)
	}
	code := "200"
	if err != nil {
		code = "500"
		l.failed.Add(1)
	}
	l.done.Add(1)
	l.requests.WithLabelValues(r.handler, r.method, code).Inc()
	l.latency.WithLabelValues(r.handler, r.method).Observe(time.Since(start).Seconds())
}

func (l *LoadGenerator) handle(ctx context.Context, r request) error {
	rng := rand.New(rand.NewPCG(r.seed, 7))
	switch r.handler {
	case "/api/quotes":
		return l.redis.HGetAll(ctx, fmt.Sprintf("stock:quote:%s", loadSymbol(r.symbol))).Err()
	case "/api/analysis":
		key := fmt.Sprintf("cache:analysis:%s:technical:%d", loadSymbol(r.symbol), 60)
		if err := l.redis.Get(ctx, key).Err(); err == nil {
			return nil
		} else if !errors.Is(err, goredis.Nil) {
			return err
		}
		var avg, hi float64
		err := l.pool.QueryRow(ctx, `
SELECT coalesce(avg(close), 0)::float8, coalesce(max(high), 0)::float8
  FROM daily_prices WHERE stock_id = $1 AND trade_date > current_date - 60`, r.symbol).Scan(&avg, &hi)
		if err != nil {
			return err
		}
		return l.redis.Set(ctx, key, fmt.Sprintf(`{"avg":%.2f,"high":%.2f}`, avg, hi), 20*time.Second).Err()
	case "/api/prices":
		price := 10 + rng.Float64()*490
		high, low := price*1.01, price*0.99
		if rng.IntN(50) == 0 {
			high, low = low, high // a bad vendor row: high below low
		}
		_, err := l.pool.Exec(ctx, `
INSERT INTO daily_prices AS p (stock_id, trade_date, open, high, low, close, adj_close, volume, source)
VALUES ($1, current_date, $2, $3, $4, $2, $2, $5, 'loadgen')
ON CONFLICT (stock_id, trade_date) DO UPDATE
   SET close = EXCLUDED.close, high = EXCLUDED.high, low = EXCLUDED.low,
       volume = p.volume + EXCLUDED.volume, ingested_at = now()`,
			r.symbol, price, high, low, 1000+rng.IntN(100000))
		if err != nil {
			return err
		}
		return l.redis.HSet(ctx, fmt.Sprintf("stock:quote:%s", loadSymbol(r.symbol)), "price", fmt.Sprintf("%.2f", price)).Err()
	case "/api/tasks":
		return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
			var id int64
			if err := tx.QueryRow(ctx, `
INSERT INTO analysis_tasks (user_id, stock_id, kind, status, attempts, started_at)
VALUES ($1, $2, 'technical', 'running', 1, now()) RETURNING id`, r.user, r.symbol).Scan(&id); err != nil {
				return err
			}
			status, msg := "succeeded", ""
			if rng.IntN(100) < 6 {
				status, msg = "failed", "upstream quote provider timed out after 30s"
			}
			_, err := tx.Exec(ctx, `
UPDATE analysis_tasks SET status = $2, error = nullif($3, ''), finished_at = now(),
       result = CASE WHEN $2 = 'succeeded' THEN '{"signal":"hold"}'::jsonb END
 WHERE id = $1`, id, status, msg)
			return err
		})
	case "/api/login":
		if _, err := l.pool.Exec(ctx, `INSERT INTO user_sessions (user_id, expires_at) VALUES ($1, now() + interval '30 minutes')`, r.user); err != nil {
			return err
		}
		return l.redis.Incr(ctx, fmt.Sprintf("ratelimit:login:%d", r.user)).Err()
	}
	return fmt.Errorf("unknown handler %s", r.handler)
}

// loadSymbol returns the seeded symbol of stock id (the well-known tickers
// come first in the seed).
func loadSymbol(id int) string {
	known := []string{"AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "META", "TSLA", "JPM", "V", "JNJ",
		"XOM", "WMT", "PG", "UNH", "HD", "KO", "PFE", "BAC", "INTC", "DIS"}
	if id >= 1 && id <= len(known) {
		return known[id-1]
	}
	g := id
	return "X" + string(rune('A'+g%26)) + string(rune('A'+(g/26)%26)) + string(rune('A'+(g/676)%26))
}
