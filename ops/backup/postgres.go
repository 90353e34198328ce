package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// pgVersionRE finds "15.18" or "16beta2" in `pg_dump --version`.
var pgVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// PgDumpMajor returns the major version `pg_dump --version` printed.
func PgDumpMajor(versionOutput string) (int, string, error) {
	m := pgVersionRE.FindStringSubmatch(versionOutput)
	if m == nil {
		return 0, "", fmt.Errorf("cannot read the version in %.60q", strings.TrimSpace(versionOutput))
	}
	major, _ := strconv.Atoi(m[1])
	v := m[1]
	if m[2] != "" {
		v += "." + m[2]
	}
	return major, v, nil
}

// ServerMajor returns the major version of server_version_num (150018 → 15,
// 90624 → 9).
func ServerMajor(num int) int {
	if num >= 100000 {
		return num / 10000
	}
	return num / 100 / 100
}

// CheckPgDumpVersion refuses a pg_dump older than the server: it cannot
// read the server's catalogs correctly.
func CheckPgDumpVersion(pgDumpMajor, serverVersionNum int, serverVersion, bin string) error {
	if sm := ServerMajor(serverVersionNum); pgDumpMajor < sm {
		return fmt.Errorf("%s is version %d, older than the server (PostgreSQL %s): a pg_dump older than its server cannot dump it — install postgresql-client-%d, or set backup.pg_bin_dir to its bin directory",
			bin, pgDumpMajor, serverVersion, sm)
	}
	return nil
}

// keywordPassword matches password=... in a keyword/value DSN.
var keywordPassword = regexp.MustCompile(`(?i)(^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// SplitPassword returns dsn without its password, and the password, so
// that the password can travel in PGPASSWORD instead of argv. Both the URL
// and the keyword forms are understood.
func SplitPassword(dsn string) (withoutPassword, password string) {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn, ""
		}
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				password = p
				u.User = url.User(u.User.Username())
			}
		}
		q := u.Query()
		if p := q.Get("password"); p != "" {
			password = p
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String(), password
	}
	if m := keywordPassword.FindStringSubmatch(dsn); m != nil {
		password = m[2]
		if strings.HasPrefix(password, "'") && strings.HasSuffix(password, "'") && len(password) >= 2 {
			password = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(password[1 : len(password)-1])
		}
		dsn = strings.Join(strings.Fields(keywordPassword.ReplaceAllString(dsn, "$1")), " ")
	}
	return dsn, password
}

// PgDumpArgs builds pg_dump's arguments: custom format (restorable in
// parallel by pg_restore -j), no compression of its own (zstd follows),
// the exported snapshot the row counts were taken in, and the connection
// string without its password.
func PgDumpArgs(dsnWithoutPassword, snapshot string) []string {
	args := []string{"--format=custom", "--compress=0", "--no-password", "--verbose"}
	if snapshot != "" {
		args = append(args, "--snapshot="+snapshot)
	}
	if dsnWithoutPassword != "" {
		args = append(args, "--dbname="+dsnWithoutPassword)
	}
	return args
}

// BackupAppName is the application_name of the backup and restore
// engines' sessions and client programs, unless the DSN or PGAPPNAME names
// one.
const BackupAppName = "opsdeck-backup"

// ClientConnection is how a PostgreSQL client program (pg_dump,
// pg_restore, pg_basebackup) reaches the server pgx connects to for dsn:
// the DSN without its password for its argument list, and the password
// pgx resolved for PGPASSWORD (see PgEnv).
//
// Only the password is resolved here. The program gets the same DSN and
// inherits opsdeck's environment (the runner adds to os.Environ), so
// libpq reads PGSERVICE and PGSERVICEFILE, PGSSLMODE, PGSSLROOTCERT,
// PGSSLCERT, PGSSLKEY, PGTARGETSESSIONATTRS… under the same precedence
// as pgx did (the DSN's parameters, then the service file, then the
// variables). Rebuilding those as explicit arguments would lose what
// pgx's parsed Config does not keep (the sslmode behind a TLS
// configuration, file paths). The password is the exception: pgx finds
// it in the DSN, PGPASSWORD, the service file or the password file
// (PGPASSFILE, ~/.pgpass) matched against the DSN's host, port, database
// and user, and handing the program the very password pgx found keeps
// the two from diverging on a password-file line libpq would match
// differently; it is also a known secret the runner can remove from the
// program's error lines.
func ClientConnection(dsn string) (dsnWithoutPassword, password string) {
	dsnWithoutPassword, password = SplitPassword(dsn)
	if password == "" {
		if pc, err := pgconn.ParseConfig(dsn); err == nil {
			password = pc.Password
		}
	}
	return dsnWithoutPassword, password
}

// PgEnv is what pg_dump and pg_restore get on top of opsdeck's
// environment: the password in PGPASSWORD, never in argv, and the
// application name and connect timeout unless the environment sets them
// (the DSN's own win over both, in libpq as in pgx).
func PgEnv(password string) []string {
	var env []string
	for _, kv := range [][2]string{{"PGAPPNAME", BackupAppName}, {"PGCONNECT_TIMEOUT", "10"}} {
		if os.Getenv(kv[0]) == "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	}
	return env
}

// PgBin returns the path of a PostgreSQL client program.
func PgBin(binDir, name string) string {
	if binDir == "" {
		return name
	}
	return filepath.Join(binDir, name)
}

// postgresDump dumps the configured database into w.
type postgresDump struct {
	dsn     string
	binDir  string
	run     runner.Runner
	connect time.Duration
	// onTable is told the table pg_dump is dumping.
	onTable func(string)
	// onEstimate is told the expected dump size (table sizes, no indexes).
	onEstimate func(int64)
}

// tableRE finds the table in pg_dump's verbose "dumping contents of table".
var tableRE = regexp.MustCompile(`dumping contents of table "?([^"]+)"?`)

