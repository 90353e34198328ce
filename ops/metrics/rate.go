package metrics

import "time"

// Counter turns successive readings of a cumulative counter into
// increases. A reading below the previous one means the counter was reset
// (the server restarted or its statistics were reset): it restarted from
// zero, so the whole new reading is the increase, as Prometheus counts it.
type Counter struct {
	prev float64
	at   time.Time
	ok   bool
}

// Increase records reading v taken at at and returns how much the counter
// grew since the previous reading and over how long. ok is false for the
// first reading and when the clock did not advance.
func (c *Counter) Increase(v float64, at time.Time) (inc float64, dt time.Duration, ok bool) {
	prev, prevAt, had := c.prev, c.at, c.ok
	c.prev, c.at, c.ok = v, at, true
	if !had {
		return 0, 0, false
	}
	dt = at.Sub(prevAt)
	if dt <= 0 {
		return 0, 0, false
	}
	if v < prev {
		return v, dt, true // reset: counted from zero
	}
	return v - prev, dt, true
}

// Rate records v and returns its increase per second since the previous
// reading (see Increase).
func (c *Counter) Rate(v float64, at time.Time) (float64, bool) {
	inc, dt, ok := c.Increase(v, at)
	if !ok {
		return 0, false
	}
	return inc / dt.Seconds(), true
}

// Per records v and returns its increase per unit (e.g. per minute).
func (c *Counter) Per(v float64, at time.Time, unit time.Duration) (float64, bool) {
	r, ok := c.Rate(v, at)
	return r * unit.Seconds(), ok
}

// Ratio turns two counters, hits and misses, into the share of hits among
// the lookups between two readings, in percent.
type Ratio struct {
	hits, misses Counter
}

// Percent records the readings and returns hits / (hits + misses) × 100
// over the interval since the previous readings; ok is false on the first
// reading and when nothing was looked up in between.
func (r *Ratio) Percent(hits, misses float64, at time.Time) (float64, bool) {
	h, _, okH := r.hits.Increase(hits, at)
	m, _, okM := r.misses.Increase(misses, at)
	if !okH || !okM || h+m <= 0 {
		return 0, false
	}
	return 100 * h / (h + m), true
}
