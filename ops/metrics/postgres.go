package metrics

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// The Postgres series.
const (
	PGTransactions   = "postgres.tps"
	PGTuples         = "postgres.tuples"
	PGConnections    = "postgres.connections"
	PGCacheHit       = "postgres.cache_hit"
	PGDeadlocks      = "postgres.deadlocks"
	PGTempBytes      = "postgres.temp_bytes"
	PGLongestTx      = "postgres.longest_tx"
	PGReplicationLag = "postgres.replication_lag"
	PGDatabaseSize   = "postgres.size"
)

// PostgresConn is a lazily opened, shared pgx pool for the samplers: it
// connects on first use and again after a failed connect, so a server that
// comes back is picked up at the next sample.
type PostgresConn struct {
	dsn     string
	timeout time.Duration

	mu   sync.Mutex
	pool *pgxpool.Pool
}

// NewPostgresConn prepares a connection to dsn; connectTimeout bounds each
// connection attempt. Nothing connects yet.
func NewPostgresConn(dsn string, connectTimeout time.Duration) *PostgresConn {
	return &PostgresConn{dsn: dsn, timeout: connectTimeout}
}

// Pool returns the pool, connecting when there is none.
func (c *PostgresConn) Pool(ctx context.Context) (*pgxpool.Pool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pool != nil {
		return c.pool, nil
	}
	pool, err := postgres.Connect(ctx, c.dsn, c.timeout)
	if err != nil {
		return nil, err
	}
	c.pool = pool
	return pool, nil
}

// Close closes the pool, if open.
func (c *PostgresConn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pool != nil {
		c.pool.Close()
		c.pool = nil
	}
}

// PostgresSampler reads the frequent Postgres series with one statement per
// sample (postgres.TakeSample).
type PostgresSampler struct {
	conn     *PostgresConn
	interval time.Duration
	series   []SeriesInfo

	commits, rollbacks, tupRead, tupWritten, deadlocks, temp Counter
	cache                                                    Ratio
}

// NewPostgresSampler samples conn every interval, judging with th.
func NewPostgresSampler(conn *PostgresConn, interval time.Duration, th config.Thresholds) *PostgresSampler {
	s := systemSeries("postgres", th)
	return &PostgresSampler{conn: conn, interval: interval, series: []SeriesInfo{
		s(PGTransactions, "transactions/s", UnitPerSec, "db_transactions_per_sec", 1),
		s(PGTuples, "tuples/s", UnitPerSec, "db_tuples_per_sec", 1),
		s(PGConnections, "connections", UnitPercent, "db_connections_percent", 1),
		s(PGCacheHit, "cache hit", UnitPercent, "cache_hit_ratio_percent", 1),
		s(PGDeadlocks, "deadlocks/min", UnitPerMin, "db_deadlocks_per_minute", 1),
		s(PGTempBytes, "temp files", UnitBytesPerSec, "db_temp_mib_per_sec", 1<<20),
		s(PGLongestTx, "longest transaction", UnitSeconds, "longest_transaction", 1),
		s(PGReplicationLag, "replication lag", UnitSeconds, "replication_lag", 1),
	}}
}

// Name implements Sampler.
func (p *PostgresSampler) Name() string { return "postgres" }

// Interval implements Sampler.
func (p *PostgresSampler) Interval() time.Duration { return p.interval }

// Series implements Sampler.
func (p *PostgresSampler) Series() []SeriesInfo { return p.series }

// Sample implements Sampler.
func (p *PostgresSampler) Sample(ctx context.Context, now time.Time) ([]Reading, error) {
	pool, err := p.conn.Pool(ctx)
	if err != nil {
		return nil, err
	}
	s, err := postgres.TakeSample(ctx, pool)
	if err != nil {
		return nil, err
	}
	return p.readings(s, now), nil
}