// run takes the dump. Row counts are taken in the same snapshot as the
// dump (pg_export_snapshot in a repeatable-read transaction held open
// while pg_dump runs with --snapshot), so they are what a restore of this
// dump must show.
func (p postgresDump) dump(ctx context.Context, w io.Writer) (*PostgresFacts, []string, error) {
	dsn, password := ClientConnection(p.dsn)
	secrets := []string{password}
	// pg_dump --version runs while the connection is made: Debian's
	// pg_dump is a Perl wrapper that takes about a tenth of a second to
	// start.
	bin := PgBin(p.binDir, "pg_dump")
	type versionOut struct {
		out string
		err error
	}
	versionCh := make(chan versionOut, 1)
	go func() {
		out, err := runner.Output(ctx, p.run, runner.Cmd{Path: bin, Args: []string{"--version"}})
		versionCh <- versionOut{out, err}
	}()
	var version *versionOut
	pgDumpVersion := func() versionOut {
		if version == nil {
			v := <-versionCh
			version = &v
		}
		return *version
	}
	defer pgDumpVersion() // it never outlives the dump
	conn, _, err := connectBackup(ctx, p.dsn, p.connect, secrets)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	server, err := postgres.ServerVersion(ctx, conn)
	if err != nil {
		return nil, nil, fmt.Errorf("read the server version: %w", err)
	}
	facts := &PostgresFacts{ServerVersion: server.Version, ServerVersionNum: server.VersionNum, Database: server.Database}
	v := pgDumpVersion()
	if v.err != nil {
		return nil, nil, fmt.Errorf("run %s --version: %w", bin, v.err)
	}
	major, dumpVersion, err := PgDumpMajor(v.out)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", bin, err)
	}
	facts.PgDumpVersion = dumpVersion
	if err := CheckPgDumpVersion(major, facts.ServerVersionNum, facts.ServerVersion, bin); err != nil {
		return nil, nil, err
	}

	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, fmt.Errorf("begin the snapshot transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	snapshot, err := postgres.ExportSnapshot(ctx, tx)
	if err != nil {
		return nil, nil, fmt.Errorf("export a snapshot for pg_dump: %w", err)
	}
	if sess, err := postgres.ReadDumpSession(ctx, tx); err == nil {
		facts.Session = &sess
	} else {
		return nil, nil, fmt.Errorf("read the session settings the dump's text depends on: %w", err)
	}
	tables, err := postgres.ListTables(ctx, tx)
	if err != nil {
		return nil, nil, fmt.Errorf("list tables: %w", err)
	}
	for _, t := range tables {
		facts.Tables = append(facts.Tables, TableCount{Schema: t.Schema, Name: t.Name})
	}
	if p.onEstimate != nil {
		if est, err := postgres.TablesSize(ctx, tx); err == nil {
			p.onEstimate(est)
		}
	}

	// The rows are counted in the dump stream itself (CountArchive): what
	// the dump holds, without scanning the tables a second time. The
	// counter reads its own copy of the stream, handed over a megabyte at
	// a time, so it counts while the codec compresses.
	tee := newHandoff(1<<20, 4)
	type counted struct {
		c   ArchiveCounts
		err error
	}
	countDone := make(chan counted, 1)
	go func() {
		c, err := CountArchive(tee)
		tee.Discard()
		countDone <- counted{c, err}
	}()
	dumpErr := p.run.Run(ctx, runner.Cmd{
		Path: bin, Args: PgDumpArgs(dsn, snapshot), Env: PgEnv(password), Stdout: teeWriter{w, tee},
		Secrets: secrets, StderrLines: 12,
		OnStderr: func(line string) {
			if m := tableRE.FindStringSubmatch(line); m != nil && p.onTable != nil {
				p.onTable(m[1])
			}
		},
	})
	tee.CloseWrite(dumpErr)
	cnt := <-countDone
	if dumpErr != nil {
		return nil, nil, fmt.Errorf("pg_dump failed, no backup was made: %w", dumpErr)
	}
	var warnings []string
	if cnt.err == nil {
		facts.Tables = cnt.c.Tables
		return facts, nil, nil
	}
	// Fall back to counting in the dump's snapshot, still held open; no
	// fingerprints then (a drill proves such a set by its counts).
	facts.Session = nil
	warnings = append(warnings, "row counts taken with SELECT count(*) in the dump's snapshot: the dump's own table of contents did not parse ("+cnt.err.Error()+")")
	for i, t := range facts.Tables {
		if facts.Tables[i].Rows, err = postgres.CountRows(ctx, tx, t.Schema, t.Name); err != nil {
			return nil, nil, fmt.Errorf("count rows of %s.%s: %w", t.Schema, t.Name, err)
		}
	}
	return facts, warnings, nil
}

func redactErr(err error, secrets []string) string {
	s := err.Error()
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// teeWriter writes to w, then hands the same bytes to the row counter. A
// counter that stopped (the archive did not parse) never fails the dump:
// its reader takes the rest and drops it.
type teeWriter struct {
	w     io.Writer
	count *handoff
}

func (t teeWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		return n, err
	}
	return t.count.Write(p)
}

// connectBackup opens the one connection a backup component works on
// (application_name opsdeck-backup, traced, connecting bounded), with
// advice and no secret in its error.
func connectBackup(ctx context.Context, dsn string, timeout time.Duration, secrets []string) (*pgx.Conn, *pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, errors.New("postgres.dsn does not parse — fix it (see opsdeck config validate)")
	}
	postgres.Defaults(&cfg.Config, BackupAppName, timeout)
	postgres.Trace(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, cfg, fmt.Errorf("connect to PostgreSQL: %s — check postgres.dsn and that the server is up", redactErr(err, secrets))
	}
	return conn, cfg, nil
}
