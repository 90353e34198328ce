package restore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/proc"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// A point-in-time restore's source is a private instance (ops/pitr)
// recovered from a base backup and the WAL to the target. The database is
// copied from it into the scratch database with no dump file: the schema
// through pg_dump --schema-only and pg_restore (objects before the data,
// then indexes and constraints after it, in parallel), every table by a
// binary COPY stream of its own (restore.jobs at once), the sequences'
// positions and any large objects. The copy is then held against the
// instance, table by table, and the instance removed; the swap and the
// rest are the dump restore's.

// pitSource is the recovered instance and what the copy learnt of it.
type pitSource struct {
	plan *pitr.Plan
	// database is the one copied (postgres.dsn's), user the role the
	// instance is used as.
	database, user string
	rec            *pitr.Recovered
	// dir and pid are the instance's, for the journal (a kill -9 leaves
	// them to `restore recover`).
	dir string
	pid int
	// unpacked, when set, checks the unpacked base backup before the
	// instance starts on it (a drill's pg_verifybackup).
	unpacked func(context.Context, string) error
	// schema is pg_dump --schema-only's archive of the database.
	schema string
	tables []copyTable
	// sums are each table's, on both sides, taken as its copy ends.
	sums []sumPair
}

// sumPair is a table's sum on the instance and in the copy.
type sumPair struct {
	src, dst tableSum
	err      error
}

// copyTable is one table copied.
type copyTable struct {
	name  string // quoted schema.table
	raw   string // schema.table as the catalog spells it, unquoted
	bytes int64  // its size on disk, for the progress
	// standalone: not a partition (its indexes hang on its parent's).
	standalone bool
	// cols are its stored columns, quoted, in order; binary says whether
	// they all copy in binary.
	cols   string
	binary bool
}

// preflight checks what the recovery and the copy need on the bastion.
func (s *pitSource) preflight(ctx context.Context, d *dbRestore, serverNum int, chk func(string, health.Status, string, ...any)) {
	p := s.plan
	const layout = "2006-01-02 15:04:05 -07:00"
	chk("recovery", health.OK, "base backup %s (ended %s), then %s of WAL to %s: recover to %s",
		p.Set.ID, p.Base.At.Local().Format(layout), progress.Bytes(p.WALBytes), p.Until, p.Target)
	if major := backup.ServerMajor(serverNum); major < p.Major {
		chk("server version", health.Warn, "the base backup is of PostgreSQL %d, this server is %d: objects of the newer version may not copy", p.Major, major)
	}
	bin, err := pitr.ServerBinDir(d.en.cfg().Backup.PgBinDir, p.Major)
	if err != nil {
		chk("server binaries", health.Crit, "%v", err)
		return
	}
	chk("server binaries", health.OK, "PostgreSQL %d's server in %s", p.Major, bin)
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			chk(tool, health.Crit, "%s has no %s: install the postgresql-client-%d package", bin, tool, p.Major)
		}
	}
	checkWorkDir(d.en, chk)
}

// checkWorkDir checks that restore.work_dir can be made and that the
// server's user reaches it: a private or temporary instance lives there.
func checkWorkDir(en *env, chk func(string, health.Status, string, ...any)) {
	work := en.cfg().Restore.WorkDirIn(en.cfg().StateDir)
	if acct, err := proc.ServiceAccount("postgres"); err != nil {
		chk("work directory", health.Crit, "%v", err)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		chk("work directory", health.Crit, "restore.work_dir %s: %v", work, err)
	} else if err := acct.CheckReachable(work); err != nil {
		chk("work directory", health.Crit, "%v — set restore.work_dir to a directory the %s user can reach (e.g. /var/lib/opsdeck/restore)", err, acct.Name)
	} else {
		chk("work directory", health.OK, "%s", work)
	}
}

