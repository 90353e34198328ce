package restore_test

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/ops/runner"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// The restore benchmark starts its own PostgreSQL and seeds it, so it runs
// only when asked: scripts/bench-restore.sh (make bench) sets
// OPSDECK_BENCH_RESTORE=1. OPSDECK_BENCH_SCALE sizes the database (default
// 16: about 1 GB with indexes, the backup benchmark's data).
func benchEnabled(b *testing.B) {
	if os.Getenv("OPSDECK_BENCH_RESTORE") != "1" {
		b.Skip("set OPSDECK_BENCH_RESTORE=1 (scripts/bench-restore.sh) to run the restore comparison")
	}
}

// clockTick is the unit of the times in /proc/PID/stat (USER_HZ, 100 on
// Linux everywhere).
const clockTick = 10 * time.Millisecond

// serverCPU is the CPU time used so far by the PostgreSQL server at pid:
// the postmaster with its ended children (cutime, cstime) and its live
// children (checkpointer, walwriter, backends). A backend's time moves to
// the postmaster's cutime when it ends, so the sum only grows.
func serverCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := procStat(p)
		if len(f) < 15 {
			continue
		}
		// f[0] is field 3 (state): ppid is f[1], utime f[11], stime f[12],
		// cutime f[13], cstime f[14].
		ppid, _ := strconv.Atoi(f[1])
		switch {
		case p == pid:
			total += ticks(f[11]) + ticks(f[12]) + ticks(f[13]) + ticks(f[14])
		case ppid == pid:
			total += ticks(f[11]) + ticks(f[12])
		}
	}
	return total
}

// procStat returns the fields of /proc/PID/stat after the command name.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func ticks(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * clockTick
}

// measured is one contender's wall time, CPU time (this process and its
// children) and the server's CPU time.
type measured struct {
	wall, cpu, server time.Duration
	ok                bool
}

func (m measured) sub(o measured) measured {
	return measured{m.wall - o.wall, m.cpu - o.cpu, m.server - o.server, m.ok && o.ok}
}

// meter reads the three clocks.
type meter struct{ pgPID int }

func (mt meter) now() measured {
	return measured{wall: time.Duration(time.Now().UnixNano()), cpu: sandbox.ProcessCPU(), server: serverCPU(mt.pgPID), ok: true}
}

