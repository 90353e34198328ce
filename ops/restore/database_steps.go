package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// restoreSteps restore the dump into the scratch database and verify it
// there, while production goes on serving.
func (d *dbRestore) restoreSteps() []*Step {
	if d.pit != nil {
		return d.pit.steps(d)
	}
	return []*Step{{
		Name: "database.restore", Component: backup.Database,
		Title: fmt.Sprintf("Restore the dump into the scratch database %s (pg_restore --jobs %d)", d.scratch, d.en.cfg().Restore.Jobs),
		Undo:  "Drop the scratch database " + d.scratch,
		do:    d.restore,
		undo:  d.dropScratch,
	}, {
		Name: "database.verify", Component: backup.Database,
		Title: fmt.Sprintf("Count the rows of every table in %s against the set's manifest", d.scratch),
		do:    d.verify,
	}}
}

// swapStep puts the scratch database in production's place.
func (d *dbRestore) swapStep() *Step {
	return &Step{
		Name: "database.swap", Component: backup.Database,
		Title: fmt.Sprintf("Swap: end the sessions on %s, rename it to %s_pre_<time>, rename %s to %s", d.target, d.target, d.scratch, d.target),
		Undo:  fmt.Sprintf("Rename them back: %s to %s, %s_pre_<time> to %s", d.target, d.scratch, d.target, d.target),
		pre: func(ctx context.Context) error {
			return d.withAdmin(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
				if ok, err := postgres.DatabaseExists(ctx, pool, d.scratch); err != nil || !ok {
					return fmt.Errorf("the scratch database %s is missing (%v)", d.scratch, err)
				}
				return nil
			})
		},
		do:     d.swap,
		verify: d.verifySwap,
		undo:   d.unswap,
	}
}

// restore decompresses the dump into the work directory (pg_restore
// --jobs needs a file it can seek), makes the scratch database and runs
// pg_restore into it.
func (d *dbRestore) restore(ctx context.Context) error {
	// The scratch database (and a drill's instance) is made while the dump
	// is staged.
	var created error
	var wg sync.WaitGroup
	wg.Go(func() {
		if d.prepareTarget != nil {
			if created = d.prepareTarget(ctx); created != nil {
				return
			}
		}
		created = d.createScratch(ctx)
	})
	staged := d.stage(ctx)
	wg.Wait()
	defer d.removeDump()
	if staged != nil {
		return staged
	}
	if created != nil {
		return created
	}
	if d.beforeRestore != nil {
		if err := d.beforeRestore(ctx); err != nil {
			return err
		}
	}
	return d.pgRestore(ctx)
}

// createScratch makes the scratch database like the target: encoding,
// collation and, when the role may, owner.
func (d *dbRestore) createScratch(ctx context.Context) error {
	en := d.en
	return d.withAdmin(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		if left, _ := postgres.DatabaseExists(ctx, pool, d.scratch); left {
			en.note("dropping %s left by an interrupted restore", d.scratch)
			if err := dropDatabase(ctx, pool, d.scratch); err != nil {
				return err
			}
		}
		opts := postgres.CreateOptions{Template: "template0", Encoding: d.encoding, Collate: d.collate, CType: d.ctype}
		if d.superuser || d.ownerMember {
			opts.Owner = d.owner
		}
		if err := postgres.CreateDatabase(ctx, pool, d.scratch, opts); err != nil {
			return fmt.Errorf("create %s: %s", d.scratch, d.redact(err.Error()))
		}
		oid, err := postgres.DatabaseOID(ctx, pool, d.scratch)
		if err != nil {
			return fmt.Errorf("read %s: %w", d.scratch, err)
		}
		d.newOID = oid
		en.persist()
		en.note("created %s", d.scratch)
		return nil
	})
}