// steps recover the instance, copy the database from it and verify the
// copy.
func (s *pitSource) steps(d *dbRestore) []*Step {
	jobs := d.en.cfg().Restore.Jobs
	return []*Step{s.recoverStep(d), {
		Name: "database.restore", Component: backup.Database,
		Title: fmt.Sprintf("Copy %s from the recovered instance into the scratch database %s (schema by pg_dump, data by %d parallel COPY streams)", s.database, d.scratch, jobs),
		Undo:  "Drop the scratch database " + d.scratch,
		do:    func(ctx context.Context) error { return s.copy(ctx, d) },
		undo:  d.dropScratch,
	}, {
		Name: "database.verify", Component: backup.Database,
		Title: fmt.Sprintf("Compare the rows and a checksum of every table of %s with the recovered instance, then remove the instance", d.scratch),
		do:    func(ctx context.Context) error { return s.verify(ctx, d) },
	}}
}

// recoverStep recovers the private instance.
func (s *pitSource) recoverStep(d *dbRestore) *Step {
	return &Step{
		Name: "database.recover", Component: backup.Database,
		Title: fmt.Sprintf("Recover base backup %s and the WAL to %s in a private PostgreSQL instance on this machine", s.plan.Set.ID, s.plan.Target),
		Undo:  "Stop the private instance and remove its directory",
		do:    func(ctx context.Context) error { return s.recover(ctx, d) },
		undo:  func(context.Context) error { return s.remove(d) },
	}
}

// recover runs ops/pitr's recovery, journaling the instance.
func (s *pitSource) recover(ctx context.Context, d *dbRestore) error {
	en := d.en
	cfg := en.cfg()
	hooked := false
	rec, err := pitr.Recover(ctx, en.eng.Backup, s.plan, pitr.Options{
		WorkDir: cfg.Restore.WorkDirIn(cfg.StateDir), BinDir: cfg.Backup.PgBinDir,
		Superuser: s.user, IDs: en.ids, Unpacked: s.unpacked,
		Hooks: pgtemp.Hooks{
			Dir:     func(dir string) error { s.dir = dir; en.persist(); return nil },
			Started: func(pid int) { s.pid = pid; en.persist() },
			Removed: func(string) { s.dir, s.pid = "", 0; en.persist() },
		},
		Progress: func(e progress.Event) {
			if e.Kind != progress.Advance {
				return
			}
			if e.Step == pitr.StepUnpack && !hooked {
				hooked = true
				_ = en.eng.hook("recovering") // tests: a kill while the base backup is unpacked
			}
			en.emit(progress.Event{Kind: progress.Advance, Op: OpRestore, Step: en.cur, Done: e.Done, Total: e.Total, Bytes: e.Bytes, Message: e.Step}, "")
		},
	})
	if err != nil {
		return err
	}
	s.rec = rec
	en.note("recovered to %s in %v: replay ended at %s", s.plan.Target, rec.Took.Round(time.Millisecond), rec.Reached)
	return nil
}

// remove stops the instance and removes its directory; after a kill it
// works from the journal's directory and pid.
func (s *pitSource) remove(d *dbRestore) error {
	if s.rec != nil {
		err := s.rec.Remove()
		s.rec = nil
		return err
	}
	if s.pid > 0 && s.dir != "" {
		// It dies with its parent; a leftover is killed — only when the
		// pid is still a server in the instance's data directory.
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", s.pid)); err == nil && strings.HasPrefix(cwd, s.dir+string(os.PathSeparator)) {
			_ = syscall.Kill(s.pid, syscall.SIGKILL)
		}
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			return fmt.Errorf("remove the private instance's directory %s: %w", s.dir, err)
		}
		d.en.note("removed the private instance's directory %s", s.dir)
	}
	s.dir, s.pid = "", 0
	d.en.persist()
	return nil
}

