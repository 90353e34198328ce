package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresSeedStats says what SeedPostgres wrote.
type PostgresSeedStats struct {
	// Rows maps each table to its row count after seeding.
	Rows map[string]int64 `json:"rows"`
	// FailedTasks is how many analysis_tasks ended "failed".
	FailedTasks int64 `json:"failed_tasks"`
	// BadPriceRows is how many daily_prices rows break a data-quality rule
	// (high below low, negative volume, or a close that is not positive).
	BadPriceRows int64         `json:"bad_price_rows"`
	Took         time.Duration `json:"took_ns"`
}

// PostgresSeedTables are the tables SeedPostgres creates, parents first.
var PostgresSeedTables = []string{
	"stocks", "daily_prices", "users", "user_sessions", "watchlists", "watchlist_items",
	"analysis_tasks", "alerts", "notifications", "data_quality_checks",
}

// postgresVolume is how much SeedPostgres writes at one scale.
type postgresVolume struct {
	stocks, days, users, sessions, tasks, alerts, notifications, qualityDays int
}

func postgresVolumeFor(scale int) postgresVolume {
	if scale <= 0 {
		return postgresVolume{stocks: 25, days: 200, users: 50, sessions: 40, tasks: 300, alerts: 60, notifications: 200, qualityDays: 7}
	}
	return postgresVolume{
		stocks: 300 * scale, days: 1000, users: 2000 * scale, sessions: 3000 * scale,
		tasks: 20000 * scale, alerts: 5000 * scale, notifications: 20000 * scale, qualityDays: 30,
	}
}

// PostgresSeedPriceRows is the number of daily_prices rows SeedPostgres
// writes at scale: 25 stocks × 200 days at scale 0, 300·scale stocks × 1000
// trading days above.
func PostgresSeedPriceRows(scale int) int64 {
	v := postgresVolumeFor(scale)
	return int64(v.stocks) * int64(v.days)
}

