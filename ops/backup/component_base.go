package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// Files of a base backup set (before the codec's extensions).
const (
	baseTarFile      = "base.tar"
	baseManifestFile = BackupManifestName
)

// Formats of a base backup's files.
const (
	FormatBaseTar        = "pg_basebackup-tar"
	FormatBackupManifest = "pg_backup_manifest"
)

// baseComponent is a physical base backup of the whole cluster:
// pg_basebackup's tar on its stdout, streamed through the codec, its
// members hashed as they pass and checked against the server's
// backup_manifest (the tar's last member), which is also stored as a
// file of its own. `backup full` leaves it out; its restore is not
// ops/restore's yet.
type baseComponent struct{}

func (baseComponent) Name() string { return Base }

func (baseComponent) About(*config.Config) string {
	return "pg_basebackup of the whole cluster (not part of full)"
}

func (baseComponent) Chosen() bool { return false }

func (baseComponent) Restorable() bool { return false }

// OnItsOwn: `backup full` does not take it (a full backup's database is
// the logical dump).
func (baseComponent) OnItsOwn() bool { return true }

func (baseComponent) Backup(ctx context.Context, run *ComponentRun) error {
	cfg := run.Config()
	if !cfg.Postgres.Configured() {
		return errors.New("no PostgreSQL configured — set postgres.dsn (or DATABASE_URL / PGHOST…)")
	}
	bb := baseBackup{
		dsn: cfg.Postgres.DSN, binDir: cfg.Backup.PgBinDir, run: run.Runner(), connect: cfg.Timeouts.Connect,
		label: "opsdeck " + run.id,
	}
	pre, err := bb.preflight(ctx)
	if pre.client != nil {
		defer pre.client() // it never outlives the backup
	}
	if err != nil {
		return err
	}
	run.Emit(progress.Info, fmt.Sprintf("PostgreSQL %s, about %s to copy", pre.server.Version, progress.Bytes(pre.server.DatabasesSize)), 0, 0)
	var facts *BaseFacts
	var manifest []byte
	err = run.WriteFile(ctx, baseTarFile, FormatBaseTar, baseTick(run, pre.server.DatabasesSize), func(w io.Writer) error {
		var err error
		facts, manifest, err = bb.stream(ctx, pre, w, func(line string) {
			run.Emit(progress.Info, line, 0, 0)
		})
		return err
	})
	if err != nil {
		return err
	}
	if err := run.WriteFile(ctx, baseManifestFile, FormatBackupManifest, nil, func(w io.Writer) error {
		_, err := w.Write(manifest)
		return err
	}); err != nil {
		return fmt.Errorf("store the backup_manifest: %w", err)
	}
	run.Record.Base = facts
	storeBaseRelMap(ctx, run, facts)
	return nil
}

// baseTick reports the tar's bytes against the estimate (the databases'
// sizes) with the time left.
func baseTick(run *ComponentRun, estimate int64) func(int64) {
	start := time.Now()
	meter := progress.NewMeter(start, estimate)
	var last time.Time
	return func(n int64) {
		now := time.Now()
		meter.Update(now, n)
		if now.Sub(last) < 250*time.Millisecond {
			return
		}
		last = now
		total := estimate
		if n > total {
			total = 0 // past the estimate: unknown
		}
		msg := ""
		// The first second's rate is the checkpoint's, not the copy's.
		if _, _, rate, eta := meter.Stats(now); rate > 0 && now.Sub(start) >= time.Second {
			msg = progress.Bytes(int64(rate)) + "/s"
			if eta >= 0 && total > 0 {
				msg += ", ETA " + eta.Round(time.Second).String()
			}
		}
		run.Progress.Emit(progress.Event{Kind: progress.Advance, Op: "backup", Step: run.Record.Name, Done: n, Total: total, Bytes: true, Message: msg})
	}
}