// stage writes the decompressed, checked dump to the work directory.
func (d *dbRestore) stage(ctx context.Context) error {
	en := d.en
	dir := en.cfg().Restore.WorkDirIn(en.cfg().StateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("work directory: %w — set restore.work_dir to a writable directory", err)
	}
	d.dumpPath = stagedPath(en.cfg(), en.plan.SetID)
	if d.stagePath != "" {
		d.dumpPath = d.stagePath
	}
	f, err := os.OpenFile(d.dumpPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	rc, err := backup.OpenFile(ctx, en.eng.Backup.Store, en.plan.SetID, d.file, en.ids)
	if err != nil {
		f.Close()
		return fmt.Errorf("open the dump: %w", err)
	}
	defer rc.Close()
	start := time.Now()
	// The chunks pg_dump wrote one per row are merged on the way: pg_restore
	// then sends one message per 256 KiB instead of one per row.
	n, err := backup.CoalesceArchive(f, &countingReader{r: rc, tick: func(n int64) { en.advance(n, d.file.RawSize, true) }}, 256<<10)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.removeDump()
		if errors.Is(err, backup.ErrChecksum) {
			return fmt.Errorf("the dump does not match its checksum — the set is damaged, pick another one: %w", err)
		}
		return fmt.Errorf("decompress the dump to %s: %w", dir, err)
	}
	en.note("dump decompressed and checked: %s in %v", progress.Bytes(n), time.Since(start).Round(time.Millisecond))
	return nil
}

// removeDump deletes the staged dump in the background (a large file
// takes a while to free); the run waits for it before it ends.
func (d *dbRestore) removeDump() {
	if path := d.dumpPath; path != "" {
		d.dumpPath = ""
		d.en.bg.Go(func() { _ = os.Remove(path) })
	}
}

// countingReader reports bytes read, at most every 64 KiB step.
type countingReader struct {
	r    io.Reader
	n    int64
	last int64
	tick func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n-c.last >= 4<<20 || err != nil {
		c.last = c.n
		c.tick(c.n)
	}
	return n, err
}

// itemRE finds the items pg_restore --verbose reports done: "processing
// item" in its serial phases, "finished item" in the parallel one.
var itemRE = regexp.MustCompile(`^pg_restore: (?:finished|processing) item \d+`)