// measure runs f once and returns its times.
func (mt meter) measure(b *testing.B, name string, f func() error) measured {
	b.Helper()
	start := mt.now()
	if err := f(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return mt.now().sub(start)
}

// stepClock reads the clocks at every step's start and end of a restore
// run (its progress events), and at the notes that split the database
// restore into decompression, CREATE DATABASE and pg_restore.
type stepClock struct {
	mt    meter
	mu    sync.Mutex
	marks []mark
}

type mark struct {
	step, what string
	at         measured
}

// Notes of the database.restore step that end one of its parts.
var splitNotes = []string{"dump decompressed", "created ", "pg_restore finished"}

func (c *stepClock) progress() progress.Func {
	return func(e progress.Event) {
		if e.Op != oprestore.OpRestore {
			return
		}
		what := ""
		switch e.Kind {
		case progress.Start, progress.Finish:
			what = string(e.Kind)
		case progress.Info:
			for _, n := range splitNotes {
				if strings.HasPrefix(e.Message, n) {
					what = n
				}
			}
		}
		if what == "" {
			return
		}
		at := c.mt.now()
		c.mu.Lock()
		c.marks = append(c.marks, mark{step: e.Step, what: what, at: at})
		c.mu.Unlock()
	}
}

// at returns the clocks at step's first event what.
func (c *stepClock) at(step, what string) (measured, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.marks {
		if m.step == step && m.what == what {
			return m.at, true
		}
	}
	return measured{}, false
}

// between is the time from step's event from to its event to.
func (c *stepClock) between(step, from, to string) measured {
	a, ok1 := c.at(step, from)
	z, ok2 := c.at(step, to)
	if !ok1 || !ok2 {
		return measured{}
	}
	return z.sub(a)
}

// step is the time of one step, start to finish.
func (c *stepClock) step(name string) measured {
	return c.between(name, string(progress.Start), string(progress.Finish))
}

// benchDB is the bench's server with a superuser pool on the maintenance
// database, for CREATE and DROP DATABASE and CHECKPOINT.
type benchDB struct {
	pg   *sandbox.PostgresServer
	conn *pgx.Conn
}

func (d *benchDB) exec(b *testing.B, sql string) {
	b.Helper()
	if _, err := d.conn.Exec(accesstest.Admin(context.Background()), sql); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
}

// drop drops every database whose name starts with prefix.
func (d *benchDB) drop(b *testing.B, prefix string) {
	b.Helper()
	rows, _ := d.conn.Query(accesstest.Admin(context.Background()), "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatalf("list databases: %v", err)
	}
	for _, n := range names {
		d.exec(b, "DROP DATABASE "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
	}
}

func (d *benchDB) size(b *testing.B, db string) int64 {
	var n int64
	if err := d.conn.QueryRow(accesstest.Admin(context.Background()), "SELECT pg_database_size($1)", db).Scan(&n); err != nil {
		b.Fatalf("size of %s: %v", db, err)
	}
	return n
}

// BenchmarkRestoreVsPgRestore: opsdeck's database restore (decompress and
// check the set's dump into the work directory, pg_restore --jobs 2 into a
// scratch database, count every table's rows against the manifest)
// against plain `pg_restore -j2` of a `pg_dump -Fc` file into an empty
// database, on the same seeded database in the same run; then, apart, the
// safety backup step and the whole walkthrough (Prepare and Run with the
// checksums, the safety backup, the swap and the post-checks). No
// restore.writers are configured, so no Kubernetes is needed: the writers
// steps only note it.
func BenchmarkRestoreVsPgRestore(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	in := newBenchInputs(b, ctx)
	defer in.close()
	db, mt, be, set, comp, fcPath, fcSize, dbSize, scale := in.db, in.mt, in.be, in.set, in.comp, in.fcPath, in.fcSize, in.dbSize, in.scale
	eng := oprestore.New(be)

	r := &benchRound{b: b, ctx: ctx, in: in, db: db, mt: mt, eng: eng, be: be, fcPath: fcPath, tables: len(comp.Postgres.Tables)}
	rounds := sandbox.EnvInt("OPSDECK_BENCH_ROUNDS", 1)
	var results []roundResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for n := 1; n <= rounds; n++ {
			res := r.run()
			fmt.Fprintf(os.Stderr, "\nround %d of %d: database %.2f GB (scale %d, restored by pg_restore: %.2f GB); pg_dump -Fc %s; opsdeck set %s, dump %s raw\n",
				n, rounds, float64(dbSize)/1e9, scale, float64(res.plainSize)/1e9, human(fcSize), human(set.Size()), human(comp.Files[0].RawSize))
			res.print()
			results = append(results, res)
		}
	}
	b.StopTimer()
	med := func(f func(roundResult) float64) float64 {
		v := make([]float64, len(results))
		for i, res := range results {
			v[i] = f(res)
		}
		return median(v)
	}
	ratio := func(a, z time.Duration) float64 { return a.Seconds() / z.Seconds() }
	wallRatio := med(func(r roundResult) float64 { return ratio(r.ops.wall, r.plain.wall) })
	cpuRatio := med(func(r roundResult) float64 { return ratio(r.ops.cpu, r.plain.cpu) })
	totalRatio := med(func(r roundResult) float64 { return ratio(r.ops.cpu+r.ops.server, r.plain.cpu+r.plain.server) })
	walkRatio := med(func(r roundResult) float64 { return ratio(r.walk.wall, r.plain.wall) })
	b.ReportMetric(med(func(r roundResult) float64 { return r.plain.wall.Seconds() }), "pgrestore-s")
	b.ReportMetric(med(func(r roundResult) float64 { return r.ops.wall.Seconds() }), "opsdeck-s")
	b.ReportMetric(wallRatio, "time/pgrestore")
	b.ReportMetric(cpuRatio, "cpu/pgrestore")
	b.ReportMetric(med(func(r roundResult) float64 { return r.safety.wall.Seconds() }), "safety-s")
	b.ReportMetric(med(func(r roundResult) float64 { return r.walk.wall.Seconds() }), "walkthrough-s")
	b.ReportMetric(walkRatio, "walk/pgrestore")
	if len(results) > 1 {
		fmt.Fprintf(os.Stderr, "\nmedians of %d rounds, to pg_restore -j2: restore+verify wall %.2f× (goal ≤ 1.0), cpu %.2f×, cpu with the server's %.2f×; walkthrough wall %.2f×\n",
			len(results), wallRatio, cpuRatio, totalRatio, walkRatio)
	}
}

// benchInputs are a restore benchmark's server, seeded, and its two
// inputs made outside the timing: an opsdeck set and a pg_dump -Fc file
// of the same database.
type benchInputs struct {
	db     *benchDB
	mt     meter
	cfg    *config.Config
	be     *backup.Engine
	set    *backup.Manifest
	comp   *backup.Component
	fcPath string
	fcSize int64
	dbSize int64
	scale  int
	close  func()
}

// newBenchInputs starts a PostgreSQL of the bench's own (autovacuum off:
// the vacuum and analyze of the tables one contender loaded would
// otherwise run during the next one's time), seeds it at
// OPSDECK_BENCH_SCALE and makes the inputs.
func newBenchInputs(b *testing.B, ctx context.Context) *benchInputs {
	b.Helper()
	in := &benchInputs{scale: sandbox.EnvInt("OPSDECK_BENCH_SCALE", 16)}
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{Settings: map[string]string{"autovacuum": "off"}})
	if err != nil {
		b.Fatal(err)
	}
	var closers []func()
	in.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, func() { pg.Stop() })
	b.Logf("seeding scale %d (%d price rows)…", in.scale, sandbox.PostgresSeedPriceRows(in.scale))
	seedStart := time.Now()
	if _, err := sandbox.SeedPostgres(ctx, pg.DSN(), in.scale); err != nil {
		in.close()
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.DSNFor("postgres"))
	if err != nil {
		in.close()
		b.Fatal(err)
	}
	closers = append(closers, func() { conn.Close(ctx) })
	in.db = &benchDB{pg: pg, conn: conn}
	in.dbSize = in.db.size(b, sandbox.PostgresDatabase)
	b.Logf("seeded in %s: database %.2f GB", time.Since(seedStart).Round(time.Second), float64(in.dbSize)/1e9)
	in.mt = meter{pgPID: pg.PID()}

	dir := b.TempDir()
	cfg := config.Default()
	cfg.Postgres.DSN = pg.DSN()
	cfg.Backup.Dir = filepath.Join(dir, "store")
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Restore.Writers = nil
	in.cfg = cfg
	be, err := backup.New(cfg, "bench", cfg.OpenAudit())
	if err != nil {
		in.close()
		b.Fatal(err)
	}
	closers = append(closers, func() { be.Audit.Close() })
	in.be = be
	mBackup := in.mt.measure(b, "opsdeck backup database", func() error {
		res, err := be.Backup(ctx, backup.Options{Kind: backup.Database})
		in.set = res.Manifest
		return err
	})
	in.comp, _ = in.set.Component(backup.Database)
	in.fcPath = filepath.Join(dir, "fc.dump")
	mDump := in.mt.measure(b, "pg_dump -Fc", func() error {
		f, err := os.Create(in.fcPath)
		if err != nil {
			return err
		}
		defer f.Close()
		dsn, pw := backup.SplitPassword(pg.DSN())
		return runner.Exec{}.Run(ctx, runner.Cmd{Path: "pg_dump", Args: []string{"--format=custom", "--no-password", "--dbname=" + dsn}, Env: backup.PgEnv(pw), Stdout: f})
	})
	in.fcSize = sandbox.FileSize(in.fcPath)
	b.Logf("inputs: opsdeck set %s (%s raw) in %s; pg_dump -Fc %s in %s", human(in.set.Size()), human(in.comp.Files[0].RawSize), mBackup.wall.Round(time.Millisecond), human(in.fcSize), mDump.wall.Round(time.Millisecond))
	return in
}