// Check reads one of the set's files. The tar is read as a stream and
// held against the stored backup_manifest (every file once, with its size
// and checksum; nothing the manifest lacks but what pg_verifybackup
// ignores), and the backup_manifest inside the tar must be the stored
// one. The stored backup_manifest's own checksum and WAL range are held
// against the set's record.
func (baseComponent) Check(ctx context.Context, c *ContentCheck) error {
	facts := c.Record.Base
	if facts == nil {
		return errors.New("the set's manifest has no base backup facts")
	}
	switch c.File.Format {
	case FormatBackupManifest:
		data, err := readBounded(c.Content, maxBackupManifest)
		if err != nil {
			return err
		}
		m, err := ParseServerManifest(data)
		if err != nil {
			return err
		}
		return checkBaseFacts(m, facts)
	case FormatBaseTar:
	default:
		return fmt.Errorf("unknown base backup file format %q", c.File.Format)
	}
	mf, ok := baseFile(c.Record, FormatBackupManifest)
	if !ok {
		return errors.New("the set has no backup_manifest file to check the tar against")
	}
	fr, err := OpenFile(ctx, c.e.Store, c.Set.ID, mf, c.ids)
	if err != nil {
		return err
	}
	stored, err := readBounded(fr, maxBackupManifest)
	if err == nil {
		err = fr.Verified()
	}
	fr.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", mf.Name, err)
	}
	m, err := ParseServerManifest(stored)
	if err != nil {
		return fmt.Errorf("%s: %w", mf.Name, err)
	}
	if err := checkBaseFacts(m, facts); err != nil {
		return err
	}
	algo := make(map[string]string, len(m.Files))
	for _, f := range m.Files {
		algo[f.Path] = f.Algorithm
	}
	t, err := ScanBaseTar(c.Content, func(p string) string {
		if a, ok := algo[p]; ok {
			return a
		}
		return "NONE" // not in the manifest: only its presence counts
	})
	if err != nil {
		return err
	}
	if err := CheckBaseTar(t, m); err != nil {
		return err
	}
	switch {
	case t.Manifest == nil:
		return errors.New("the tar has no backup_manifest")
	case !bytes.Equal(t.Manifest, stored):
		return fmt.Errorf("the backup_manifest inside the tar (sha256 %x) is not the stored %s (sha256 %x)", sha256.Sum256(t.Manifest), mf.Name, sha256.Sum256(stored))
	}
	if t.Label == nil {
		return errors.New("the tar has no backup_label")
	}
	label, err := ParseBackupLabel(t.Label)
	if err != nil {
		return err
	}
	if label.StartLSN != facts.StartLSN || label.Timeline != facts.Timeline {
		return fmt.Errorf("backup_label starts at %s on timeline %d, the set's manifest says %s on timeline %d", label.StartLSN, label.Timeline, facts.StartLSN, facts.Timeline)
	}
	return nil
}

// checkBaseFacts holds the server's manifest against the set's record.
func checkBaseFacts(m *ServerManifest, f *BaseFacts) error {
	if m.Start() != f.StartLSN || m.End() != f.StopLSN || m.Timeline() != f.Timeline {
		return fmt.Errorf("backup_manifest's WAL-Ranges run from %s to %s on timeline %d, the set's manifest says %s to %s on timeline %d",
			m.Start(), m.End(), m.Timeline(), f.StartLSN, f.StopLSN, f.Timeline)
	}
	if m.SystemID != 0 && f.SystemID != 0 && m.SystemID != f.SystemID {
		return fmt.Errorf("backup_manifest's System-Identifier is %d, the set's manifest says %d", m.SystemID, f.SystemID)
	}
	if f.ManifestChecksum != "" && !strings.EqualFold(m.Checksum, f.ManifestChecksum) {
		return fmt.Errorf("backup_manifest's Manifest-Checksum is %s, the set's manifest recorded %s", m.Checksum, f.ManifestChecksum)
	}
	return nil
}

// baseFile returns the record's file of format.
func baseFile(c *Component, format string) (File, bool) {
	for _, f := range c.Files {
		if f.Format == format {
			return f, true
		}
	}
	return File{}, false
}

// readBounded reads r to its end, refusing more than max bytes.
func readBounded(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("more than %s", progress.Bytes(max))
	}
	return b, nil
}

// baseBackup takes a base backup with pg_basebackup.
type baseBackup struct {
	dsn     string
	binDir  string
	run     runner.Runner
	connect time.Duration
	label   string
}

// basePreflight is what the preflight learnt.
type basePreflight struct {
	server postgres.BaseBackupFacts
	// client waits for `pg_basebackup --version`, which runs beside the
	// backup: Debian's pg_basebackup is a Perl wrapper that takes a few
	// tenths of a second to start, and pg_basebackup refuses a server
	// newer than itself on its own.
	client  func() (clientVersion, error)
	user    string
	bin     string
	secrets []string
}

// clientVersion is pg_basebackup's version.
type clientVersion struct {
	major   int
	version string
}

