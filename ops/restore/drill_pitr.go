package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// A drill of the WAL archive (drill pitr) recovers a base backup and
// every byte of WAL stored after it in a private instance on the bastion
// — the point-in-time restore's recovery, to the archive's head — and
// proves three things: the unpacked base backup is what the server sent
// (pg_verifybackup against its backup_manifest, before the server starts
// on it), replay went through the archive's last whole record (found by
// ops/pgwal in the stored WAL, held against where the instance says
// replay ended), and every table and B-tree index of every database is
// sound (pg_amcheck). There are no fingerprints to compare: the data at
// the head is newer than any set.

// PITR is the drill of a base backup and the WAL archive to its head.
const PITR = "pitr"

// ProofRecovery is a PITR drill's proof.
const ProofRecovery = "manifest, head, amcheck"

// drillPITR is a PITR drill: the recovery (the point-in-time restore's
// source, which the journal keeps) and what it proved.
type drillPITR struct {
	en  *env
	d   *dbRestore
	src *pitSource
	// binDir is the base backup's server binaries; binErr why there are none.
	binDir string
	binErr error
}

// buildPITRDrill adds a PITR drill's steps: recover (with the manifest
// check between unpacking and starting), then prove.
func (e *Engine) buildPITRDrill(en *env) error {
	plan := en.plan
	user := "postgres"
	if pg := en.cfg().Postgres; pg.Configured() {
		if pc, err := pgx.ParseConfig(pg.DSN); err == nil && pc.User != "" {
			user = pc.User
		}
	}
	src := &pitSource{plan: en.pitr, user: user}
	d := &dbRestore{en: en, pit: src}
	dp := &drillPITR{en: en, d: d, src: src}
	dp.binDir, dp.binErr = pitr.ServerBinDir(en.cfg().Backup.PgBinDir, en.pitr.Major)
	src.unpacked = dp.verifyManifest
	en.db = d // the journal keeps the instance's directory and pid
	en.components = append(en.components, dp)
	plan.Components = []string{PITR}
	plan.Target.Postgres = "a private instance"
	recov := src.recoverStep(d)
	recov.Title = fmt.Sprintf("Recover base backup %s and every byte of WAL stored after it in a private PostgreSQL %d (pg_verifybackup checks the unpacked files first)", plan.SetID, en.pitr.Major)
	plan.Steps = append(plan.Steps, en.preflightStep(), recov, &Step{
		Name: "pitr.prove", Component: backup.Database,
		Title: "Check that replay reached the archive's last record, then run pg_amcheck on every database",
		do:    dp.prove,
	})
	return nil
}

// preflight checks the archive's reach and the tools the proof needs.
func (dp *drillPITR) preflight(ctx context.Context) {
	en, p := dp.en, dp.en.pitr
	chk := func(name string, st health.Status, format string, args ...any) {
		en.check(backup.Database, name, st, fmt.Sprintf(format, args...))
	}
	const layout = "2006-01-02 15:04:05 -07:00"
	chk("recovery", health.OK, "base backup %s (ended %s), then %s of WAL to the archive's head %s (stored %s)",
		p.Set.ID, p.Base.At.Local().Format(layout), progress.Bytes(p.WALBytes), p.Coverage.To, p.Coverage.ToTime.Local().Format(layout))
	if dp.binErr != nil {
		chk("server binaries", health.Crit, "%v", dp.binErr)
		return
	}
	for _, tool := range []string{"pg_verifybackup", "pg_amcheck"} {
		if _, err := os.Stat(filepath.Join(dp.binDir, tool)); err != nil {
			chk(tool, health.Crit, "%s has no %s: install the postgresql-%d package (PostgreSQL 14 or later for pg_amcheck)", dp.binDir, tool, p.Major)
			return
		}
	}
	chk("server binaries", health.OK, "PostgreSQL %d's server, pg_verifybackup and pg_amcheck in %s", p.Major, dp.binDir)
	checkWorkDir(en, chk)
}