// copy makes the scratch database and fills it from the instance.
func (s *pitSource) copy(ctx context.Context, d *dbRestore) error {
	if s.rec == nil {
		return errors.New("the recovered instance is gone")
	}
	en := d.en
	var created error
	var wg sync.WaitGroup
	wg.Go(func() { created = d.createScratch(ctx) })
	dumped := s.dumpSchema(ctx, d)
	wg.Wait()
	if dumped != nil {
		return dumped
	}
	if created != nil {
		return created
	}
	start := time.Now()
	if err := s.pgRestore(ctx, d, "pre-data", 1); err != nil {
		return err
	}
	if err := s.listTables(ctx); err != nil {
		return err
	}
	pd, err := s.planPostData(ctx, d)
	if err != nil {
		return err
	}
	rows, bytes, err := s.copyData(ctx, d, func(ctx context.Context, i int) error { return s.restoreEarly(ctx, d, pd, i) })
	if err != nil {
		return err
	}
	if err := s.copySequences(ctx, d); err != nil {
		return err
	}
	if err := s.copyLargeObjects(ctx, d); err != nil {
		return err
	}
	if err := s.restoreRest(ctx, d, pd, en.cfg().Restore.Jobs); err != nil {
		return err
	}
	en.note("copied %d tables (%d rows, %s) with their schema, sequences and indexes in %v", len(s.tables), rows, progress.Bytes(bytes), time.Since(start).Round(time.Millisecond))
	return nil
}

// instanceArgs are a tool's connection to the instance's database,
// through its socket.
func (s *pitSource) instanceArgs() []string {
	return []string{"--host=" + s.rec.Dir, fmt.Sprintf("--port=%d", s.rec.Port), "--username=" + s.rec.Superuser, "--no-password"}
}

// dumpSchema writes the database's schema (pg_dump --schema-only, custom
// format) into the instance's directory.
func (s *pitSource) dumpSchema(ctx context.Context, d *dbRestore) error {
	s.schema = filepath.Join(s.rec.Dir, "schema.dump")
	args := append(s.instanceArgs(), "--schema-only", "--format=custom", "--file="+s.schema, "--dbname="+s.database)
	err := d.en.eng.runner().Run(ctx, runner.Cmd{Path: filepath.Join(s.rec.BinDir, "pg_dump"), Args: args, StderrLines: 12})
	if err != nil {
		return fmt.Errorf("read the schema from the recovered instance (production was not touched): %w", err)
	}
	return nil
}

// pgRestore restores one section ("" all) of s.schema's archive into the
// scratch database.
func (s *pitSource) pgRestore(ctx context.Context, d *dbRestore, section string, jobs int, extra ...string) error {
	scratchDSN, err := withDatabase(d.dsn, d.scratch)
	if err != nil {
		return err
	}
	dsn, password := backup.ClientConnection(scratchDSN)
	args := []string{"--dbname=" + dsn, fmt.Sprintf("--jobs=%d", max(1, jobs)), "--exit-on-error", "--no-password"}
	if section != "" {
		args = append(args, "--section="+section)
	}
	args = append(args, d.ownershipArgs()...)
	args = append(append(args, extra...), s.schema)
	err = d.en.eng.runner().Run(ctx, runner.Cmd{
		Path: filepath.Join(s.rec.BinDir, "pg_restore"), Args: args, Env: backup.PgEnv(password), Secrets: []string{password}, StderrLines: 12,
		OnStderr: func(line string) { d.en.log(d.redact(line)) },
	})
	if err != nil {
		return fmt.Errorf("restore %s %s into %s (production was not touched): %s", filepath.Base(s.schema), section, d.scratch, d.redact(withoutRowData(err).Error()))
	}
	return nil
}

