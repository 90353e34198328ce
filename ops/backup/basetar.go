package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/opsdeck/opsdeck/internal/jsonbound"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// A base backup is pg_basebackup's tar of the data directory with the
// server's backup_manifest appended as its last member. The manifest
// lists every file the server sent with its size and checksum, and the
// WAL range a restore needs. This file reads both: ParseServerManifest
// checks the manifest's own checksum, ScanBaseTar reads the tar as a
// stream (no extraction) and hashes each member, and CheckBaseTar holds
// the two against each other as pg_verifybackup does for a directory
// (PostgreSQL 15's pg_verifybackup reads only plain directories).

// Names inside a base backup's tar.
const (
	BackupLabelName    = "backup_label"
	BackupManifestName = "backup_manifest"
)

// Bounds on what the tar reader keeps in memory: backup_label is a few
// hundred bytes; backup_manifest is about 150 bytes per file of the
// cluster (a million files is 150 MB).
const (
	maxBackupLabel    = 64 << 10
	maxBackupManifest = 512 << 20
)

// ServerManifest is PostgreSQL's backup_manifest (version 1).
type ServerManifest struct {
	Version int `json:"PostgreSQL-Backup-Manifest-Version"`
	// SystemID is the cluster's system identifier (version 2,
	// PostgreSQL 17 on; 0 before).
	SystemID  uint64          `json:"System-Identifier"`
	Files     []ManifestEntry `json:"Files"`
	WALRanges []WALRange      `json:"WAL-Ranges"`
	// Checksum is the manifest's Manifest-Checksum: SHA-256 of its text
	// up to and including the newline before the line holding it.
	Checksum string `json:"Manifest-Checksum"`
}

// ManifestEntry is one file of the backup as the server sent it.
type ManifestEntry struct {
	Path string `json:"Path"`
	// EncodedPath is the path in hex, for a name that is not UTF-8.
	EncodedPath string `json:"Encoded-Path"`
	Size        int64  `json:"Size"`
	// Algorithm is CRC32C (the default), SHA224, SHA256, SHA384, SHA512
	// or NONE (no Checksum).
	Algorithm string `json:"Checksum-Algorithm"`
	Checksum  string `json:"Checksum"`
}

// WALRange is a stretch of WAL on one timeline the backup needs.
type WALRange struct {
	Timeline uint32    `json:"Timeline"`
	Start    pgwal.LSN `json:"Start-LSN"`
	End      pgwal.LSN `json:"End-LSN"`
}

// name is the entry's path, decoded when the manifest holds it in hex.
func (e ManifestEntry) name() (string, error) {
	if e.Path != "" || e.EncodedPath == "" {
		return e.Path, nil
	}
	b, err := hex.DecodeString(e.EncodedPath)
	if err != nil {
		return "", fmt.Errorf("bad Encoded-Path %.40q", e.EncodedPath)
	}
	return string(b), nil
}

// ParseServerManifest decodes a backup_manifest and checks its
// Manifest-Checksum.
func ParseServerManifest(data []byte) (*ServerManifest, error) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, errors.New("backup_manifest does not end with a newline: it is cut short")
	}
	// The checksum covers everything up to and including the newline
	// before the last line (the one holding the checksum).
	cut := bytes.LastIndexByte(data[:len(data)-1], '\n')
	if cut < 0 || !bytes.Contains(data[cut+1:], []byte(`"Manifest-Checksum"`)) {
		return nil, errors.New("backup_manifest has no Manifest-Checksum line at its end")
	}
	var m ServerManifest
	if err := jsonbound.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("backup_manifest does not parse: %w", err)
	}
	if m.Version != 1 && m.Version != 2 {
		return nil, fmt.Errorf("backup_manifest version %d: this opsdeck reads versions 1 and 2", m.Version)
	}
	sum := sha256.Sum256(data[:cut+1])
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, m.Checksum) {
		return nil, fmt.Errorf("backup_manifest's Manifest-Checksum is %.64s, its text hashes to %s: the manifest was changed", m.Checksum, got)
	}
	if len(m.WALRanges) == 0 {
		return nil, errors.New("backup_manifest has no WAL-Ranges")
	}
	seen := make(map[string]bool, len(m.Files))
	for i, f := range m.Files {
		p, err := f.name()
		if err != nil {
			return nil, fmt.Errorf("backup_manifest file %d: %w", i, err)
		}
		if p == "" || seen[p] {
			return nil, fmt.Errorf("backup_manifest lists %q twice or without a path", p)
		}
		seen[p] = true
		m.Files[i].Path, m.Files[i].EncodedPath = p, ""
		if f.Size < 0 {
			return nil, fmt.Errorf("backup_manifest gives %s a negative size", p)
		}
		if _, _, err := newFileSum(f.Algorithm); err != nil {
			return nil, fmt.Errorf("backup_manifest file %s: %w", p, err)
		}
	}
	return &m, nil
}