// SeedPostgres creates the stock-analysis schema in the empty database at
// dsn and fills it in SQL (generate_series, no row-by-row round trips): at
// scale 1, 300 stocks with 1000 trading days of prices (300,000 rows), 2,000
// users, 20,000 analysis tasks (about 8% failed) and so on; scale 0 is a
// few thousand rows for quick tests. A handful of price rows are
// deliberately bad, for the data-quality score. It refuses a database that
// already has these tables, and ends with ANALYZE.
func SeedPostgres(ctx context.Context, dsn string, scale int) (PostgresSeedStats, error) {
	start := time.Now()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return PostgresSeedStats{}, fmt.Errorf("seed PostgreSQL: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('public.stocks') IS NOT NULL").Scan(&exists); err != nil {
		return PostgresSeedStats{}, fmt.Errorf("seed PostgreSQL: %w", err)
	}
	if exists {
		return PostgresSeedStats{}, fmt.Errorf("seed PostgreSQL: table public.stocks already exists — seed only an empty database (the sandbox makes a fresh one each run)")
	}

	v := postgresVolumeFor(scale)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, step := range seedSteps(v) {
			if _, err := tx.Exec(ctx, step.sql); err != nil {
				return fmt.Errorf("%s: %w", step.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return PostgresSeedStats{}, fmt.Errorf("seed PostgreSQL (nothing was kept): %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return PostgresSeedStats{}, fmt.Errorf("seed PostgreSQL: analyze: %w", err)
	}

	stats := PostgresSeedStats{Rows: map[string]int64{}}
	for _, table := range PostgresSeedTables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			return PostgresSeedStats{}, fmt.Errorf("seed PostgreSQL: count %s: %w", table, err)
		}
		stats.Rows[table] = n
	}
	err = conn.QueryRow(ctx, `
SELECT (SELECT count(*) FROM analysis_tasks WHERE status = 'failed'),
       (SELECT count(*) FROM daily_prices WHERE high < low OR volume < 0 OR close <= 0)`).
		Scan(&stats.FailedTasks, &stats.BadPriceRows)
	if err != nil {
		return PostgresSeedStats{}, fmt.Errorf("seed PostgreSQL: count failures: %w", err)
	}
	stats.Took = time.Since(start)
	return stats, nil
}

type seedStep struct{ name, sql string }

// seedSteps are the statements of the seed, run in one transaction. Only
// integers are formatted into them.
func seedSteps(v postgresVolume) []seedStep {
	return []seedStep{
		{"fix the random seed", "SELECT setseed(0.42)"},
		{"create tables", schemaSQL},
		{"stocks", fmt.Sprintf(stocksSQL, v.stocks)},
		{"trading days", fmt.Sprintf(tradingDaysSQL, v.days*7/5+30, v.days)},
		{"daily prices", dailyPricesSQL},
		{"bad price rows", fmt.Sprintf(badPricesSQL, max(v.stocks*v.days/10000, 1))},
		{"users", fmt.Sprintf(usersSQL, v.users)},
		{"sessions", fmt.Sprintf(sessionsSQL, v.sessions, v.users)},
		{"watchlists", watchlistsSQL},
		{"watchlist items", fmt.Sprintf(watchlistItemsSQL, v.stocks)},
		{"analysis tasks", fmt.Sprintf(tasksSQL, v.tasks, v.users, v.stocks)},
		{"alerts", fmt.Sprintf(alertsSQL, v.alerts, v.users, v.stocks)},
		{"notifications", fmt.Sprintf(notificationsSQL, v.notifications, v.alerts)},
		{"data quality checks", fmt.Sprintf(qualitySQL, v.qualityDays)},
		{"constraints and indexes", constraintsSQL},
	}
}

// schemaSQL creates the tables with their primary keys; foreign keys and
// secondary indexes come after the load (constraintsSQL), which is faster.
const schemaSQL = `
CREATE TABLE stocks (
    id          integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    symbol      text        NOT NULL UNIQUE,
    name        text        NOT NULL,
    exchange    text        NOT NULL,
    sector      text        NOT NULL,
    industry    text        NOT NULL,
    currency    char(3)     NOT NULL DEFAULT 'USD',
    listed_on   date        NOT NULL,
    is_active   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE daily_prices (
    stock_id    integer       NOT NULL,
    trade_date  date          NOT NULL,
    open        numeric(12,4) NOT NULL,
    high        numeric(12,4) NOT NULL,
    low         numeric(12,4) NOT NULL,
    close       numeric(12,4) NOT NULL,
    adj_close   numeric(12,4) NOT NULL,
    volume      bigint        NOT NULL,
    source      text          NOT NULL DEFAULT 'vendor-a',
    ingested_at timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (stock_id, trade_date)
);
CREATE TABLE users (
    id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL,
    display_name  text        NOT NULL,
    password_hash text        NOT NULL,
    plan          text        NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise')),
    is_active     boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE TABLE user_sessions (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ip          inet,
    user_agent  text
);
CREATE TABLE watchlists (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);
CREATE TABLE watchlist_items (
    watchlist_id bigint      NOT NULL,
    stock_id     integer     NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (watchlist_id, stock_id)
);
CREATE TABLE analysis_tasks (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL,
    stock_id    integer     NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('technical', 'fundamental', 'sentiment', 'backtest')),
    status      text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params      jsonb       NOT NULL DEFAULT '{}',
    result      jsonb,
    error       text,
    attempts    smallint    NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);
CREATE TABLE alerts (
    id                bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id           bigint        NOT NULL,
    stock_id          integer       NOT NULL,
    condition         text          NOT NULL CHECK (condition IN ('price_above', 'price_below', 'change_pct_above', 'volume_spike')),
    threshold         numeric(12,4) NOT NULL,
    is_active         boolean       NOT NULL DEFAULT true,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    last_triggered_at timestamptz
);
CREATE TABLE notifications (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL,
    alert_id    bigint,
    channel     text        NOT NULL CHECK (channel IN ('email', 'push', 'webhook')),
    payload     jsonb       NOT NULL,
    status      text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE TABLE data_quality_checks (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    check_name   text          NOT NULL,
    table_name   text          NOT NULL,
    run_at       timestamptz   NOT NULL,
    rows_checked bigint        NOT NULL,
    rows_failed  bigint        NOT NULL,
    score        numeric(5,2)  NOT NULL,
    details      jsonb         NOT NULL DEFAULT '{}'
);`

// stocksSQL: well-known tickers first, then made-up four-letter ones.
const stocksSQL = `
WITH known(symbol, name, exchange, sector, industry) AS (VALUES
    ('AAPL', 'Apple Inc.', 'NASDAQ', 'Technology', 'Consumer Electronics'),
    ('MSFT', 'Microsoft Corp.', 'NASDAQ', 'Technology', 'Software'),
    ('NVDA', 'NVIDIA Corp.', 'NASDAQ', 'Technology', 'Semiconductors'),
    ('GOOGL', 'Alphabet Inc.', 'NASDAQ', 'Communication Services', 'Internet Content'),
    ('AMZN', 'Amazon.com Inc.', 'NASDAQ', 'Consumer Discretionary', 'Internet Retail'),
    ('META', 'Meta Platforms Inc.', 'NASDAQ', 'Communication Services', 'Internet Content'),
    ('TSLA', 'Tesla Inc.', 'NASDAQ', 'Consumer Discretionary', 'Automobiles'),
    ('JPM', 'JPMorgan Chase & Co.', 'NYSE', 'Financials', 'Banks'),
    ('V', 'Visa Inc.', 'NYSE', 'Financials', 'Payments'),
    ('JNJ', 'Johnson & Johnson', 'NYSE', 'Health Care', 'Pharmaceuticals'),
    ('XOM', 'Exxon Mobil Corp.', 'NYSE', 'Energy', 'Oil & Gas'),
    ('WMT', 'Walmart Inc.', 'NYSE', 'Consumer Staples', 'Discount Stores'),
    ('PG', 'Procter & Gamble Co.', 'NYSE', 'Consumer Staples', 'Household Products'),
    ('UNH', 'UnitedHealth Group Inc.', 'NYSE', 'Health Care', 'Managed Care'),
    ('HD', 'Home Depot Inc.', 'NYSE', 'Consumer Discretionary', 'Home Improvement'),
    ('KO', 'Coca-Cola Co.', 'NYSE', 'Consumer Staples', 'Beverages'),
    ('PFE', 'Pfizer Inc.', 'NYSE', 'Health Care', 'Pharmaceuticals'),
    ('BAC', 'Bank of America Corp.', 'NYSE', 'Financials', 'Banks'),
    ('INTC', 'Intel Corp.', 'NASDAQ', 'Technology', 'Semiconductors'),
    ('DIS', 'Walt Disney Co.', 'NYSE', 'Communication Services', 'Entertainment')
), numbered AS (
    SELECT row_number() OVER () AS n, * FROM known
), sectors(i, sector, industry) AS (VALUES
    (0, 'Technology', 'Software'), (1, 'Financials', 'Banks'), (2, 'Health Care', 'Biotechnology'),
    (3, 'Industrials', 'Machinery'), (4, 'Energy', 'Oil & Gas'), (5, 'Consumer Staples', 'Food Products'),
    (6, 'Utilities', 'Electric Utilities'), (7, 'Materials', 'Chemicals')
)
INSERT INTO stocks (id, symbol, name, exchange, sector, industry, listed_on, is_active)
SELECT g,
       coalesce(k.symbol, 'X' || chr(65 + g %% 26) || chr(65 + (g / 26) %% 26) || chr(65 + (g / 676) %% 26)),
       coalesce(k.name, 'Synthetic Holdings ' || g),
       coalesce(k.exchange, CASE WHEN g %% 3 = 0 THEN 'NYSE' ELSE 'NASDAQ' END),
       coalesce(k.sector, s.sector),
       coalesce(k.industry, s.industry),
       date '1990-01-02' + (g * 97) %% 11000,
       g %% 50 <> 0
  FROM generate_series(1, %d) g
  LEFT JOIN numbered k ON k.n = g
  JOIN sectors s ON s.i = g %% 8`

// tradingDaysSQL: the last N weekdays before today.
const tradingDaysSQL = `
CREATE TEMP TABLE trading_days ON COMMIT DROP AS
SELECT day, row_number() OVER (ORDER BY day) AS n
  FROM (SELECT d::date AS day
          FROM generate_series(current_date - %d, current_date - 1, interval '1 day') d
         WHERE extract(isodow FROM d) < 6
         ORDER BY d DESC
         LIMIT %d) last_days`

// dailyPricesSQL: a geometric random walk per stock with a daily range
// around it and a volume around a per-stock average.
const dailyPricesSQL = `
INSERT INTO daily_prices (stock_id, trade_date, open, high, low, close, adj_close, volume)
SELECT stock_id, day,
       round((c * (1 + o))::numeric, 4),
       round((greatest(c, c * (1 + o)) * (1 + h))::numeric, 4),
       round((least(c, c * (1 + o)) * (1 - l))::numeric, 4),
       round(c::numeric, 4),
       round((c * CASE WHEN n < 500 THEN 0.985 ELSE 1 END)::numeric, 4),
       vol
  FROM (SELECT stock_id, day, n, o, h, l, vol,
               base * exp(sum(r) OVER (PARTITION BY stock_id ORDER BY n)) AS c
          FROM (SELECT s.id AS stock_id, t.day, t.n,
                       (10 + (s.id * 37) % 490)::float8 AS base,
                       (random() - 0.499) * 0.04 AS r,
                       (random() - 0.5) * 0.02 AS o,
                       random() * 0.015 AS h,
                       random() * 0.015 AS l,
                       ((200000 + (s.id * 7919) % 5000000) * (0.5 + random()))::bigint AS vol
                  FROM stocks s CROSS JOIN trading_days t) walk) priced`

// badPricesSQL breaks a few rows the way vendor feeds do.
const badPricesSQL = `
WITH picked AS (
    SELECT stock_id, trade_date, row_number() OVER (ORDER BY md5(stock_id || ':' || trade_date)) AS k
      FROM daily_prices
     ORDER BY md5(stock_id || ':' || trade_date)
     LIMIT 3 * %[1]d
)
UPDATE daily_prices p
   SET high   = CASE WHEN k %% 3 = 0 THEN p.low - 1 ELSE p.high END,
       volume = CASE WHEN k %% 3 = 1 THEN -p.volume ELSE p.volume END,
       close  = CASE WHEN k %% 3 = 2 THEN 0 ELSE p.close END,
       source = 'vendor-b'
  FROM picked
 WHERE p.stock_id = picked.stock_id AND p.trade_date = picked.trade_date`

const usersSQL = `
INSERT INTO users (id, email, display_name, password_hash, plan, is_active, created_at, last_login_at)
SELECT g,
       lower(f.name || '.' || l.name || g || '@example.com'),
       f.name || ' ' || l.name,
       '$argon2id$v=19$m=65536,t=3,p=4$' || md5('salt' || g) || '$' || md5('hash' || g),
       CASE WHEN g %% 10 = 0 THEN 'enterprise' WHEN g %% 10 < 3 THEN 'pro' ELSE 'free' END,
       g %% 40 <> 0,
       now() - (g %% 900) * interval '1 day' - random() * interval '1 day',
       CASE WHEN g %% 10 = 9 THEN NULL ELSE now() - random() * interval '30 days' END
  FROM generate_series(1, %d) g
  JOIN (SELECT row_number() OVER () - 1 AS i, name FROM unnest(ARRAY[
        'Alice', 'Bruno', 'Chen', 'Dana', 'Emeka', 'Farah', 'Gustav', 'Hana', 'Ivan', 'Julia',
        'Kenji', 'Lucia', 'Mateo', 'Nadia', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tara']) name) f
    ON f.i = g %% 20
  JOIN (SELECT row_number() OVER () - 1 AS i, name FROM unnest(ARRAY[
        'Smith', 'Garcia', 'Wang', 'Okafor', 'Muller', 'Rossi', 'Tanaka', 'Kowalski', 'Silva', 'Novak']) name) l
    ON l.i = (g / 20) %% 10`

// sessionsSQL: about a fifth of the sessions have expired.
const sessionsSQL = `
INSERT INTO user_sessions (user_id, created_at, expires_at, ip, user_agent)
SELECT 1 + g %% %[2]d,
       created,
       created + CASE WHEN g %% 5 = 0 THEN interval '1 hour' ELSE interval '7 days' END,
       ('10.' || (g / 65536) %% 256 || '.' || (g / 256) %% 256 || '.' || g %% 256)::inet,
       (ARRAY['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
              'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36',
              'StockApp/3.4.1 (iPhone; iOS 17.5)',
              'StockApp/3.4.0 (Android 14)'])[1 + g %% 4]
  FROM generate_series(1, %[1]d) g,
       LATERAL (SELECT now() - (g %% 48) * interval '1 hour' - interval '2 hours' AS created) c`

// watchlistsSQL: two users in three keep a "Core holdings" list, every
// other one of those a "Tech" list too.
const watchlistsSQL = `
INSERT INTO watchlists (user_id, name, created_at)
SELECT u.id, w.name, u.created_at + interval '1 day'
  FROM users u
 CROSS JOIN (VALUES ('Core holdings'), ('Tech')) w(name)
 WHERE u.id % 3 <> 0 AND (w.name = 'Core holdings' OR u.id % 2 = 0)`

const watchlistItemsSQL = `
INSERT INTO watchlist_items (watchlist_id, stock_id, added_at)
SELECT w.id, 1 + (w.id * 31 + k * 17) %% %d, w.created_at + k * interval '1 day'
  FROM watchlists w, generate_series(1, 8) k
ON CONFLICT DO NOTHING`

// tasksSQL: 80% succeeded, 8% failed, 5% cancelled, 4% queued, 3% running.
const tasksSQL = `
INSERT INTO analysis_tasks (user_id, stock_id, kind, status, params, result, error, attempts, created_at, started_at, finished_at)
SELECT 1 + (g * 7) %% %[2]d,
       1 + (g * 13) %% %[3]d,
       (ARRAY['technical', 'fundamental', 'sentiment', 'backtest'])[1 + g %% 4],
       st.status,
       jsonb_build_object('window_days', (ARRAY[20, 50, 200])[1 + g %% 3], 'indicators', '["rsi","macd"]'::jsonb),
       CASE WHEN st.status = 'succeeded'
            THEN jsonb_build_object('signal', (ARRAY['buy', 'hold', 'sell'])[1 + g %% 3], 'score', round((random() * 100)::numeric, 1)) END,
       CASE WHEN st.status = 'failed' THEN (ARRAY[
            'upstream quote provider timed out after 30s',
            'insufficient price history: need 200 trading days, have 37',
            'worker OOMKilled while fitting model',
            'data vendor rate limit exceeded (HTTP 429)'])[1 + g %% 4] END,
       CASE WHEN st.status = 'queued' THEN 0 WHEN st.status = 'failed' THEN 3 ELSE 1 END,
       created,
       CASE WHEN st.status <> 'queued' THEN created + interval '2 seconds' END,
       CASE WHEN st.status IN ('succeeded', 'failed', 'cancelled') THEN created + (2 + random() * 120) * interval '1 second' END
  FROM generate_series(1, %[1]d) g,
       LATERAL (SELECT CASE WHEN g %% 100 < 80 THEN 'succeeded' WHEN g %% 100 < 88 THEN 'failed'
                            WHEN g %% 100 < 93 THEN 'cancelled' WHEN g %% 100 < 97 THEN 'queued'
                            ELSE 'running' END AS status) st,
       LATERAL (SELECT now() - (g %% 43200) * interval '1 minute' AS created) c`

const alertsSQL = `
INSERT INTO alerts (user_id, stock_id, condition, threshold, is_active, created_at, last_triggered_at)
SELECT 1 + (g * 11) %% %[2]d,
       1 + (g * 13) %% %[3]d,
       (ARRAY['price_above', 'price_below', 'change_pct_above', 'volume_spike'])[1 + g %% 4],
       round((5 + random() * 500)::numeric, 2),
       g %% 7 <> 0,
       now() - (g %% 365) * interval '1 day',
       CASE WHEN g %% 3 = 0 THEN now() - (g %% 30) * interval '1 day' END
  FROM generate_series(1, %[1]d) g`

const notificationsSQL = `
INSERT INTO notifications (user_id, alert_id, channel, payload, status, created_at, sent_at)
SELECT a.user_id, a.id,
       (ARRAY['email', 'push', 'webhook'])[1 + g %% 3],
       jsonb_build_object('alert_id', a.id, 'condition', a.condition, 'threshold', a.threshold),
       st.status,
       created,
       CASE WHEN st.status = 'sent' THEN created + interval '3 seconds' END
  FROM generate_series(1, %[1]d) g
  JOIN alerts a ON a.id = 1 + g %% %[2]d,
       LATERAL (SELECT CASE WHEN g %% 100 < 90 THEN 'sent' WHEN g %% 100 < 93 THEN 'failed' ELSE 'pending' END AS status) st,
       LATERAL (SELECT now() - (g %% 20160) * interval '1 minute' AS created) c`

// qualitySQL: one run a day of each rule; today's counts are exact.
const qualitySQL = `
WITH rules(check_name, failed) AS (
    SELECT 'price_high_not_below_low', count(*) FILTER (WHERE high < low) FROM daily_prices
    UNION ALL SELECT 'price_volume_not_negative', count(*) FILTER (WHERE volume < 0) FROM daily_prices
    UNION ALL SELECT 'price_close_positive', count(*) FILTER (WHERE close <= 0) FROM daily_prices
    UNION ALL SELECT 'price_row_complete', 0::bigint
), total AS (SELECT count(*) AS n FROM daily_prices)
INSERT INTO data_quality_checks (check_name, table_name, run_at, rows_checked, rows_failed, score, details)
SELECT r.check_name, 'daily_prices', date_trunc('day', now()) - d * interval '1 day' + interval '2 hours',
       t.n, f.failed,
       round(100 * (1 - f.failed::numeric / greatest(t.n, 1)), 2),
       jsonb_build_object('rule_version', 3, 'sampled', false)
  FROM rules r, total t, generate_series(0, %d - 1) d,
       LATERAL (SELECT CASE WHEN d = 0 THEN r.failed ELSE greatest(r.failed + (d %% 3) - 1, 0) END AS failed) f`

// constraintsSQL adds the foreign keys and secondary indexes once the data
// is in, and moves the identity sequences past the generated ids.
const constraintsSQL = `
ALTER TABLE daily_prices    ADD FOREIGN KEY (stock_id) REFERENCES stocks (id) ON DELETE CASCADE;
ALTER TABLE user_sessions   ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE watchlists      ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE watchlist_items ADD FOREIGN KEY (watchlist_id) REFERENCES watchlists (id) ON DELETE CASCADE;
ALTER TABLE watchlist_items ADD FOREIGN KEY (stock_id) REFERENCES stocks (id);
ALTER TABLE analysis_tasks  ADD FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE analysis_tasks  ADD FOREIGN KEY (stock_id) REFERENCES stocks (id);
ALTER TABLE alerts          ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE alerts          ADD FOREIGN KEY (stock_id) REFERENCES stocks (id);
ALTER TABLE notifications   ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE notifications   ADD FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE SET NULL;

CREATE INDEX stocks_sector_idx                   ON stocks (sector);
CREATE INDEX daily_prices_trade_date_idx         ON daily_prices (trade_date);
CREATE UNIQUE INDEX users_email_key              ON users (lower(email));
CREATE INDEX user_sessions_user_id_idx           ON user_sessions (user_id);
CREATE INDEX user_sessions_expires_at_idx        ON user_sessions (expires_at);
CREATE INDEX watchlist_items_stock_id_idx        ON watchlist_items (stock_id);
CREATE INDEX analysis_tasks_status_created_idx   ON analysis_tasks (status, created_at);
CREATE INDEX analysis_tasks_user_id_idx          ON analysis_tasks (user_id);
CREATE INDEX analysis_tasks_stock_id_idx         ON analysis_tasks (stock_id);
CREATE INDEX alerts_stock_id_active_idx          ON alerts (stock_id) WHERE is_active;
CREATE INDEX alerts_user_id_idx                  ON alerts (user_id);
CREATE INDEX notifications_user_created_idx      ON notifications (user_id, created_at DESC);
CREATE INDEX notifications_pending_idx           ON notifications (created_at) WHERE status = 'pending';
CREATE INDEX data_quality_checks_name_run_at_idx ON data_quality_checks (check_name, run_at DESC);

SELECT setval(pg_get_serial_sequence(t, 'id'), (SELECT max(id) FROM stocks)) FROM (VALUES ('stocks')) v(t);
SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));`