// listTables reads the database's tables (permanent, not an extension's),
// largest first.
func (s *pitSource) listTables(ctx context.Context) error {
	conn, err := s.rec.Connect(ctx, s.database)
	if err != nil {
		return fmt.Errorf("connect to the recovered instance: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Columns are named (pg_dump may rebuild an inheritance child or a
	// partition with another column order); binary only when every
	// column is of a built-in type that is not an OID alias: a binary
	// array or composite names its element types' OIDs, which differ in
	// the scratch database.
	rows, err := conn.Query(ctx, `
		SELECT format('%I.%I', n.nspname, c.relname), n.nspname || '.' || c.relname, NOT c.relispartition, pg_total_relation_size(c.oid),
		       array_agg(quote_ident(a.attname) ORDER BY a.attnum),
		       bool_and(t.oid < 16384 AND t.typname !~ '^_?reg' AND t.typtype = 'b' AND (t.typelem = 0 OR t.typelem < 16384))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		JOIN pg_type t ON t.oid = a.atttypid
		WHERE c.relkind = 'r' AND c.relpersistence = 'p'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
		GROUP BY c.oid, n.nspname, c.relname, c.relispartition
		ORDER BY 4 DESC, 1`)
	if err != nil {
		return fmt.Errorf("list the recovered tables: %w", err)
	}
	s.tables = s.tables[:0]
	for rows.Next() {
		var t copyTable
		var cols []string
		if err := rows.Scan(&t.name, &t.raw, &t.standalone, &t.bytes, &cols, &t.binary); err != nil {
			return err
		}
		t.cols = strings.Join(cols, ", ")
		s.tables = append(s.tables, t)
	}
	return rows.Err()
}

// copySQL is table t's COPY out of the instance (and out of the copy, to
// read it back) and into the copy.
func (t copyTable) copySQL() (out, in string) {
	format := "text"
	if t.binary {
		format = "binary"
	}
	return fmt.Sprintf("COPY %s (%s) TO STDOUT (FORMAT %s)", t.name, t.cols, format),
		fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT %s)", t.name, t.cols, format)
}

// copyData copies every table through its own binary COPY stream,
// restore.jobs at once, and hands each table copied to built (its
// indexes), as many at once, beside the copies. It returns the rows and
// bytes copied.
func (s *pitSource) copyData(ctx context.Context, d *dbRestore, built func(context.Context, int) error) (int64, int64, error) {
	en := d.en
	pool, err := d.connect(ctx, d.scratch)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	var total int64
	for _, t := range s.tables {
		total += t.bytes
	}
	var copied, rows atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Each table's stream is hashed as it passes, and the copy read back
	// and hashed as soon as it is written, while the others are still
	// copied: database.verify compares the two.
	s.sums = make([]sumPair, len(s.tables))
	next := make(chan int)
	copiedTables := make(chan int, len(s.tables))
	var builders sync.WaitGroup
	for range max(1, en.cfg().Restore.Jobs) {
		builders.Go(func() {
			for i := range copiedTables {
				if ctx.Err() != nil {
					continue
				}
				if err := built(ctx, i); err != nil {
					cancel(fmt.Errorf("indexes of %s: %w", s.tables[i].name, err))
				}
			}
		})
	}
	var wg sync.WaitGroup
	for range max(1, min(en.cfg().Restore.Jobs, len(s.tables))) {
		wg.Go(func() {
			for i := range next {
				t := s.tables[i]
				out, in := t.copySQL()
				src, err := s.copyStream(ctx, d, pool, out, in, func(b int64) {
					en.advance(copied.Add(b), total, true)
				})
				if err != nil {
					cancel(fmt.Errorf("copy %s: %w", t.name, err))
					continue
				}
				rows.Add(src.rows)
				dst, err := readBack(ctx, pool, out)
				s.sums[i] = sumPair{src: src, dst: dst, err: err}
				copiedTables <- i
			}
		})
	}
	for i := range s.tables {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	close(copiedTables)
	builders.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, 0, fmt.Errorf("copy the data (production was not touched): %s", d.redact(err.Error()))
	}
	return rows.Load(), copied.Load(), nil
}

// copyStream streams one table's rows from the instance (a COPY TO
// STDOUT) into production's server (a COPY FROM STDIN on pool), both in
// binary.
func (s *pitSource) copyStream(ctx context.Context, d *dbRestore, pool *pgxpool.Pool, from, to string, tick func(int64)) (tableSum, error) {
	var sum tableSum
	src, err := s.rec.Connect(ctx, s.database)
	if err != nil {
		return sum, fmt.Errorf("connect to the recovered instance: %w", err)
	}
	defer src.Close(context.WithoutCancel(ctx))
	// Row-level security would filter the rows silently: off, the COPY
	// fails instead for a role its policies apply to.
	if _, err := src.Exec(ctx, "SET row_security = off; "+sameText); err != nil {
		return sum, err
	}
	dst, err := pool.Acquire(ctx)
	if err != nil {
		return sum, err
	}
	defer dst.Release()
	if role := d.copyRole(); role != "" {
		if _, err := dst.Exec(ctx, "SET ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			return sum, err
		}
		defer dst.Exec(context.WithoutCancel(ctx), "RESET ROLE")
	}
	pr, pw := io.Pipe()
	h := sha256.New()
	out := make(chan error, 1)
	go func() {
		// The server sends a message per row: they are gathered into
		// 256 KiB writes, which CopyFrom sends on as few messages; the
		// stream is hashed on the way.
		bw := bufio.NewWriterSize(&countingWriter{w: io.MultiWriter(pw, h), tick: tick}, 256<<10)
		tag, err := src.PgConn().CopyTo(ctx, bw, from)
		if err == nil {
			err = bw.Flush()
		}
		sum.rows = tag.RowsAffected()
		pw.CloseWithError(err)
		out <- err
	}()
	tag, err := dst.Conn().PgConn().CopyFrom(ctx, pr, to)
	pr.CloseWithError(err)
	if rerr := <-out; rerr != nil {
		return sum, fmt.Errorf("read from the recovered instance: %w", rerr)
	}
	if err != nil {
		return sum, err
	}
	if tag.RowsAffected() != sum.rows {
		return sum, fmt.Errorf("%d rows read, %d written", sum.rows, tag.RowsAffected())
	}
	sum.sum = hex.EncodeToString(h.Sum(nil))
	return sum, nil
}

// sameText makes the text a session writes values in the same on every
// server (zone, date and interval styles, floats, money), so that a text
// COPY read from the instance and read back from the copy hash the same.
const sameText = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET lc_monetary = 'C'"

// readBack sums what a table holds now as copyStream summed the stream
// that filled it: the same COPY, binary, in the heap's order (a table
// filled by one COPY holds its rows in the stream's order; no scan is
// joined midway: synchronize_seqscans is off).
func readBack(ctx context.Context, pool *pgxpool.Pool, copyOut string) (tableSum, error) {
	var sum tableSum
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return sum, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET synchronize_seqscans = off; "+sameText); err != nil {
		return sum, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "RESET ALL")
	h := sha256.New()
	bw := bufio.NewWriterSize(h, 256<<10)
	tag, err := conn.Conn().PgConn().CopyTo(ctx, bw, copyOut)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return sum, err
	}
	sum.rows, sum.sum = tag.RowsAffected(), hex.EncodeToString(h.Sum(nil))
	return sum, nil
}

