package metrics

import (
	"math"
	"time"
)

// Point is one sampled value.
type Point struct {
	At time.Time `json:"at"`
	V  float64   `json:"v"`
}

// Ring is a fixed-capacity buffer of points, oldest first, that overwrites
// its oldest point when full: memory stays flat however long it runs. It is
// not safe for concurrent use; the Engine guards its rings.
type Ring struct {
	pts   []Point
	start int // index of the oldest point
	n     int
}

// NewRing returns a ring holding at most capacity points (at least 1).
func NewRing(capacity int) *Ring {
	return &Ring{pts: make([]Point, max(capacity, 1))}
}

// Cap is the ring's capacity.
func (r *Ring) Cap() int { return len(r.pts) }

// Len is the number of points held.
func (r *Ring) Len() int { return r.n }

// Push appends p, dropping the oldest point when the ring is full.
func (r *Ring) Push(p Point) {
	if r.n < len(r.pts) {
		r.pts[(r.start+r.n)%len(r.pts)] = p
		r.n++
		return
	}
	r.pts[r.start] = p
	r.start = (r.start + 1) % len(r.pts)
}

// At returns the i-th point, oldest first.
func (r *Ring) At(i int) Point { return r.pts[(r.start+i)%len(r.pts)] }

// Last returns the newest point.
func (r *Ring) Last() (Point, bool) {
	if r.n == 0 {
		return Point{}, false
	}
	return r.At(r.n - 1), true
}

// Since appends to dst the points at or after t, oldest first, and returns it.
func (r *Ring) Since(dst []Point, t time.Time) []Point {
	// Points are in time order: find the first one in the window.
	lo, hi := 0, r.n
	for lo < hi {
		mid := (lo + hi) / 2
		if r.At(mid).At.Before(t) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for i := lo; i < r.n; i++ {
		dst = append(dst, r.At(i))
	}
	return dst
}

// MinMax returns the smallest and largest values of pts; ok is false when
// pts is empty.
func MinMax(pts []Point) (lo, hi float64, ok bool) {
	if len(pts) == 0 {
		return 0, 0, false
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
	}
	return lo, hi, true
}
