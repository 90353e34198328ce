package restore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/redact"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// maxIdentifier is PostgreSQL's longest database name (NAMEDATALEN-1).
const maxIdentifier = 63

// dbRestore restores the database component: into a scratch database
// first, verified there, then swapped in by two renames.
type dbRestore struct {
	en   *env
	comp *backup.Component
	file backup.File
	// target is the database replaced, server its host:port.
	target, server string
	// dsn reaches the server (any database); targetDSN the target.
	dsn, targetDSN string
	// scratch is <target>_restore_<set>; pre is <target>_pre_<time>, named
	// when the swap runs.
	scratch, pre string
	// exists is true when the target database exists now.
	exists bool
	// production is true when the target is postgres.dsn's database, the
	// one the writers use.
	production bool
	// superuser may restore ownership and privileges as dumped;
	// ownerMember may act as the target's owner (SET ROLE).
	superuser, ownerMember bool
	// owner, encoding and collation of the target, for the scratch one.
	owner, encoding, collate, ctype string
	// oldOID and newOID tell the two databases apart through the renames.
	oldOID, newOID uint32
	// dumpPath is the decompressed dump while pg_restore reads it.
	dumpPath string
	// pit, for a point-in-time restore, is the source instead of the
	// dump: a private instance recovered to the target (comp is nil).
	pit *pitSource
	// A drill's: stagePath is where the dump is staged (not a restore's
	// name, which maintain cleanup may remove), beforeRestore runs between
	// the staging and pg_restore, tmp is its temporary instance.
	stagePath     string
	beforeRestore func(context.Context) error
	// prepareTarget, when set, makes the server the scratch database goes
	// on (a drill's temporary instance) while the dump is staged.
	prepareTarget func(context.Context) error
	tmp           *drillInstance
}

func newDBRestore(ctx context.Context, en *env) (*dbRestore, error) {
	d := &dbRestore{en: en, dsn: en.cfg().Postgres.DSN}
	pc, err := pgx.ParseConfig(d.dsn)
	if err != nil {
		return nil, &ConfigError{errors.New("postgres.dsn does not parse — fix it (see opsdeck config validate)")}
	}
	if en.pitr != nil {
		d.pit = &pitSource{plan: en.pitr, database: pc.Database, user: pc.User}
	} else {
		comp, ok := en.plan.Set.Component(backup.Database)
		if !ok || len(comp.Files) == 0 || comp.Postgres == nil {
			return nil, fmt.Errorf("backup set %s has no database dump", en.plan.SetID)
		}
		d.comp, d.file = comp, comp.Files[0]
	}
	d.target = en.plan.Options.TargetDB
	if d.target == "" {
		d.target = pc.Database
	}
	d.production = d.target == pc.Database
	if d.target == "" && d.comp != nil {
		d.target = d.comp.Postgres.Database
	}
	if d.target == "" {
		return nil, &ConfigError{errors.New("postgres.dsn names no database — add one (dbname=…) or give --target-db")}
	}
	d.server = fmt.Sprintf("%s:%d", pc.Host, pc.Port)
	if d.targetDSN, err = withDatabase(d.dsn, d.target); err != nil {
		return nil, err
	}
	d.scratch = d.target + "_restore_" + en.plan.SetID
	// Whether the target exists decides the safety backup; the preflight
	// looks again.
	d.exists = true
	if pool, err := d.connect(ctx, ""); err == nil {
		d.exists, _ = postgres.DatabaseExists(ctx, pool, d.target)
		pool.Close()
	}
	return d, nil
}

// withDatabase returns dsn naming database db instead of its own.
func withDatabase(dsn, db string) (string, error) {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("postgres.dsn does not parse as a URL — fix it (see opsdeck config validate)")
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(db) + "'"
	return strings.TrimSpace(dsn + " dbname=" + quoted), nil
}

// maintenanceDB is the database the engine connects to for CREATE, DROP
// and ALTER DATABASE: never one of those it renames.
func (d *dbRestore) maintenanceDB() string {
	if d.target == "postgres" {
		return "template1"
	}
	return "postgres"
}

// connect opens a small pool on database db ("" for the maintenance one).
func (d *dbRestore) connect(ctx context.Context, db string) (*pgxpool.Pool, error) {
	if db == "" {
		db = d.maintenanceDB()
	}
	dsn, err := withDatabase(d.dsn, db)
	if err != nil {
		return nil, err
	}
	return postgres.Connect(ctx, dsn, d.en.cfg().Timeouts.Connect)
}