// countingWriter tells tick each write's size.
type countingWriter struct {
	w    io.Writer
	tick func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.tick(int64(n))
	return n, err
}

// copyRole is the role the data is copied as: the database's owner when
// the restore runs as a member of it, so that the copy may write into the
// owner's tables.
func (d *dbRestore) copyRole() string {
	if !d.superuser && d.ownerMember {
		return d.owner
	}
	return ""
}

// copySequences sets every sequence of the scratch database where the
// instance has it.
func (s *pitSource) copySequences(ctx context.Context, d *dbRestore) error {
	conn, err := s.rec.Connect(ctx, s.database)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences WHERE last_value IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("read the recovered sequences: %w", err)
	}
	type seq struct {
		name string
		last int64
	}
	var seqs []seq
	for rows.Next() {
		var q seq
		if err := rows.Scan(&q.name, &q.last); err != nil {
			return err
		}
		seqs = append(seqs, q)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	pool, err := d.connect(ctx, d.scratch)
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, q := range seqs {
		if _, err := pool.Exec(ctx, "SELECT setval($1::regclass, $2, true)", q.name, q.last); err != nil {
			return fmt.Errorf("set the sequence %s: %s", q.name, d.redact(err.Error()))
		}
	}
	d.en.note("%d sequences set as recovered", len(seqs))
	return nil
}