// pgRestore runs pg_restore into the scratch database, passing its log on.
func (d *dbRestore) pgRestore(ctx context.Context) error {
	en := d.en
	bin := backup.PgBin(en.cfg().Backup.PgBinDir, "pg_restore")
	scratchDSN, err := withDatabase(d.dsn, d.scratch)
	if err != nil {
		return err
	}
	dsn, password := backup.ClientConnection(scratchDSN)
	args := []string{"--dbname=" + dsn, fmt.Sprintf("--jobs=%d", en.cfg().Restore.Jobs), "--exit-on-error", "--verbose", "--no-password"}
	args = append(args, d.ownershipArgs()...)
	args = append(args, d.dumpPath)
	items := d.countItems(ctx, bin)
	var done int64
	var mu sync.Mutex
	start := time.Now()
	err = en.eng.runner().Run(ctx, runner.Cmd{
		Path: bin, Args: args, Env: backup.PgEnv(password), Secrets: []string{password}, StderrLines: 12,
		OnStderr: func(line string) {
			mu.Lock()
			defer mu.Unlock()
			en.log(d.redact(line))
			if itemRE.MatchString(line) && (items == 0 || done < items) {
				done++
				en.advance(done, items, false)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("pg_restore failed (production was not touched): %s", d.redact(withoutRowData(err).Error()))
	}
	if herr := en.eng.hook("pg_restore"); herr != nil {
		return herr
	}
	en.note("pg_restore finished without error in %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// ownershipArgs are pg_restore's arguments for the objects' owners: as
// dumped for a superuser, the target's owner's for a member of it (the
// objects are its, the grants apply), else the connecting role's without
// the dumped grants.
func (d *dbRestore) ownershipArgs() []string {
	switch {
	case d.superuser:
		return nil
	case d.ownerMember:
		return []string{"--no-owner", "--role=" + d.owner}
	}
	return []string{"--no-owner", "--no-privileges"}
}

// countItems counts the dump's table of contents for the progress bar (0
// when it cannot be read: the bar then has no total).
func (d *dbRestore) countItems(ctx context.Context, bin string) int64 {
	out, err := runner.Output(ctx, d.en.eng.runner(), runner.Cmd{Path: bin, Args: []string{"--list", d.dumpPath}})
	if err != nil {
		return 0
	}
	var n int64
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, ";") {
			n++
		}
	}
	return n
}

// withoutRowData drops pg_restore's CONTEXT lines from its error: they
// quote the COPY line that failed, which is the table's data, and the
// error goes into the report and the audit log.
func withoutRowData(err error) error {
	var rerr *runner.Error
	if !errors.As(err, &rerr) {
		return err
	}
	c := *rerr
	c.Stderr = slices.DeleteFunc(slices.Clone(c.Stderr), func(l string) bool {
		return strings.Contains(l, "CONTEXT:") || strings.Contains(l, "COPY ") && strings.Contains(l, ", line ")
	})
	return &c
}

// dropScratch drops the scratch database, ending its sessions.
func (d *dbRestore) dropScratch(ctx context.Context) error {
	d.removeDump()
	return d.withAdmin(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		if ok, err := postgres.DatabaseExists(ctx, pool, d.scratch); err != nil || !ok {
			return err
		}
		if err := dropDatabase(ctx, pool, d.scratch); err != nil {
			return err
		}
		d.en.note("dropped %s", d.scratch)
		return nil
	})
}

// verify counts the rows of every dumped table in the scratch database.
func (d *dbRestore) verify(ctx context.Context) error {
	pool, err := d.connect(ctx, d.scratch)
	if err != nil {
		return err
	}
	defer pool.Close()
	tables := d.comp.Postgres.Tables
	type result struct {
		t   backup.TableCount
		got int64
		err error
	}
	results := make([]result, len(tables))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, min(d.en.cfg().Restore.Jobs, len(tables))) {
		wg.Go(func() {
			for i := range next {
				t := tables[i]
				results[i] = result{t: t}
				results[i].got, results[i].err = postgres.CountRows(ctx, pool, t.Schema, t.Name)
			}
		})
	}
	for i := range tables {
		next <- i
		d.en.advance(int64(i+1), int64(len(tables)), false)
	}
	close(next)
	wg.Wait()
	var bad []string
	var rows int64
	for _, r := range results {
		switch {
		case r.err != nil:
			bad = append(bad, fmt.Sprintf("%s.%s: %s", r.t.Schema, r.t.Name, d.redact(r.err.Error())))
		case r.got != r.t.Rows:
			bad = append(bad, fmt.Sprintf("%s.%s has %d rows, the manifest %d", r.t.Schema, r.t.Name, r.got, r.t.Rows))
		default:
			rows += r.got
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the restored data does not match the manifest: %s", strings.Join(bad, "; "))
	}
	d.en.note("%d tables, %d rows: every count equals the manifest's", len(tables), rows)
	return nil
}

// withAdmin runs fn with a pool on the maintenance database, bounded by
// ddlTimeout.
func (d *dbRestore) withAdmin(ctx context.Context, fn func(context.Context, *pgxpool.Pool) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.ddlTimeout())
	defer cancel()
	pool, err := d.connect(ctx, "")
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(ctx, pool)
}

// ddlTimeout bounds each catalog statement and session wait of the swap,
// its undo and the scratch database's creation and drop: a server that
// stops answering must not hold the writers down for ever.
func (d *dbRestore) ddlTimeout() time.Duration {
	return max(30*time.Second, 6*d.en.cfg().Timeouts.Check)
}

// swap ends the sessions of the target and of the scratch database and
// renames both in one transaction: either both renames happen or neither.
func (d *dbRestore) swap(ctx context.Context) error {
	en := d.en
	return d.withAdmin(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		d.pre = d.target + "_pre_" + backup.NewID(en.eng.now())
		if !d.exists {
			if err := d.move(ctx, pool, []postgres.Rename{{From: d.scratch, To: d.target}}); err != nil {
				return err
			}
			en.note("%s is now %s", d.scratch, d.target)
			return nil
		}
		oid, err := postgres.DatabaseOID(ctx, pool, d.target)
		if err != nil {
			return fmt.Errorf("read %s: %s", d.target, d.redact(err.Error()))
		}
		d.oldOID = oid
		en.persist() // a kill from here on is recovered by OID
		if err := d.move(ctx, pool, []postgres.Rename{{From: d.target, To: d.pre}, {From: d.scratch, To: d.target}}); err != nil {
			return err
		}
		en.note("%s is now %s; the old database is kept as %s", d.scratch, d.target, d.pre)
		return nil
	})
}

