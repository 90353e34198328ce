package restore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/fingerprint"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// prove recomputes every table's fingerprint from the restored copy, each
// table by a COPY TO STDOUT under the dump's session settings
// (restore.jobs at once), and compares it with the set's; a set taken
// before the fingerprints is proven by its row counts, and says so.
func (dd *drillDB) prove(ctx context.Context) error {
	en, d := dd.en, dd.d
	pg := d.comp.Postgres
	res := en.drillPart(Database)
	res.Tables = len(pg.Tables)
	if pg.Session == nil {
		res.Proof = ProofCounts
		en.note("set %s was taken before opsdeck recorded fingerprints: proven by row counts only", en.plan.SetID)
		if err := d.verify(ctx); err != nil {
			return err
		}
		for _, t := range pg.Tables {
			res.Rows += t.Rows
		}
		return nil
	}
	res.Proof = ProofFingerprints
	pool, err := d.connect(ctx, d.scratch)
	if err != nil {
		return err
	}
	defer pool.Close()
	tables := pg.Tables
	type result struct {
		fp  fingerprint.Table
		err error
	}
	results := make([]result, len(tables))
	next := make(chan int)
	var wg sync.WaitGroup
	var setupErr error
	var mu sync.Mutex
	for range max(1, min(en.cfg().Restore.Jobs, len(tables))) {
		wg.Go(func() {
			c, err := pool.Acquire(ctx)
			if err == nil {
				err = postgres.SetDumpSession(ctx, c.Conn(), *pg.Session)
				defer c.Release()
			}
			for i := range next {
				if err != nil {
					results[i].err = err
					mu.Lock()
					setupErr = err
					mu.Unlock()
					continue
				}
				t := tables[i]
				if _, cerr := postgres.CopyOutTable(ctx, c.Conn(), t.Schema, t.Name, &results[i].fp); cerr != nil {
					results[i].err = cerr
				} else {
					results[i].err = results[i].fp.Close()
				}
			}
		})
	}
	for i := range tables {
		next <- i
		en.advance(int64(i+1), int64(len(tables)), false)
	}
	close(next)
	wg.Wait()
	if setupErr != nil {
		return fmt.Errorf("set the dump's session on %s: %s", d.server, d.redact(setupErr.Error()))
	}
	var bad []string
	for i, r := range results {
		t := tables[i]
		name := t.Schema + "." + t.Name
		switch {
		case r.err != nil:
			bad = append(bad, fmt.Sprintf("%s: %s", name, d.redact(r.err.Error())))
			res.Differ = append(res.Differ, name)
		case r.fp.Rows() != t.Rows:
			bad = append(bad, fmt.Sprintf("%s has %d rows, the set %d", name, r.fp.Rows(), t.Rows))
			res.Differ = append(res.Differ, name)
		case t.Fingerprint != "" && r.fp.Sum() != t.Fingerprint:
			bad = append(bad, fmt.Sprintf("%s: the rows differ from the set's (same count, %d; fingerprint %s, the set's %s)", name, t.Rows, r.fp.Sum(), t.Fingerprint))
			res.Differ = append(res.Differ, name)
		default:
			res.Rows += r.fp.Rows()
		}
	}
	if len(bad) > 0 {
		res.Differ = sortedDiffer(res.Differ)
		return fmt.Errorf("the restored data does not match the set: %s", strings.Join(bad, "; "))
	}
	en.note("%d tables, %d rows: every table's fingerprint equals the set's", len(tables), res.Rows)
	return nil
}

// drillComponents is what a drill of kind restores.
func drillComponents(kind string) []string {
	if kind == Database {
		return []string{backup.Database}
	}
	c, _ := componentsOf(kind)
	return c
}
