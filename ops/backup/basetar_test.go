package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// member is one file of a synthetic base backup tar.
type member struct {
	name string
	data []byte
}

// sampleMembers are a tiny data directory.
func sampleMembers() []member {
	return []member{
		{BackupLabelName, []byte("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-01-02 03:04:05 UTC\nLABEL: opsdeck\nSTART TIMELINE: 1\n")},
		{"PG_VERSION", []byte("15\n")},
		{"global/pg_control", bytes.Repeat([]byte{7}, 512)},
		{"base/1/1259", bytes.Repeat([]byte("pg_class"), 300)},
		{"base/1/empty", nil},
		{"postgresql.auto.conf", []byte("# auto\n")},
	}
}

// serverManifestOf writes a backup_manifest as PostgreSQL does, with
// algo's checksums and its Manifest-Checksum.
func serverManifestOf(t testing.TB, ms []member, algo string) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n")
	for i, m := range ms {
		sep := ","
		if i == len(ms)-1 {
			sep = ""
		}
		h, format, err := newFileSum(algo)
		if err != nil {
			t.Fatal(err)
		}
		sum := ""
		if h != nil {
			h.Write(m.data)
			sum = fmt.Sprintf(`, "Checksum": "%s"`, format(h))
		}
		fmt.Fprintf(&b, `{ "Path": "%s", "Size": %d, "Last-Modified": "2026-01-02 03:04:05 GMT", "Checksum-Algorithm": "%s"%s }%s`+"\n", m.name, len(m.data), algo, sum, sep)
	}
	b.WriteString("],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n")
	sum := sha256.Sum256([]byte(b.String()))
	fmt.Fprintf(&b, "\"Manifest-Checksum\": \"%s\"}\n", hex.EncodeToString(sum[:]))
	return []byte(b.String())
}