// move renames databases in one transaction. The databases renamed stop
// taking new sessions, their sessions are ended (a session that comes
// straight back fails the rename: up to five tries), and afterwards every
// database involved takes sessions again.
func (d *dbRestore) move(ctx context.Context, pool *pgxpool.Pool, renames []postgres.Rename) error {
	en := d.en
	allow := func(db string, on bool) error {
		if err := postgres.SetAllowConnections(ctx, pool, db, on); err != nil {
			return fmt.Errorf("set ALLOW_CONNECTIONS %t on %s: %s", on, db, d.redact(err.Error()))
		}
		return nil
	}
	var moved []string
	defer func() {
		// Whatever happened, the databases take sessions again under the
		// names they have now.
		for _, db := range moved {
			if err := allow(db, true); err != nil {
				en.warn("%v", err)
			}
		}
	}()
	for _, r := range renames {
		if err := allow(r.From, false); err != nil {
			return err
		}
		moved = append(moved, r.From)
	}
	var lastErr error
	for attempt := range 5 {
		for _, r := range renames {
			ended, err := postgres.TerminateSessions(ctx, pool, r.From)
			if err != nil {
				return err
			}
			if ended > 0 {
				en.note("ended %d session(s) on %s", ended, r.From)
			}
		}
		lastErr = postgres.RenameDatabases(ctx, pool, renames, func() error { return en.eng.hook("swap") })
		if lastErr == nil {
			moved = moved[:0]
			for _, r := range renames {
				moved = append(moved, r.To)
			}
			return nil
		}
		if !strings.Contains(lastErr.Error(), "being accessed by other users") || attempt == 4 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return lastErr
}

// verifySwap checks, by OID, that the restored database carries the name.
func (d *dbRestore) verifySwap(ctx context.Context) error {
	return d.withAdmin(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		oid, err := postgres.DatabaseOID(ctx, pool, d.target)
		if err != nil {
			return fmt.Errorf("read %s: %s", d.target, d.redact(err.Error()))
		}
		if oid != d.newOID {
			return fmt.Errorf("%s is not the restored database (oid %d, want %d)", d.target, oid, d.newOID)
		}
		return nil
	})
}

// unswap puts the original database back under its name, whatever state
// the swap stopped in: the databases are found by OID and renamed back
// the way the swap renamed them, in one transaction.
func (d *dbRestore) unswap(ctx context.Context) error {
	return d.withAdmin(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		nameOf := func(oid uint32) string {
			if oid == 0 {
				return ""
			}
			n, _ := postgres.DatabaseName(ctx, pool, oid)
			return n
		}
		restored, original := nameOf(d.newOID), nameOf(d.oldOID)
		if d.oldOID != 0 && original == "" {
			return fmt.Errorf("the original database (oid %d) is gone", d.oldOID)
		}
		var renames []postgres.Rename
		if restored == d.target {
			renames = append(renames, postgres.Rename{From: restored, To: d.scratch})
		}
		if original != "" && original != d.target {
			renames = append(renames, postgres.Rename{From: original, To: d.target})
		}
		if len(renames) > 0 {
			if err := d.move(ctx, pool, renames); err != nil {
				return err
			}
		}
		if original != "" {
			// A swap stopped half-way may have left it closed to sessions.
			if err := postgres.SetAllowConnections(ctx, pool, d.target, true); err != nil {
				return fmt.Errorf("allow connections to %s again: %s", d.target, d.redact(err.Error()))
			}
			d.en.note("%s is the original database again", d.target)
		}
		return nil
	})
}

// dropDatabase ends db's sessions and drops it (postgres.DropDatabase,
// which explains a refusal).
func dropDatabase(ctx context.Context, pool *pgxpool.Pool, db string) error {
	if _, err := postgres.TerminateSessions(ctx, pool, db); err != nil {
		return err
	}
	return postgres.DropDatabase(ctx, pool, db)
}