// copyLargeObjects copies large objects, when the database has any,
// through pg_dump's data section (no table data) and pg_restore.
func (s *pitSource) copyLargeObjects(ctx context.Context, d *dbRestore) error {
	conn, err := s.rec.Connect(ctx, s.database)
	if err != nil {
		return err
	}
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_largeobject_metadata").Scan(&n)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil || n == 0 {
		return err
	}
	file := filepath.Join(s.rec.Dir, "large-objects.dump")
	// Only the large objects: --blobs with a schema filter that names no
	// object of the database (pg_catalog's are never dumped), so both
	// their entries come along — the objects (owner, grants) and their data.
	args := append(s.instanceArgs(), "--blobs", "--schema=pg_catalog", "--format=custom", "--file="+file, "--dbname="+s.database)
	if err := d.en.eng.runner().Run(ctx, runner.Cmd{Path: filepath.Join(s.rec.BinDir, "pg_dump"), Args: args, StderrLines: 12}); err != nil {
		return fmt.Errorf("read the large objects from the recovered instance: %w", err)
	}
	// Restored from that archive: only its large objects' entries (it
	// also holds pg_catalog's, which is not to be made).
	toc, err := runner.Output(ctx, d.en.eng.runner(), runner.Cmd{Path: filepath.Join(s.rec.BinDir, "pg_restore"), Args: []string{"--list", file}})
	if err != nil {
		return fmt.Errorf("read the large objects' archive: %w", err)
	}
	var keep []string
	for _, l := range strings.Split(toc, "\n") {
		if strings.Contains(l, " BLOB ") || strings.Contains(l, " BLOBS ") || strings.Contains(l, " LARGE OBJECT") {
			keep = append(keep, l)
		}
	}
	list := file + ".list"
	if err := os.WriteFile(list, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	saved := s.schema
	s.schema = file
	defer func() { s.schema = saved }()
	if err := s.pgRestore(ctx, d, "", 1, "--use-list="+list); err != nil {
		return err
	}
	d.en.note("%d large objects copied", n)
	return nil
}

// verify holds every table of the scratch database against the instance
// — the same rows, and the SHA-256 of the table read back (binary COPY)
// equal to that of the stream read from the instance, byte for byte —
// then removes the instance.
func (s *pitSource) verify(ctx context.Context, d *dbRestore) error {
	if s.rec == nil {
		return errors.New("the recovered instance is gone")
	}
	en := d.en
	results := s.sums
	if len(results) != len(s.tables) {
		return errors.New("the copy did not sum every table")
	}
	var bad []string
	var rows int64
	for i, r := range results {
		name := s.tables[i].name
		switch {
		case r.err != nil:
			bad = append(bad, fmt.Sprintf("%s: %s", name, d.redact(r.err.Error())))
		case r.src != r.dst:
			bad = append(bad, fmt.Sprintf("%s has %d rows (checksum %s), the recovered instance %d (%s)", name, r.dst.rows, r.dst.sum, r.src.rows, r.src.sum))
		default:
			rows += r.dst.rows
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the copy does not match the recovered instance: %s", strings.Join(bad, "; "))
	}
	en.note("%d tables, %d rows: every count and checksum equals the recovered instance's", len(s.tables), rows)
	if err := s.remove(d); err != nil {
		en.warn("%v", err)
	}
	return nil
}

// tableSum is a table's row count and the sum of its rows' text hashes.
type tableSum struct {
	rows int64
	sum  string
}
