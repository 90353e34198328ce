package wal

import (
	"testing"
	"time"
)

func TestLagClock(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &lagClock{start: t0}
	// Connecting, nothing durable: the time since the start.
	if got := c.lag(State{Phase: Connecting}, t0.Add(3*time.Second)); got != 3 {
		t.Errorf("connecting: %v", got)
	}
	// Caught up: 0.
	if got := c.lag(State{Phase: Streaming, Durable: 100, ServerEnd: 100, LastDurable: t0.Add(4 * time.Second)}, t0.Add(5*time.Second)); got != 0 {
		t.Errorf("caught up: %v", got)
	}
	// A write after an idle hour: behind since the last look, not the hour.
	if got := c.lag(State{Phase: Streaming, Durable: 100, ServerEnd: 200, LastDurable: t0.Add(4 * time.Second)}, t0.Add(7*time.Second)); got != 2 {
		t.Errorf("just behind: %v", got)
	}
	// Under load: the durable end moves every flush.
	if got := c.lag(State{Phase: Streaming, Durable: 300, ServerEnd: 400, LastDurable: t0.Add(9 * time.Second)}, t0.Add(10*time.Second)); got != 1 {
		t.Errorf("under load: %v", got)
	}
	// The store stopped taking writes: the lag grows.
	if got := c.lag(State{Phase: Waiting, Durable: 300, ServerEnd: 900, LastDurable: t0.Add(9 * time.Second)}, t0.Add(70*time.Second)); got != 61 {
		t.Errorf("store down: %v", got)
	}
}