// tarOf writes ms as a tar, with directories for their parents.
func tarOf(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, m := range ms {
		if d, _, ok := strings.Cut(m.name, "/"); ok && !dirs[d] {
			dirs[d] = true
			tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o700})
		}
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(m.data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sampleBaseTar is a good synthetic base backup: the members, then the
// manifest, as pg_basebackup writes them.
func sampleBaseTar(t testing.TB, algo string) (tarBytes, manifest []byte) {
	ms := sampleMembers()
	manifest = serverManifestOf(t, ms, algo)
	return tarOf(t, append(ms, member{BackupManifestName, manifest})), manifest
}

func checkSynthetic(t *testing.T, data []byte, algo string) error {
	t.Helper()
	bt, err := ScanBaseTar(bytes.NewReader(data), func(string) string { return algo })
	if err != nil {
		return err
	}
	m, err := ParseServerManifest(bt.Manifest)
	if err != nil {
		return err
	}
	return CheckBaseTar(bt, m)
}

// The CRC32C of the server's manifest is its four bytes little-endian:
// PG_VERSION "15\n" of a real PostgreSQL 15 manifest.
func TestManifestCRC32C(t *testing.T) {
	h, format, _ := newFileSum("CRC32C")
	h.Write([]byte("15\n"))
	if got := format(h); got != "8a744722" {
		t.Errorf("CRC32C(15\\n) = %s, the server says 8a744722", got)
	}
}

// A good synthetic backup passes with every algorithm; each damage is
// named.
func TestCheckBaseTar(t *testing.T) {
	for _, algo := range []string{"CRC32C", "SHA224", "SHA256", "SHA384", "SHA512", "NONE"} {
		data, _ := sampleBaseTar(t, algo)
		if err := checkSynthetic(t, data, algo); err != nil {
			t.Errorf("%s: %v", algo, err)
		}
	}
	good := sampleMembers()
	manifest := serverManifestOf(t, good, "CRC32C")
	with := func(f func(ms []member) []member) []byte {
		ms := f(append([]member(nil), good...))
		return tarOf(t, append(ms, member{BackupManifestName, manifest}))
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"flipped byte", with(func(ms []member) []member {
			d := bytes.Clone(ms[3].data)
			d[100] ^= 1
			ms[3].data = d
			return ms
		}), "base/1/1259 has CRC32C checksum"},
		{"cut file", with(func(ms []member) []member { ms[2].data = ms[2].data[:100]; return ms }), "global/pg_control has 100 bytes, the backup_manifest says 512"},
		{"missing", with(func(ms []member) []member { return append(ms[:3], ms[4:]...) }), "base/1/1259 is in the backup_manifest but not in the tar"},
		{"extra", with(func(ms []member) []member { return append(ms, member{"base/1/99999", []byte("x")}) }), "base/1/99999 is in the tar but not in the backup_manifest"},
		{"twice", with(func(ms []member) []member { return append(ms, ms[1]) }), "PG_VERSION is in the tar 2 times"},
		{"edited manifest", func() []byte {
			ms := append([]member(nil), good...)
			edited := bytes.Replace(manifest, []byte(`"Size": 512`), []byte(`"Size": 513`), 1)
			return tarOf(t, append(ms, member{BackupManifestName, edited}))
		}(), "Manifest-Checksum"},
		{"cut tar", with(func(ms []member) []member { return ms })[:2048], "backup_manifest does not end with a newline"},
	} {
		err := checkSynthetic(t, tc.data, "CRC32C")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// What pg_verifybackup ignores may be there without being listed.
	data := with(func(ms []member) []member {
		return append(ms, member{"pg_wal/000000010000000000000002", []byte("wal")}, member{"standby.signal", nil}, member{"recovery.signal", nil})
	})
	if err := checkSynthetic(t, data, "CRC32C"); err != nil {
		t.Errorf("ignored files: %v", err)
	}
}

func TestParseBackupLabel(t *testing.T) {
	l, err := ParseBackupLabel(sampleMembers()[0].data)
	if err != nil || l.StartLSN != pgwal.LSN(0x2000028) || l.Timeline != 1 || l.CheckpointLSN != 0x2000060 ||
		l.StartWALFile != "000000010000000000000002" || l.From != "primary" {
		t.Errorf("%+v, %v", l, err)
	}
	if _, err := ParseBackupLabel([]byte("START TIMELINE: 1\n")); err == nil {
		t.Error("a label without a start parsed")
	}
}

// pg_basebackup's errors become the fix.
func TestClassifyBaseBackup(t *testing.T) {
	for _, tc := range []struct{ stderr, want string }{
		{`pg_basebackup: error: connection to server at "db", port 5432 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.0.0.5", user "backup", no encryption`, "host replication backup"},
		{`pg_basebackup: error: connection to server at "db", port 5432 failed: FATAL:  must be superuser or replication role to start walsender`, "ALTER ROLE backup REPLICATION"},
		{`FATAL:  number of requested standby connections exceeds max_wal_senders (currently 1)`, "raise max_wal_senders"},
		{`ERROR:  WAL level not sufficient for making an online backup`, "set wal_level = replica"},
		{`pg_basebackup: error: can only write single tablespace to stdout, database has 2`, "move their objects to pg_default"},
		{`something else`, "pg_basebackup failed, no backup was made: pg_basebackup: exit"},
	} {
		err := classifyBaseBackup(fmt.Errorf("pg_basebackup: exit status 1; it said:\n  %s", tc.stderr), "backup")
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q → %q, want %q", tc.stderr, err, tc.want)
		}
	}
}

// FuzzBaseTar: a base backup's tar and its manifest come from the store.
func FuzzBaseTar(f *testing.F) {
	good, manifest := sampleBaseTar(f, "CRC32C")
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:len(good)-1024])
	sha, _ := sampleBaseTar(f, "SHA512")
	f.Add(sha)
	f.Add(tarOf(f, []member{{BackupManifestName, manifest[:len(manifest)/2]}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcheck.Run(t, len(data), func() {
			bt, err := ScanBaseTar(bytes.NewReader(data), nil)
			if err != nil {
				return
			}
			_, _ = ParseBackupLabel(bt.Label)
			m, err := ParseServerManifest(bt.Manifest)
			if err != nil {
				return
			}
			_ = m.Algorithm()
			_ = CheckBaseTar(bt, m)
		})
	})
}

// FuzzServerManifest: the stored backup_manifest file.
func FuzzServerManifest(f *testing.F) {
	_, manifest := sampleBaseTar(f, "CRC32C")
	f.Add(manifest)
	f.Add(manifest[:len(manifest)/2])
	f.Add([]byte("{\"PostgreSQL-Backup-Manifest-Version\": 2, \"Files\": [{\"Encoded-Path\": \"zz\"}],\n\"Manifest-Checksum\": \"\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcheck.Run(t, len(data), func() {
			m, err := ParseServerManifest(data)
			if err == nil {
				_ = m.Algorithm()
				_ = m.DataBytes()
			}
		})
	})
}
