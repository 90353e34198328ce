package progress

import (
	"sync"
	"time"
)

// Meter turns a stream of byte counts into throughput and an ETA. It is
// safe for concurrent use; the zero value is not: use NewMeter.
type Meter struct {
	mu      sync.Mutex
	start   time.Time
	lastAt  time.Time
	last    int64
	rate    float64 // bytes per second, smoothed
	total   int64
	current int64
}

// NewMeter starts a meter at now for total units (0: unknown).
func NewMeter(now time.Time, total int64) *Meter {
	return &Meter{start: now, lastAt: now, total: total}
}

// Update records that done units are finished at now.
func (m *Meter) Update(now time.Time, done int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dt := now.Sub(m.lastAt).Seconds()
	if dt >= 0.2 {
		inst := float64(done-m.last) / dt
		if m.rate == 0 {
			m.rate = inst
		} else {
			m.rate = 0.7*m.rate + 0.3*inst
		}
		m.lastAt, m.last = now, done
	}
	m.current = done
}

// SetTotal changes the expected total.
func (m *Meter) SetTotal(total int64) {
	m.mu.Lock()
	m.total = total
	m.mu.Unlock()
}

// Stats returns the units done, the total (0 unknown), the smoothed rate in
// units per second, and the estimated time left (-1 when unknown).
func (m *Meter) Stats(now time.Time) (done, total int64, rate float64, eta time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rate = m.rate
	if rate == 0 {
		if el := now.Sub(m.start).Seconds(); el > 0 {
			rate = float64(m.current) / el
		}
	}
	eta = -1
	if m.total > 0 && rate > 0 && m.current <= m.total {
		eta = time.Duration(float64(m.total-m.current) / rate * float64(time.Second))
	}
	return m.current, m.total, rate, eta
}
