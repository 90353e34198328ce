package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// BusinessSampler runs the configured SQL panels against Postgres, one
// read-only transaction each, on the slow interval.
type BusinessSampler struct {
	conn     *PostgresConn
	interval time.Duration
	panels   []config.Panel
	series   []SeriesInfo
	counters []Counter
}

// NewBusinessSampler runs panels on conn every interval.
func NewBusinessSampler(conn *PostgresConn, interval time.Duration, panels []config.Panel, th config.Thresholds) *BusinessSampler {
	b := &BusinessSampler{conn: conn, interval: interval, panels: panels, counters: make([]Counter, len(panels))}
	for _, p := range panels {
		b.series = append(b.series, panelSeries("business", LevelBusiness, p, th))
	}
	return b
}

// Name implements Sampler.
func (b *BusinessSampler) Name() string { return "business" }

// Interval implements Sampler.
func (b *BusinessSampler) Interval() time.Duration { return b.interval }

// Series implements Sampler.
func (b *BusinessSampler) Series() []SeriesInfo { return b.series }

// Sample implements Sampler. A query that fails (a missing table, a typo)
// fails its panel only; a server that cannot be reached fails the sample.
func (b *BusinessSampler) Sample(ctx context.Context, now time.Time) ([]Reading, error) {
	pool, err := b.conn.Pool(ctx)
	if err != nil {
		return nil, err
	}
	rs := make([]Reading, 0, len(b.panels))
	for i, p := range b.panels {
		id := "business." + p.Name
		v, err := postgres.QueryValue(ctx, pool, p.Query)
		var pgErr *postgres.Error
		if errors.As(err, &pgErr) {
			return nil, err // the server, not the query
		}
		if err != nil {
			rs = append(rs, Reading{ID: id, Value: math.NaN(), Err: fmt.Errorf("%w (metrics.business %s)", err, p.Name)})
			continue
		}
		if p.Rate <= 0 {
			r := Reading{ID: id, Value: v}
			if math.IsNaN(v) {
				r.Detail = "the query returned NULL"
			}
			rs = append(rs, r)
			continue
		}
		if per, ok := b.counters[i].Per(v, now, p.Rate); ok {
			rs = append(rs, Reading{ID: id, Value: per, Detail: fmt.Sprintf("counter at %s", compact(v))})
		}
	}
	return rs, nil
}
