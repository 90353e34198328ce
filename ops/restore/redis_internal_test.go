package restore

import (
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
)

func TestRDBVersionOfRelease(t *testing.T) {
	for v, want := range map[string]int{
		"2.4.18": 0, "2.8.24": 6, "3.2.12": 7, "4.0.14": 8, "5.0.7": 9, "6.2.14": 9,
		"7.0.15": 10, "7.2.4": 11, "7.4.1": 12, "8.0.2": 12, "": 0, "x.y": 0,
	} {
		if got := rdbVersionOfRelease(v); got != want {
			t.Errorf("%q: %d, want %d", v, got, want)
		}
	}
}

func TestReplayResultExpiredSince(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	res := newReplayResult(start)
	at := func(d time.Duration) int64 { return start.Add(d).UnixMilli() }
	for _, e := range []backup.RDBEntry{
		{DB: 0, ExpireAt: at(10 * time.Second)},
		{DB: 0, ExpireAt: at(20 * time.Second)},
		{DB: 0, ExpireAt: at(2 * time.Hour)}, // beyond the horizon: counted only
		{DB: 0},
		{DB: 1, ExpireAt: at(5 * time.Second)},
	} {
		res.add(e)
	}
	for _, tt := range []struct {
		db   int
		now  time.Duration
		want int64
	}{
		{0, 0, 0}, {0, 10 * time.Second, 1}, {0, 30 * time.Second, 2}, {1, 30 * time.Second, 1},
		{0, expiryHorizon, 3}, // past the horizon every key with a TTL may be gone
		{2, 30 * time.Second, 0},
	} {
		if got := res.expiredSince(tt.db, start.Add(tt.now)); got != tt.want {
			t.Errorf("db %d at +%v: %d, want %d", tt.db, tt.now, got, tt.want)
		}
	}
	if res.restored[0] != 4 || res.withTTL[0] != 3 {
		t.Errorf("counts: %v %v", res.restored, res.withTTL)
	}
}