// plainRestore times pg_restore -j2 of the pg_dump -Fc file into a new
// empty database made beforehand, then drops it.
func (in *benchInputs) plainRestore(b *testing.B, ctx context.Context) (measured, int64) {
	in.db.exec(b, "CREATE DATABASE "+plainDB+" TEMPLATE template0")
	in.db.exec(b, "CHECKPOINT")
	m := in.mt.measure(b, "pg_restore -j2", func() error {
		dsn, pw := backup.SplitPassword(in.db.pg.DSNFor(plainDB))
		return runner.Exec{}.Run(ctx, runner.Cmd{Path: "pg_restore", Args: []string{"-j2", "--no-password", "--dbname=" + dsn, in.fcPath}, Env: backup.PgEnv(pw)})
	})
	size := in.db.size(b, plainDB)
	in.db.drop(b, plainDB)
	return m, size
}

// median is the median of v (sorted in place).
func median(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// benchRound runs the contenders of one round on the bench's server.
type benchRound struct {
	b      *testing.B
	ctx    context.Context
	in     *benchInputs
	db     *benchDB
	mt     meter
	eng    *oprestore.Engine
	be     *backup.Engine
	fcPath string
	tables int
}

// roundResult is what one round measured.
type roundResult struct {
	plain     measured // pg_restore -j2 of the pg_dump -Fc file
	plainSize int64    // the database it restored
	ops       measured // database.restore + database.verify
	restore   measured // database.restore alone
	split     []named  // database.restore and database.verify in parts
	noSafety  measured // the run without the safety backup, all steps
	safety    measured // the safety-backup step
	walk      measured // Prepare + Run with the safety backup
	prepare   measured
	steps     []named // the walkthrough's steps
}

type named struct {
	name string
	m    measured
}

// The databases the bench makes: the plain restore's, and the ones the
// swaps keep.
const plainDB = "bench_pgrestore"

var preDB = sandbox.PostgresDatabase + "_pre_"

func (r *benchRound) run() roundResult {
	b, ctx, db, mt := r.b, r.ctx, r.db, r.mt
	var res roundResult

	// (a) plain pg_restore -j2 into an empty database made beforehand.
	res.plain, res.plainSize = r.in.plainRestore(b, ctx)

	// (b) opsdeck without the safety backup: the restore and verify steps
	// from the run's clock, the run as a whole beside them.
	db.exec(b, "CHECKPOINT")
	clk := &stepClock{mt: mt}
	res.noSafety = mt.measure(b, "opsdeck restore without the safety backup", func() error {
		plan, err := r.eng.Prepare(ctx, oprestore.Options{Kind: oprestore.Database, NoSafetyBackup: true}, nil)
		if err != nil {
			return err
		}
		if err := plan.Blocked(); err != nil {
			return err
		}
		_, err = r.eng.Run(ctx, plan, clk.progress())
		return err
	})
	res.restore = clk.step("database.restore")
	verify := clk.step("database.verify")
	res.ops = measured{res.restore.wall + verify.wall, res.restore.cpu + verify.cpu, res.restore.server + verify.server, res.restore.ok && verify.ok}
	res.split = []named{
		// CREATE DATABASE runs while the dump is staged.
		{"  stage (decompress, SHA-256, merge chunks) ∥ CREATE DATABASE", clk.between("database.restore", "start", "dump decompressed")},
		{"  pg_restore --list + pg_restore --jobs 2", clk.between("database.restore", "dump decompressed", "pg_restore finished")},
		{"  to the step's end (the dump is removed in the background)", clk.between("database.restore", "pg_restore finished", "finish")},
		{fmt.Sprintf("database.verify: count(*) of %d tables", r.tables), verify},
	}
	db.drop(b, preDB)

	// (c) and (d): the whole walkthrough with the safety backup.
	db.exec(b, "CHECKPOINT")
	clk2 := &stepClock{mt: mt}
	var rep *oprestore.Report
	res.walk = mt.measure(b, "opsdeck restore", func() error {
		var plan *oprestore.Plan
		var err error
		res.prepare = mt.measure(b, "prepare", func() error {
			plan, err = r.eng.Prepare(ctx, oprestore.Options{Kind: oprestore.Database}, nil)
			return err
		})
		if err := plan.Blocked(); err != nil {
			return err
		}
		rep, err = r.eng.Run(ctx, plan, clk2.progress())
		return err
	})
	res.safety = clk2.step("safety-backup")
	for _, s := range rep.Steps {
		res.steps = append(res.steps, named{"  " + s.Name, clk2.step(s.Name)})
	}
	if rep.SafetyBackup == "" {
		b.Fatal("the walkthrough took no safety backup")
	}
	if err := r.be.Store.Delete(ctx, rep.SafetyBackup); err != nil {
		b.Fatalf("delete the safety backup: %v", err)
	}
	db.drop(b, preDB)
	return res
}

// print writes the round's table to stderr.
func (res roundResult) print() {
	fmt.Fprintf(os.Stderr, "  %-52s %8s %8s %8s\n", "", "wall", "cpu", "server")
	row := func(name string, m measured) {
		if !m.ok {
			fmt.Fprintf(os.Stderr, "  %-52s %8s\n", name, "(not seen)")
			return
		}
		fmt.Fprintf(os.Stderr, "  %-52s %7.1fs %7.1fs %7.1fs\n", name, m.wall.Seconds(), m.cpu.Seconds(), m.server.Seconds())
	}
	row("pg_restore -j2 of pg_dump -Fc into an empty db", res.plain)
	row("opsdeck database.restore + database.verify", res.ops)
	row("database.restore", res.restore)
	for _, s := range res.split {
		row(s.name, s.m)
	}
	row("opsdeck run without the safety backup (all steps)", res.noSafety)
	row("opsdeck safety backup step", res.safety)
	row("opsdeck whole walkthrough (Prepare + Run)", res.walk)
	row("  Prepare (checksums, preflight)", res.prepare)
	for _, s := range res.steps {
		row(s.name, s.m)
	}
	ratio := func(a, z time.Duration) float64 { return a.Seconds() / z.Seconds() }
	fmt.Fprintf(os.Stderr, "  ratios to pg_restore -j2: restore+verify wall %.2f× (goal ≤ 1.0), cpu %.2f×, cpu with the server's %.2f×; walkthrough wall %.2f×\n",
		ratio(res.ops.wall, res.plain.wall), ratio(res.ops.cpu, res.plain.cpu), ratio(res.ops.cpu+res.ops.server, res.plain.cpu+res.plain.server), ratio(res.walk.wall, res.plain.wall))
}

func human(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