// preflight reads the server's facts and refuses, with the fix, what
// pg_basebackup would fail on (or what its tar on stdout cannot hold).
// The caller must call pre.client before it returns.
func (b baseBackup) preflight(ctx context.Context) (basePreflight, error) {
	var pre basePreflight
	_, password := ClientConnection(b.dsn)
	pre.secrets = []string{password}
	pre.bin = PgBin(b.binDir, "pg_basebackup")
	versionCh := make(chan error, 1)
	var out string
	go func() {
		var err error
		out, err = runner.Output(ctx, b.run, runner.Cmd{Path: pre.bin, Args: []string{"--version"}})
		versionCh <- err
	}()
	pre.client = sync.OnceValues(func() (clientVersion, error) {
		if err := <-versionCh; err != nil {
			return clientVersion{}, fmt.Errorf("run %s --version: %w", pre.bin, err)
		}
		major, version, err := PgDumpMajor(out)
		if err != nil {
			return clientVersion{}, fmt.Errorf("%s: %w", pre.bin, err)
		}
		return clientVersion{major, version}, nil
	})
	conn, cfg, err := connectBackup(ctx, b.dsn, b.connect, pre.secrets)
	if cfg != nil {
		pre.user = cfg.User
	}
	if err != nil {
		return pre, err
	}
	pre.server, err = postgres.ReadBaseBackupFacts(ctx, conn)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return pre, fmt.Errorf("read the server's settings for a base backup: %w", err)
	}
	return pre, refuseBase(pre.server, pre.user)
}

// refuseBase refuses a server or client a base backup cannot work with,
// naming the fix.
func refuseBase(s postgres.BaseBackupFacts, user string) error {
	switch {
	case ServerMajor(s.VersionNum) < 13:
		return fmt.Errorf("PostgreSQL %s sends no backup_manifest: opsdeck's base backups need PostgreSQL 13 or newer — use opsdeck backup database", s.Version)
	case s.WALLevel == "minimal":
		return errors.New("the server runs with wal_level=minimal, which allows no base backup — set wal_level = replica in postgresql.conf (and max_wal_senders ≥ 2) and restart PostgreSQL")
	case !s.Superuser && !s.Replication:
		return fmt.Errorf("role %q has no REPLICATION attribute, which a base backup needs — run ALTER ROLE %s REPLICATION as a superuser, or point postgres.dsn at a role that has it", user, user)
	case s.MaxWALSenders == 0:
		return errors.New("max_wal_senders is 0: the server accepts no replication connection — set max_wal_senders = 10 in postgresql.conf and restart PostgreSQL")
	case s.WALSendersInUse >= s.MaxWALSenders:
		return fmt.Errorf("all %d WAL senders are in use (max_wal_senders = %d): a base backup needs one — raise max_wal_senders and restart PostgreSQL, or stop a replica or pg_receivewal that holds one", s.WALSendersInUse, s.MaxWALSenders)
	case len(s.Tablespaces) > 0:
		var names []string
		for _, t := range s.Tablespaces {
			names = append(names, fmt.Sprintf("%s (%s)", t.Name, t.Location))
		}
		return fmt.Errorf("the cluster has user tablespaces: %s — pg_basebackup can write only one tablespace to a stream, so opsdeck cannot take a base backup of it; move their objects to pg_default (ALTER TABLE/INDEX … SET TABLESPACE pg_default, ALTER DATABASE … SET TABLESPACE pg_default) and drop the tablespaces, or back this cluster up with opsdeck backup database", strings.Join(names, ", "))
	}
	return nil
}

// BaseBackupArgs builds pg_basebackup's arguments: one tar on stdout,
// no WAL (the WAL archive keeps it), an immediate checkpoint, CRC32C
// checksums in the server's manifest, the connection string without its
// password, never a password prompt.
func BaseBackupArgs(dsnWithoutPassword, label string) []string {
	args := []string{"--pgdata=-", "--format=tar", "--wal-method=none", "--checkpoint=fast", "--manifest-checksums=CRC32C", "--no-password", "--verbose"}
	if label != "" {
		args = append(args, "--label="+label)
	}
	if dsnWithoutPassword != "" {
		args = append(args, "--dbname="+dsnWithoutPassword)
	}
	return args
}