// verifyManifest runs pg_verifybackup on the unpacked data directory:
// every file the server listed in backup_manifest, with its size and
// checksum, and nothing it did not list (the WAL is checked as it is
// staged, by the SHA-256 in each object's name, so it is not parsed here).
func (dp *drillPITR) verifyManifest(ctx context.Context, dataDir string) error {
	if err := dp.en.eng.dirHook("pitr.unpacked", dataDir); err != nil {
		return err
	}
	bin := filepath.Join(dp.binDir, "pg_verifybackup")
	out, err := runner.Output(ctx, dp.en.eng.runner(), runner.Cmd{Path: bin, Args: []string{"--no-parse-wal", "--exit-on-error", dataDir}})
	if err != nil {
		return fmt.Errorf("the unpacked base backup does not match its backup_manifest (pg_verifybackup): %w", err)
	}
	if s := strings.TrimSpace(out); s != "" {
		dp.en.note("pg_verifybackup: %s", s)
	}
	return dp.en.eng.dirHook("pitr.verified", dataDir)
}

// amcheckRelRE names the relation a pg_amcheck finding is about:
// `heap table "db.schema.t", block 3, offset 2:` or `btree index "db.schema.i":`.
var amcheckRelRE = regexp.MustCompile(`^(?:heap table|btree index) "([^"]+)"`)

// amcheckProgressRE reads pg_amcheck --progress's relations count.
var amcheckProgressRE = regexp.MustCompile(`(\d+)/(\d+) relations`)

// prove holds where replay ended against the archive's last record, then
// runs pg_amcheck on every database of the instance.
func (dp *drillPITR) prove(ctx context.Context) error {
	en, s := dp.en, dp.src
	if s.rec == nil {
		return errors.New("the recovered instance is gone")
	}
	res := en.drillPart(PITR)
	res.Proof = ProofRecovery
	last, err := en.pitr.LastRecord(ctx)
	if err != nil {
		return fmt.Errorf("find the archive's last record: %w", err)
	}
	res.Head, res.Reached = last.String(), s.rec.Reached.String()
	if s.rec.Reached <= last {
		return fmt.Errorf("replay ended at %s, before the archive's last record at %s: the WAL stored after it was not replayed (see the instance's log in the report)", s.rec.Reached, last)
	}
	en.note("replay ended at %s, past the archive's last record at %s", s.rec.Reached, last)

	super, dbs, err := dp.inventory(ctx)
	if err != nil {
		return err
	}
	res.Databases = dbs
	// The instance's superuser last: a later --username wins.
	args := append(s.instanceArgs(), "--username="+super, "--all", "--install-missing", "--progress")
	cmd := runner.Cmd{
		Path: filepath.Join(dp.binDir, "pg_amcheck"), Args: args,
		OnStderr: func(line string) {
			// --progress rewrites one line with \r: the last figures win.
			parts := strings.Split(line, "\r")
			if m := amcheckProgressRE.FindStringSubmatch(parts[len(parts)-1]); m != nil {
				done, _ := strconv.ParseInt(m[1], 10, 64)
				total, _ := strconv.ParseInt(m[2], 10, 64)
				res.Tables = int(done)
				en.advance(done, total, false)
			}
		},
	}
	out, err := runner.Output(ctx, en.eng.runner(), cmd)
	var found, lines []string
	for _, line := range strings.Split(out, "\n") {
		if m := amcheckRelRE.FindStringSubmatch(line); m != nil && !slices.Contains(found, m[1]) {
			found = append(found, m[1])
		}
		if line != "" && len(lines) < 40 {
			lines = append(lines, line)
		}
	}
	if len(found) > 0 {
		res.Differ = sortedDiffer(found)
		return fmt.Errorf("pg_amcheck found corruption in %s:\n  %s", strings.Join(res.Differ, ", "), strings.Join(lines, "\n  "))
	}
	if err != nil {
		return fmt.Errorf("pg_amcheck: %w", err)
	}
	en.note("pg_amcheck: %d relations of %d databases, no corruption", res.Tables, dbs)
	return nil
}

// inventory names the recovered cluster's bootstrap superuser (pg_amcheck
// installs amcheck, which needs one) and counts its databases.
func (dp *drillPITR) inventory(ctx context.Context) (string, int, error) {
	conn, err := dp.src.rec.Connect(ctx, "postgres")
	if err != nil {
		return "", 0, fmt.Errorf("connect to the recovered instance: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var super string
	var dbs int
	err = conn.QueryRow(ctx, `SELECT (SELECT rolname FROM pg_roles WHERE oid = 10), (SELECT count(*) FROM pg_database WHERE datallowconn)::int`).Scan(&super, &dbs)
	if err != nil {
		return "", 0, fmt.Errorf("read the recovered cluster's roles: %w", err)
	}
	return super, dbs, nil
}