// Start and End are the first and last LSN of the WAL the backup needs,
// Timeline the timeline it starts on.
func (m *ServerManifest) Start() pgwal.LSN { return m.WALRanges[0].Start }
func (m *ServerManifest) End() pgwal.LSN   { return m.WALRanges[len(m.WALRanges)-1].End }
func (m *ServerManifest) Timeline() uint32 { return m.WALRanges[0].Timeline }
func (m *ServerManifest) DataBytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Algorithm is the checksum algorithm of the manifest's files: the one
// they share, or "mixed".
func (m *ServerManifest) Algorithm() string {
	algo := ""
	for _, f := range m.Files {
		a := strings.ToUpper(f.Algorithm)
		if a == "" {
			a = "NONE"
		}
		switch {
		case algo == "":
			algo = a
		case algo != a:
			return "mixed"
		}
	}
	return algo
}

// newFileSum returns the hash of a manifest's checksum algorithm and how
// to print its sum as the manifest does; nil for NONE.
func newFileSum(algo string) (hash.Hash, func(hash.Hash) string, error) {
	hexOf := func(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
	switch strings.ToUpper(algo) {
	case "CRC32C":
		// The server prints the CRC's four bytes in its own order:
		// little-endian on every platform it runs on in practice.
		return crc32.New(castagnoli), func(h hash.Hash) string {
			b := h.Sum(nil)
			slices.Reverse(b)
			return hex.EncodeToString(b)
		}, nil
	case "SHA224":
		return sha256.New224(), hexOf, nil
	case "SHA256":
		return sha256.New(), hexOf, nil
	case "SHA384":
		return sha512.New384(), hexOf, nil
	case "SHA512":
		return sha512.New(), hexOf, nil
	case "NONE", "":
		return nil, nil, nil
	}
	return nil, nil, fmt.Errorf("unknown checksum algorithm %.20q", algo)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TarMember is one regular file of a base backup's tar as read.
type TarMember struct {
	Size int64
	// Sum is its checksum in the algorithm asked for ("" for none).
	Sum       string
	Algorithm string
	// Count is how many times the path is in the tar.
	Count int
}

// BaseTar is what ScanBaseTar found in a base backup's tar.
type BaseTar struct {
	// Members are the regular files by path.
	Members map[string]*TarMember
	// Label and Manifest are the contents of backup_label and
	// backup_manifest (nil when absent).
	Label, Manifest []byte
	// Bytes is the tar stream's length as read.
	Bytes int64
}

// ScanBaseTar reads a base backup's tar to its end and hashes every
// regular file with the algorithm algo names for its path (CRC32C when
// algo is nil), keeping backup_label and backup_manifest. It extracts
// nothing.
func ScanBaseTar(r io.Reader, algo func(path string) string) (*BaseTar, error) {
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	out := &BaseTar{Members: map[string]*TarMember{}}
	buf := make([]byte, 256<<10)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, fmt.Errorf("the tar does not parse after %d bytes: %w", cr.n, err)
		}
		if !h.FileInfo().Mode().IsRegular() {
			continue // directories, links: the manifest lists files only
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		m := out.Members[name]
		if m == nil {
			m = &TarMember{}
			out.Members[name] = m
		}
		m.Count++
		a := "CRC32C"
		if algo != nil {
			a = algo(name)
		}
		sum, format, err := newFileSum(a)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		var keep *bytes.Buffer
		limit := int64(0)
		switch name {
		case BackupLabelName:
			keep, limit = &bytes.Buffer{}, maxBackupLabel
		case BackupManifestName:
			keep, limit = &bytes.Buffer{}, maxBackupManifest
		}
		var dst io.Writer = io.Discard
		switch {
		case sum != nil && keep != nil:
			dst = io.MultiWriter(sum, &limitedWriter{w: keep, max: limit})
		case sum != nil:
			dst = sum
		case keep != nil:
			dst = &limitedWriter{w: keep, max: limit}
		}
		n, err := io.CopyBuffer(onlyWriter{dst}, tr, buf)
		m.Size = n
		if err != nil {
			return out, fmt.Errorf("the tar is cut short in %s after %d bytes: %w", name, n, err)
		}
		if keep != nil && int64(keep.Len()) < n {
			return out, fmt.Errorf("%s in the tar is %d bytes, more than the %d kept", name, n, limit)
		}
		if sum != nil {
			m.Sum, m.Algorithm = format(sum), strings.ToUpper(a)
		}
		switch name {
		case BackupLabelName:
			out.Label = keep.Bytes()
		case BackupManifestName:
			out.Manifest = keep.Bytes()
		}
	}
	// The rest of the stream (tar's zero blocks) belongs to it too.
	if _, err := io.CopyBuffer(io.Discard, cr, buf); err != nil {
		return out, err
	}
	out.Bytes = cr.n
	return out, nil
}

// ignoredExtra reports whether a file the manifest lacks may be in the
// backup anyway: what pg_verifybackup ignores.
func ignoredExtra(p string) bool {
	switch p {
	case BackupManifestName, "postgresql.auto.conf", "standby.signal", "recovery.signal", "pg_wal":
		return true
	}
	return strings.HasPrefix(p, "pg_wal/")
}

// CheckBaseTar holds a scanned tar against the server's manifest: every
// file of the manifest in the tar once, with its size and checksum; no
// file the manifest lacks but those pg_verifybackup ignores. The error
// names the files (the first twenty).
func CheckBaseTar(t *BaseTar, m *ServerManifest) error {
	var bad []string
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		listed[f.Path] = true
		got, ok := t.Members[f.Path]
		switch {
		case !ok:
			bad = append(bad, f.Path+" is in the backup_manifest but not in the tar")
		case got.Count > 1:
			bad = append(bad, fmt.Sprintf("%s is in the tar %d times", f.Path, got.Count))
		case got.Size != f.Size:
			bad = append(bad, fmt.Sprintf("%s has %d bytes, the backup_manifest says %d", f.Path, got.Size, f.Size))
		case f.Checksum != "" && !strings.EqualFold(got.Sum, f.Checksum):
			if got.Algorithm != strings.ToUpper(f.Algorithm) {
				bad = append(bad, fmt.Sprintf("%s was hashed with %s, the backup_manifest uses %s", f.Path, got.Algorithm, f.Algorithm))
			} else {
				bad = append(bad, fmt.Sprintf("%s has %s checksum %s, the backup_manifest says %s", f.Path, f.Algorithm, got.Sum, f.Checksum))
			}
		}
	}
	var extra []string
	for p := range t.Members {
		if !listed[p] && !ignoredExtra(p) {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		bad = append(bad, p+" is in the tar but not in the backup_manifest")
	}
	if mm := t.Members[BackupManifestName]; mm != nil && mm.Count > 1 {
		bad = append(bad, "backup_manifest is in the tar "+strconv.Itoa(mm.Count)+" times")
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("the tar does not match the server's backup_manifest: %s", strings.Join(summarizeWarnings(bad, 20), "; "))
}

// BackupLabel is what a base backup's backup_label says.
type BackupLabel struct {
	StartLSN      pgwal.LSN
	StartWALFile  string
	CheckpointLSN pgwal.LSN
	Timeline      uint32
	StartTime     string
	From          string // primary or standby
}

// ParseBackupLabel reads backup_label's lines ("START WAL LOCATION: 0/2000028
// (file 000000010000000000000002)", "START TIMELINE: 1", ...).
func ParseBackupLabel(b []byte) (BackupLabel, error) {
	var l BackupLabel
	var haveStart, haveTLI bool
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch k {
		case "START WAL LOCATION":
			lsn, rest, _ := strings.Cut(v, " ")
			var err error
			if l.StartLSN, err = pgwal.ParseLSN(lsn); err != nil {
				return l, fmt.Errorf("backup_label: %w", err)
			}
			haveStart = true
			l.StartWALFile = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(rest), "(file "), ")")
		case "CHECKPOINT LOCATION":
			l.CheckpointLSN, _ = pgwal.ParseLSN(v)
		case "START TIMELINE":
			t, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return l, fmt.Errorf("backup_label: bad START TIMELINE %.20q", v)
			}
			l.Timeline, haveTLI = uint32(t), true
		case "START TIME":
			l.StartTime = strings.TrimSpace(v)
		case "BACKUP FROM":
			l.From = strings.TrimSpace(v)
		}
	}
	if !haveStart || !haveTLI {
		return l, errors.New("backup_label lacks START WAL LOCATION or START TIMELINE")
	}
	return l, nil
}

// countingReader counts the bytes read through it and, when tick is
// set, tells it the count every 4 MiB and at the end.
type countingReader struct {
	r       io.Reader
	n, last int64
	tick    func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.tick != nil && (c.n-c.last >= 4<<20 || err != nil) {
		c.last = c.n
		c.tick(c.n)
	}
	return n, err
}

// limitedWriter keeps at most max bytes and drops the rest (the caller
// compares the lengths).
type limitedWriter struct {
	w   io.Writer
	max int64
	n   int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.max - l.n; room > 0 {
		k := min(int64(len(p)), room)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n += k
	}
	return len(p), nil
}

// onlyWriter hides a writer's ReadFrom so that CopyBuffer uses its buffer.
type onlyWriter struct{ io.Writer }