// stream runs pg_basebackup into w and reads its tar on the way (another
// goroutine, through a handoff): every member is hashed, backup_label and
// backup_manifest are kept, and at the end the members are held against
// the manifest. It returns the facts and the manifest's bytes.
func (b baseBackup) stream(ctx context.Context, pre basePreflight, w io.Writer, onLine func(string)) (*BaseFacts, []byte, error) {
	dsn, password := ClientConnection(b.dsn)
	tee := newHandoff(1<<20, 4)
	type scanned struct {
		t   *BaseTar
		err error
	}
	scanDone := make(chan scanned, 1)
	go func() {
		t, err := ScanBaseTar(tee, nil)
		if err != nil {
			tee.Fail(err)
		}
		tee.Discard()
		scanDone <- scanned{t, err}
	}()
	runErr := b.run.Run(ctx, runner.Cmd{
		Path: pre.bin, Args: BaseBackupArgs(dsn, b.label), Env: PgEnv(password), Stdout: teeWriter{w, tee},
		Secrets: pre.secrets, StderrLines: 12,
		OnStderr: func(line string) {
			if l := strings.TrimPrefix(line, "pg_basebackup: "); l != line && onLine != nil {
				onLine(l)
			}
		},
	})
	tee.CloseWrite(runErr)
	sc := <-scanDone
	client, verr := pre.client()
	if runErr != nil {
		if sc.err != nil && errors.Is(runErr, sc.err) {
			// The reader gave up and pg_basebackup was stopped.
			return nil, nil, fmt.Errorf("the base backup's tar does not parse: %w", sc.err)
		}
		if sm := ServerMajor(pre.server.VersionNum); verr == nil && client.major < sm {
			return nil, nil, fmt.Errorf("%s is version %d, older than the server (PostgreSQL %s): it cannot back it up — install postgresql-client-%d, or set backup.pg_bin_dir to its bin directory: %w",
				pre.bin, client.major, pre.server.Version, sm, runErr)
		}
		return nil, nil, classifyBaseBackup(runErr, pre.user)
	}
	if sc.err != nil {
		return nil, nil, fmt.Errorf("the base backup's tar does not parse: %w", sc.err)
	}
	t := sc.t
	if t.Manifest == nil {
		return nil, nil, errors.New("pg_basebackup's tar holds no backup_manifest — the server must send one (PostgreSQL 13 or newer, without --no-manifest)")
	}
	m, err := ParseServerManifest(t.Manifest)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckBaseTar(t, m); err != nil {
		return nil, nil, err
	}
	if t.Label == nil {
		return nil, nil, errors.New("pg_basebackup's tar holds no backup_label")
	}
	label, err := ParseBackupLabel(t.Label)
	if err != nil {
		return nil, nil, err
	}
	if label.StartLSN != m.Start() || label.Timeline != m.Timeline() {
		return nil, nil, fmt.Errorf("backup_label starts at %s on timeline %d, the backup_manifest's WAL-Ranges at %s on timeline %d", label.StartLSN, label.Timeline, m.Start(), m.Timeline())
	}
	s := pre.server
	facts := &BaseFacts{
		ServerVersion: s.Version, ServerVersionNum: s.VersionNum, PgBaseBackupVersion: client.version,
		SystemID: s.SystemID, Timeline: label.Timeline, StartLSN: m.Start(), StopLSN: m.End(), CheckpointLSN: label.CheckpointLSN,
		StartWALFile: label.StartWALFile, WALSegmentSize: s.WALSegmentSize, From: label.From,
		Files: len(m.Files), DataBytes: m.DataBytes(), TotalBytes: t.Bytes,
		ChecksumAlgorithm: m.Algorithm(), ManifestChecksum: m.Checksum,
	}
	return facts, t.Manifest, nil
}

// classifyBaseBackup turns pg_basebackup's failure into what to do.
func classifyBaseBackup(err error, user string) error {
	text := err.Error()
	var re *runner.Error
	if errors.As(err, &re) {
		text += "\n" + strings.Join(re.Stderr, "\n")
	}
	fix := postgres.ReplicationAdvice(text, orAll(user))
	switch {
	case fix != "":
	case strings.Contains(text, "can only write single tablespace to stdout"):
		fix = "the cluster has user tablespaces and pg_basebackup can write only one to a stream — move their objects to pg_default and drop the tablespaces, or use opsdeck backup database"
	case strings.Contains(text, "incompatible server version"):
		fix = "pg_basebackup is older than the server — install the server's postgresql-client package, or set backup.pg_bin_dir to its bin directory"
	case strings.Contains(text, "password authentication failed"):
		fix = "the server refused the password — check postgres.dsn"
	}
	if fix == "" {
		return fmt.Errorf("pg_basebackup failed, no backup was made: %w", err)
	}
	return fmt.Errorf("pg_basebackup failed, no backup was made: %s: %w", fix, err)
}

func orAll(user string) string {
	if user == "" {
		return "<role>"
	}
	return user
}
