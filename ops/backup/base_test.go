package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// takeBase takes a base backup of the sandbox into a fresh store.
func takeBase(t *testing.T) (*Engine, *Manifest) {
	t.Helper()
	e := newEngine(t, testConfig(t))
	res, err := e.Backup(accesstest.Admin(t.Context()), Options{Kind: Base})
	if err != nil {
		t.Fatal(err)
	}
	return e, res.Manifest
}

// readContent reads a stored file's content whole.
func readContent(t *testing.T, e *Engine, id string, f File) []byte {
	t.Helper()
	fr, err := OpenFile(t.Context(), e.Store, id, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	b, err := io.ReadAll(fr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBaseBackup takes a base backup of the sandbox: the facts match what
// the server says, the set holds the tar and the backup_manifest, a deep
// verify passes, and `backup full` does not take it.
func TestBaseBackup(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(t.Context())
	e, m := takeBase(t)
	c, ok := m.Component(Base)
	if !ok || c.Status != StatusOK || c.Base == nil {
		t.Fatalf("component: %+v", m.Components)
	}
	if len(c.Files) != 2 || c.Files[0].Name != "base.tar.zst" || c.Files[1].Name != "backup_manifest.zst" {
		t.Fatalf("files: %+v", c.Files)
	}
	b := c.Base
	conn, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	facts, err := postgres.ReadBaseBackupFacts(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if b.SystemID != facts.SystemID || b.WALSegmentSize != facts.WALSegmentSize || b.ServerVersionNum != facts.VersionNum {
		t.Errorf("facts %+v, server %+v", b, facts)
	}
	var tli uint32
	if err := conn.QueryRow(ctx, "SELECT timeline_id FROM pg_control_checkpoint()").Scan(&tli); err != nil {
		t.Fatal(err)
	}
	if b.Timeline != tli || b.StartLSN == 0 || b.StopLSN <= b.StartLSN || b.CheckpointLSN < b.StartLSN {
		t.Errorf("WAL facts: %+v (timeline now %d)", b, tli)
	}
	if b.Files < 500 || b.DataBytes <= 0 || b.TotalBytes < b.DataBytes || b.ChecksumAlgorithm != "CRC32C" || len(b.ManifestChecksum) != 64 {
		t.Errorf("content facts: %+v", b)
	}
	t.Logf("base: %+v", *b)

	res, err := e.Verify(ctx, VerifyOptions{IDs: []string{m.ID}, Deep: true})
	if err != nil {
		t.Fatalf("deep verify: %v %+v", err, res)
	}
	if s, _ := Get(ctx, e.Store, m.ID); s.VerifyState() != VerifyDeepOK {
		t.Errorf("verify state %s", s.VerifyState())
	}

	comps, err := ComponentsOf("full")
	if err != nil || slices.Contains(comps, Base) {
		t.Errorf("full takes %v, %v", comps, err)
	}
	if !slices.Contains(Kinds, Base) {
		t.Errorf("kinds %v lack base", Kinds)
	}

	// pg_verifybackup reads a directory: the tar extracted, with the
	// stored backup_manifest, passes it.
	bin, err := exec.LookPath(filepath.Join(sb.Postgres.BinDir, "pg_verifybackup"))
	if err != nil {
		t.Logf("no pg_verifybackup: the cross-check is skipped (%v)", err)
		return
	}
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(readContent(t, e, m.ID, c.Files[0])))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(tr)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	stored := readContent(t, e, m.ID, c.Files[1])
	inTar, err := os.ReadFile(filepath.Join(dir, BackupManifestName))
	if err != nil || !bytes.Equal(stored, inTar) {
		t.Fatalf("the stored backup_manifest is not the tar's: %v", err)
	}
	out, err := exec.CommandContext(ctx, bin, "-n", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_verifybackup -n: %v\n%s", err, out)
	}
	t.Logf("pg_verifybackup -n: %s", strings.TrimSpace(string(out)))
}

// An encrypted base backup: both files are age files, and a deep verify
// with the identity reads them.
func TestBaseBackupEncrypted(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(t.Context())
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600)
	cfg := testConfig(t)
	cfg.Backup.Encryption.Recipients = []string{id.Recipient().String()}
	cfg.Backup.Encryption.IdentityFile = keyFile
	e := newEngine(t, cfg)
	res, err := e.Backup(ctx, Options{Kind: Base})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := res.Manifest.Component(Base)
	if len(c.Files) != 2 || c.Files[0].Name != "base.tar.zst.age" || c.Files[1].Name != "backup_manifest.zst.age" || c.Files[0].Encryption == "" {
		t.Fatalf("files: %+v", c.Files)
	}
	if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{res.Manifest.ID}, Deep: true}); err != nil {
		t.Fatalf("deep verify: %v", err)
	}
}

