package wal

import (
	"context"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// The streamer stores the database's relation map once it streams, again
// when a relation's file changes (a new table, a TRUNCATE), and not for
// rows alone.
func TestStreamerStoresRelationMaps(t *testing.T) {
	c := startCluster(t, nil)
	s := New(c.e)
	s.MinBackoff, s.MaxBackoff = 100*time.Millisecond, 500*time.Millisecond
	s.RelMapInterval = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(accesstest.Admin(context.Background()))
	r := &running{s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })

	c.exec(t, "CREATE TABLE tracked (id int PRIMARY KEY)")
	first := waitMap(t, c, func(m *pgwal.RelMap) bool { _, ok := relation(m, "public.tracked"); return ok })
	maps := len(relMaps(t, c))
	c.exec(t, "INSERT INTO tracked SELECT generate_series(1, 1000)")
	time.Sleep(time.Second)
	if n := len(relMaps(t, c)); n != maps {
		t.Errorf("%d maps after an INSERT, %d before: rows alone make no map", n, maps)
	}
	before, _ := relation(first, "public.tracked")
	c.exec(t, "TRUNCATE tracked")
	waitMap(t, c, func(m *pgwal.RelMap) bool {
		e, ok := relation(m, "public.tracked")
		return ok && e.File != before.File && e.OID == before.OID
	})
}

func relMaps(t *testing.T, c *cluster) []*pgwal.RelMap {
	t.Helper()
	a := c.archive(t)
	cat, err := a.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*pgwal.RelMap
	for _, o := range cat.RelMaps {
		m, err := a.ReadRelMap(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// waitMap waits for a stored map that ok accepts.
func waitMap(t *testing.T, c *cluster, ok func(*pgwal.RelMap) bool) *pgwal.RelMap {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if sys, _ := c.e.Store.ListObjects(context.Background(), "wal/"); len(sys) > 0 {
			for _, m := range relMaps(t, c) {
				if ok(m) {
					if m.Database != "stockdb" || m.LSN == 0 || len(m.Relations) < 50 {
						t.Errorf("map of %s at %s with %d relations", m.Database, m.LSN, len(m.Relations))
					}
					return m
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no such relation map stored within 20s")
	return nil
}

func relation(m *pgwal.RelMap, name string) (pgwal.RelEntry, bool) {
	for _, e := range m.Relations {
		if e.Name == name {
			return e, true
		}
	}
	return pgwal.RelEntry{}, false
}