// readings turns a sample into readings; rates need the previous sample.
func (p *PostgresSampler) readings(s postgres.Sample, now time.Time) []Reading {
	a, t := s.Activity, s.Tuples
	rs := make([]Reading, 0, len(p.series))
	commits, okC := p.commits.Rate(float64(a.Commits), now)
	rollbacks, okR := p.rollbacks.Rate(float64(a.Rollbacks), now)
	if okC && okR {
		rs = append(rs, Reading{ID: PGTransactions, Value: commits + rollbacks,
			Detail: fmt.Sprintf("commits %s · rollbacks %s", FormatValue(commits, UnitPerSec), FormatValue(rollbacks, UnitPerSec))})
	}
	read, okRead := p.tupRead.Rate(float64(t.Returned+t.Fetched), now)
	written, okW := p.tupWritten.Rate(float64(t.Inserted+t.Updated+t.Deleted), now)
	if okRead && okW {
		rs = append(rs, Reading{ID: PGTuples, Value: read + written,
			Detail: fmt.Sprintf("read %s · written %s", FormatValue(read, UnitPerSec), FormatValue(written, UnitPerSec))})
	}
	c := s.Connections
	conn := Reading{ID: PGConnections, Value: math.NaN(), Detail: "max_connections unknown"}
	if c.Available() > 0 {
		conn.Value = 100 * float64(c.Total) / float64(c.Available())
		conn.Detail = fmt.Sprintf("%d/%d · active %d · idle %d · idle in tx %d", c.Total, c.Available(), c.Active, c.Idle, c.IdleInTransaction+c.IdleInTransactionAborted)
	}
	rs = append(rs, conn)
	switch hit, ok := p.cache.Percent(float64(s.Cache.BlocksHit), float64(s.Cache.BlocksRead), now); {
	case ok:
		rs = append(rs, Reading{ID: PGCacheHit, Value: hit, Detail: fmt.Sprintf("since start %.2f%%", s.Cache.HitPercent)})
	case !s.Cache.NoReadsYet:
		// No block read since the last sample: the ratio since the stats reset.
		rs = append(rs, Reading{ID: PGCacheHit, Value: s.Cache.HitPercent, Detail: "no reads lately · since stats reset"})
	}
	if d, ok := p.deadlocks.Per(float64(a.Deadlocks), now, time.Minute); ok {
		rs = append(rs, Reading{ID: PGDeadlocks, Value: d, Detail: fmt.Sprintf("%d since stats reset", a.Deadlocks)})
	}
	if b, ok := p.temp.Rate(float64(a.TempBytes), now); ok {
		rs = append(rs, Reading{ID: PGTempBytes, Value: b, Detail: FormatValue(float64(a.TempBytes), UnitBytes) + " since stats reset"})
	}
	tx := Reading{ID: PGLongestTx, Value: s.LongestTransaction.Seconds(), Detail: "no transaction open"}
	if s.LongestTransaction > 0 {
		tx.Detail = "oldest open transaction"
	}
	rs = append(rs, tx)
	lag := Reading{ID: PGReplicationLag, Value: s.ReplicationLag.Seconds()}
	switch {
	case s.InRecovery:
		lag.Detail = "this server is a standby"
	case s.Replicas == 0:
		lag.Detail = "no standby streams from this server"
	default:
		lag.Detail = fmt.Sprintf("%d standbys, worst replay lag", s.Replicas)
	}
	return append(rs, lag)
}

// PostgresSizeSampler reads the database size on the slower interval.
type PostgresSizeSampler struct {
	conn     *PostgresConn
	interval time.Duration
	series   []SeriesInfo
}

// NewPostgresSizeSampler samples the size of conn's database every interval.
func NewPostgresSizeSampler(conn *PostgresConn, interval time.Duration, th config.Thresholds) *PostgresSizeSampler {
	s := systemSeries("postgres", th)
	return &PostgresSizeSampler{conn: conn, interval: interval, series: []SeriesInfo{
		s(PGDatabaseSize, "database size", UnitBytes, "db_size_gib", 1<<30),
	}}
}

// Name implements Sampler.
func (p *PostgresSizeSampler) Name() string { return "postgres size" }

// Interval implements Sampler.
func (p *PostgresSizeSampler) Interval() time.Duration { return p.interval }

// Series implements Sampler.
func (p *PostgresSizeSampler) Series() []SeriesInfo { return p.series }

// Sample implements Sampler.
func (p *PostgresSizeSampler) Sample(ctx context.Context, _ time.Time) ([]Reading, error) {
	pool, err := p.conn.Pool(ctx)
	if err != nil {
		return nil, err
	}
	n, err := postgres.DatabaseSize(ctx, pool)
	if err != nil {
		return nil, err
	}
	return []Reading{{ID: PGDatabaseSize, Value: float64(n)}}, nil
}