// A base backup is refused, with the fix named, when the server or role
// cannot give one: each case on a server of its own, or undone at the
// end.
func TestBaseBackupRefusals(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(t.Context())
	try := func(t *testing.T, dsn string, want ...string) {
		t.Helper()
		cfg := testConfig(t)
		cfg.Postgres.DSN = dsn
		e := newEngine(t, cfg)
		res, err := e.Backup(ctx, Options{Kind: Base})
		if err == nil {
			t.Fatalf("backup passed: %+v", res.Manifest)
		}
		if res.Manifest != nil {
			t.Errorf("a set was committed: %s", res.Manifest.ID)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q does not say %q", err, w)
			}
		}
		_, pw := SplitPassword(dsn)
		if pw != "" && strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %q", err)
		}
		t.Logf("refused: %v", err)
	}
	exec := func(t *testing.T, sql ...string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, sb.Postgres.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		for _, s := range sql {
			if _, err := conn.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}

	t.Run("no REPLICATION", func(t *testing.T) {
		exec(t, "CREATE ROLE opsdeck_norepl LOGIN PASSWORD 'norepl-pw'")
		t.Cleanup(func() { exec(t, "DROP ROLE opsdeck_norepl") })
		dsn := strings.Replace(sb.Postgres.AppDSN(), sandbox.PostgresAppUser+":"+sb.Postgres.AppPassword, "opsdeck_norepl:norepl-pw", 1)
		try(t, dsn, "no REPLICATION attribute", "ALTER ROLE opsdeck_norepl REPLICATION")
	})

	t.Run("tablespace", func(t *testing.T) {
		dir := filepath.Join(sb.Postgres.Dir, "ts-test")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if st, err := os.Stat(sb.Postgres.Dir); err == nil {
			sys := st.Sys().(*syscall.Stat_t)
			os.Chown(dir, int(sys.Uid), int(sys.Gid))
		}
		exec(t, "CREATE TABLESPACE opsdeck_ts LOCATION '"+dir+"'")
		t.Cleanup(func() { exec(t, "DROP TABLESPACE opsdeck_ts") })
		try(t, sb.Postgres.DSN(), "user tablespaces: opsdeck_ts", "only one tablespace", "SET TABLESPACE pg_default")
	})

	t.Run("wal_level minimal", func(t *testing.T) {
		pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{Settings: map[string]string{"wal_level": "minimal", "max_wal_senders": "0"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Stop() })
		try(t, pg.DSN(), "wal_level=minimal", "set wal_level = replica")
	})

	// One server with a single WAL sender: held by a replication
	// connection, then free with pg_hba's replication lines gone.
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{Settings: map[string]string{"max_wal_senders": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	t.Run("WAL senders in use", func(t *testing.T) {
		rc, err := pgx.Connect(ctx, pg.DSN()+"&replication=true")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close(context.Background())
		try(t, pg.DSN(), "all 1 WAL senders are in use", "raise max_wal_senders")
	})
	t.Run("no pg_hba line", func(t *testing.T) {
		hba := filepath.Join(pg.DataDir, "pg_hba.conf")
		old, err := os.ReadFile(hba)
		if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, l := range strings.Split(string(old), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[1] == "replication" {
				continue
			}
			kept = append(kept, l)
		}
		if err := os.WriteFile(hba, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		// reload has the server read pg_hba.conf and waits until a
		// replication connection sees it (refused or not).
		reload := func(refused bool) {
			conn, err := pgx.Connect(ctx, pg.DSN())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				rc, err := pgconn.Connect(ctx, pg.DSN()+"&replication=true")
				if err == nil {
					rc.Close(context.Background())
				}
				if (err != nil && strings.Contains(err.Error(), "no pg_hba.conf entry")) == refused {
					return
				}
				if i == 100 {
					t.Fatalf("pg_hba.conf not reloaded: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		reload(true)
		t.Cleanup(func() {
			os.WriteFile(hba, old, 0o600)
			reload(false)
		})
		try(t, pg.DSN(), "pg_hba.conf has no line for replication connections", "host replication "+sandbox.PostgresSuperuser)
	})
}

// TestBaseBackupConfig: the component's place in the registry.
func TestBaseBackupConfig(t *testing.T) {
	c, ok := LookupSetComponent(Base)
	if !ok || c.Chosen() || c.Restorable() || inFull(c) {
		t.Fatalf("base: %v chosen %v restorable %v in full %v", ok, c.Chosen(), c.Restorable(), inFull(c))
	}
	if d := config.Default().Backup.RetentionBy.Base; d.Count != 2 || d.Days != 14 {
		t.Errorf("default base retention %+v", d)
	}
}

// storedBase is the base component with a backup that stores the given
// tar and backup_manifest as the set's files, with their true sha256s,
// and the given facts: only the content checks can tell them apart.
type storedBase struct {
	baseComponent
	tar, manifest []byte
	facts         *BaseFacts
}

func (s storedBase) Backup(ctx context.Context, run *ComponentRun) error {
	run.Record.Base = s.facts
	for _, f := range []struct {
		name, format string
		data         []byte
	}{{baseTarFile, FormatBaseTar, s.tar}, {baseManifestFile, FormatBackupManifest, s.manifest}} {
		if err := run.WriteFile(ctx, f.name, f.format, nil, func(w io.Writer) error {
			_, err := w.Write(f.data)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// storeBase stores a base backup of tarBytes and manifest with facts into
// e's store and returns the set's id.
func storeBase(t *testing.T, e *Engine, tarBytes, manifest []byte, facts *BaseFacts) string {
	t.Helper()
	i := slices.IndexFunc(registered, func(c ComponentType) bool { return c.Name() == Base })
	saved := registered[i]
	registered[i] = storedBase{tar: tarBytes, manifest: manifest, facts: facts}
	defer func() { registered[i] = saved }()
	res, err := e.Backup(accesstest.Admin(t.Context()), Options{Kind: Base})
	if err != nil {
		t.Fatal(err)
	}
	return res.Manifest.ID
}

// rewriteTar copies a tar, letting edit change (or drop, returning false)
// each regular member, and appends extra members at the end.
func rewriteTar(t *testing.T, src []byte, edit func(h *tar.Header, data []byte) ([]byte, bool), extra ...member) []byte {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(src))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && edit != nil {
			var keep bool
			if data, keep = edit(h, data); !keep {
				continue
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	for _, m := range extra {
		tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(m.data))})
		tw.Write(m.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// A deep verify refuses a base backup whose stored files have their true
// sha256 but a damaged content, naming the file: a flipped byte in a data
// file, a file missing, a file the manifest lacks, an edited manifest,
// and a manifest inside the tar that is not the stored one. The same
// bytes pass a plain verify.
func TestDeepVerifyBaseDamage(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(t.Context())
	e, m := takeBase(t)
	c, _ := m.Component(Base)
	good := readContent(t, e, m.ID, c.Files[0])
	manifest := readContent(t, e, m.ID, c.Files[1])
	facts := *c.Base
	// The victim: the largest file under base/ (a table's data).
	var victim string
	var size int64
	tr := tar.NewReader(bytes.NewReader(good))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(h.Name, "base/") && h.Size > size {
			victim, size = h.Name, h.Size
		}
	}
	if victim == "" {
		t.Fatal("no data file in the tar")
	}
	editedManifest := bytes.Replace(manifest, []byte(fmt.Sprintf(`"Path": "%s", "Size": %d`, victim, size)), []byte(fmt.Sprintf(`"Path": "%s", "Size": %d`, victim, size+1)), 1)
	if bytes.Equal(editedManifest, manifest) {
		t.Fatalf("%s not found in the manifest", victim)
	}
	withManifest := func(mf []byte) func(h *tar.Header, data []byte) ([]byte, bool) {
		return func(h *tar.Header, data []byte) ([]byte, bool) {
			if h.Name == BackupManifestName {
				return mf, true
			}
			return data, true
		}
	}
	for _, tc := range []struct {
		name          string
		tar, manifest []byte
		want          []string
	}{
		{"good", good, manifest, nil},
		{"flipped byte", rewriteTar(t, good, func(h *tar.Header, data []byte) ([]byte, bool) {
			if h.Name == victim {
				data[len(data)/2] ^= 0x10
			}
			return data, true
		}), manifest, []string{"base.tar.zst", victim + " has CRC32C checksum"}},
		{"missing file", rewriteTar(t, good, func(h *tar.Header, data []byte) ([]byte, bool) {
			return data, h.Name != victim
		}), manifest, []string{"base.tar.zst", victim + " is in the backup_manifest but not in the tar"}},
		{"extra file", rewriteTar(t, good, nil, member{"base/1/424242", []byte("not the server's")}),
			manifest, []string{"base.tar.zst", "base/1/424242 is in the tar but not in the backup_manifest"}},
		{"edited manifest", rewriteTar(t, good, withManifest(editedManifest)), editedManifest,
			[]string{"backup_manifest.zst", "base.tar.zst", "Manifest-Checksum"}},
		{"other manifest in the tar", rewriteTar(t, good, withManifest(editedManifest)), manifest,
			[]string{"base.tar.zst", "the backup_manifest inside the tar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, testConfig(t))
			id := storeBase(t, e, tc.tar, tc.manifest, &facts)
			if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{id}}); err != nil {
				t.Fatalf("plain verify: %v", err)
			}
			res, err := e.Verify(ctx, VerifyOptions{IDs: []string{id}, Deep: true})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("deep verify of the good copy: %v", err)
				}
				return
			}
			if err == nil || len(res) != 1 || res[0].OK {
				t.Fatalf("deep verify passed: %+v", res)
			}
			msg := strings.Join(res[0].Problems, "; ")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
			t.Logf("refused: %.400s", msg)
		})
	}
	// The facts must match too: a set that says it starts elsewhere.
	other := facts
	other.StartLSN++
	e2 := newEngine(t, testConfig(t))
	id := storeBase(t, e2, good, manifest, &other)
	if _, err := e2.Verify(ctx, VerifyOptions{IDs: []string{id}, Deep: true}); err == nil || !strings.Contains(err.Error(), "WAL-Ranges") {
		t.Errorf("deep verify with other facts: %v", err)
	}
}