// redact removes the DSN's password from a message.
func (d *dbRestore) redact(s string) string {
	return redact.String(s, redact.Passwords(d.dsn)...)
}

// preflight checks the server, the tools, the room and the current data.
func (d *dbRestore) preflight(ctx context.Context) {
	en := d.en
	chk := func(name string, st health.Status, format string, args ...any) {
		en.check(backup.Database, name, st, fmt.Sprintf(format, args...))
	}
	for _, n := range []string{d.scratch, d.target + "_pre_" + backup.IDLayout} {
		if len(n) > maxIdentifier {
			chk("name", health.Crit, "%q is longer than PostgreSQL's %d characters — restore into a shorter --target-db", n, maxIdentifier)
			return
		}
	}
	pool, err := d.connect(ctx, "")
	if err != nil {
		chk("reachable", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	defer pool.Close()
	server, err := postgres.ServerVersion(ctx, pool)
	if err != nil {
		chk("reachable", health.Crit, "read the server version: %s", d.redact(err.Error()))
		return
	}
	chk("reachable", health.OK, "PostgreSQL %s at %s", server.Version, d.server)
	if d.pit != nil {
		d.pit.preflight(ctx, d, server.VersionNum, chk)
	} else if dumped := d.comp.Postgres; backup.ServerMajor(server.VersionNum) < backup.ServerMajor(dumped.ServerVersionNum) {
		chk("server version", health.Warn, "the dump comes from PostgreSQL %s, this server is %s: objects of the newer version may not restore", dumped.ServerVersion, server.Version)
	}

	role, err := postgres.CurrentRolePrivileges(ctx, pool)
	if err != nil {
		chk("privileges", health.Crit, "read the role: %s", d.redact(err.Error()))
		return
	}
	d.superuser = role.Superuser
	createdb := role.CreateDB
	if d.pit == nil {
		d.pgRestoreCheck(ctx, chk)
	}

	d.exists, err = postgres.DatabaseExists(ctx, pool, d.target)
	if err != nil {
		chk("target", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	var size int64
	if d.exists {
		db, err := postgres.ReadDatabaseDetails(ctx, pool, d.target)
		if err != nil {
			chk("target", health.Crit, "read database %s: %s", d.target, d.redact(err.Error()))
			return
		}
		d.owner, d.encoding, d.collate, d.ctype, size = db.Owner, db.Encoding, db.Collate, db.CType, db.Bytes
		isOwner, member, _ := postgres.RoleMembership(ctx, pool, d.owner)
		d.ownerMember = member
		if !d.superuser && !isOwner {
			chk("privileges", health.Crit, "%s is owned by %s: connect as its owner or a superuser to rename it", d.target, d.owner)
		}
		sessions, _ := postgres.CountSessions(ctx, pool, d.target)
		chk("target", health.OK, "%s: %s, %d session(s) to end at the swap; kept afterwards as %s_pre_<time>", d.target, progress.Bytes(size), sessions, d.target)
		if d.pit == nil {
			d.currentRows(ctx)
		}
	} else {
		chk("target", health.Warn, "database %s does not exist: it will be created (nothing is replaced)", d.target)
	}
	if !d.superuser {
		if signal, _ := postgres.CanSignalBackends(ctx, pool); !signal {
			chk("sessions", health.Warn, "the role may end only its own sessions: the swap fails while the application is connected as another role — list its Deployments in restore.writers, or grant pg_signal_backend")
		}
	}
	switch {
	case d.superuser:
		chk("privileges", health.OK, "superuser: owners and privileges restored as dumped")
	case createdb && d.ownerMember:
		chk("privileges", health.OK, "restored as %s, the database's owner (pg_restore --role): objects and grants as the owner makes them", d.owner)
	case createdb:
		chk("privileges", health.Warn, "not a superuser nor a member of the database's owner: restored with --no-owner --no-privileges, the objects owned by the connecting role and without the dumped grants — the application's role may lose access")
	default:
		chk("privileges", health.Crit, "the role may not create databases — grant CREATEDB or connect as a superuser")
	}
	if left, _ := postgres.DatabaseExists(ctx, pool, d.scratch); left {
		chk("scratch", health.Warn, "%s exists (left by an interrupted restore): it will be dropped and made again", d.scratch)
	}
	d.diskCheck(ctx, pool, size, chk)
}

// pgRestoreCheck checks that pg_restore can read the dump.
func (d *dbRestore) pgRestoreCheck(ctx context.Context, chk func(string, health.Status, string, ...any)) {
	bin := backup.PgBin(d.en.cfg().Backup.PgBinDir, "pg_restore")
	out, err := runner.Output(ctx, d.en.eng.runner(), runner.Cmd{Path: bin, Args: []string{"--version"}})
	if err != nil {
		chk("pg_restore", health.Crit, "%s --version: %v — install the PostgreSQL client or set backup.pg_bin_dir", bin, err)
		return
	}
	major, version, err := backup.PgDumpMajor(out)
	if err != nil {
		chk("pg_restore", health.Crit, "%s: %v", bin, err)
		return
	}
	dumpMajor, _, _ := backup.PgDumpMajor("(PostgreSQL) " + d.comp.Postgres.PgDumpVersion)
	if major < dumpMajor {
		chk("pg_restore", health.Crit, "pg_restore %s cannot read a dump made by pg_dump %s — install PostgreSQL %d's client or set backup.pg_bin_dir", version, d.comp.Postgres.PgDumpVersion, dumpMajor)
		return
	}
	chk("pg_restore", health.OK, "pg_restore %s, --jobs %d (dump by pg_dump %s)", version, d.en.cfg().Restore.Jobs, d.comp.Postgres.PgDumpVersion)
}

// currentRows reports the current row counts (statistics, no scan) next
// to the dump's.
func (d *dbRestore) currentRows(ctx context.Context) {
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return
	}
	defer pool.Close()
	tables, now, err := postgres.EstimateRows(ctx, pool)
	if err != nil {
		return
	}
	var dumped int64
	for _, t := range d.comp.Postgres.Tables {
		dumped += t.Rows
	}
	d.en.check(backup.Database, "rows", health.OK, fmt.Sprintf("now %d tables, ~%d rows (statistics); the set has %d tables, %d rows", tables, now, len(d.comp.Postgres.Tables), dumped))
}

// diskCheck compares the free space of the work directory with the dump
// and, when the server's data directory is visible from here, the
// server's free space with the database's size.
func (d *dbRestore) diskCheck(ctx context.Context, pool *pgxpool.Pool, current int64, chk func(string, health.Status, string, ...any)) {
	need := d.workDirCheck(chk)
	// The restored copy sits next to the current one until the old one is
	// dropped: about the current size, or twice the dump (indexes) for a
	// new database.
	want := max(current, 2*need)
	if d.pit != nil {
		want = current // the copy of the database, without the instance's cluster
	}
	dataDir, err := postgres.DataDirectory(ctx, pool)
	if err != nil || dataDir == "" {
		chk("server disk", health.Warn, "the server's data directory is not visible to this role; make sure it has about %s free", progress.Bytes(want))
		return
	}
	free, err := freeBytes(dataDir)
	if err != nil {
		chk("server disk", health.Warn, "the server's disk is not visible from here (%s); make sure it has about %s free", dataDir, progress.Bytes(want))
		return
	}
	if free < want {
		chk("server disk", health.Crit, "%s has %s free; the restored copy needs about %s next to the current database — free space first (opsdeck maintain cleanup drops old %s_pre_* databases)", dataDir, progress.Bytes(free), progress.Bytes(want), d.target)
		return
	}
	chk("server disk", health.OK, "%s free on the server for about %s", progress.Bytes(free), progress.Bytes(want))
}

// workDirCheck compares the free space of the work directory with what
// the restore writes there (the decompressed dump, or the recovered
// instance) and returns that.
func (d *dbRestore) workDirCheck(chk func(string, health.Status, string, ...any)) int64 {
	work := d.en.cfg().Restore.WorkDirIn(d.en.cfg().StateDir)
	need, what := d.file.RawSize, "the decompressed dump"
	if d.pit != nil {
		need, what = d.pit.plan.WorkBytes(), "the recovered instance (base backup and WAL)"
	}
	if free, err := freeBytes(existingParent(work)); err != nil {
		chk("disk", health.Warn, "cannot read the free space of %s: %v", work, err)
	} else if free < need+need/10 {
		chk("disk", health.Crit, "%s has %s free; %s needs %s — free space or set restore.work_dir", work, progress.Bytes(free), what, progress.Bytes(need))
	} else {
		chk("disk", health.OK, "%s free in %s for %s (%s)", progress.Bytes(free), work, what, progress.Bytes(need))
	}
	return need
}

// existingParent returns path or its nearest existing parent.
func existingParent(path string) string {
	for p := path; ; {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		p = parent
	}
}

func freeBytes(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
