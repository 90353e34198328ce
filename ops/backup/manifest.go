package backup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/jsonbound"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// FormatVersion is the manifest format this package writes.
const FormatVersion = 1

// ManifestName is the file that commits a set.
const ManifestName = "manifest.json"

// Components, in the order a full backup takes them.
const (
	Database = "database"
	Redis    = "redis"
	Config   = "config"
	Logs     = "logs"
	// Base is the physical base backup of the whole cluster; `backup
	// full` leaves it out.
	Base = "base"
)

// AllComponents lists the components of a full backup: every set
// component but those taken only on their own (base), in the order
// registered.
var AllComponents = fullComponentNames()

// Kinds are the arguments of `opsdeck backup`: "full" or one component.
var Kinds = append([]string{"full"}, setComponentNames()...)

// ComponentsOf returns the components a kind of backup takes.
func ComponentsOf(kind string) ([]string, error) {
	if kind == "full" {
		return slices.Clone(AllComponents), nil
	}
	if slices.Contains(setComponentNames(), kind) {
		return []string{kind}, nil
	}
	return nil, fmt.Errorf("unknown backup kind %q: choose %s", kind, strings.Join(Kinds, ", "))
}

// Set and component statuses.
const (
	StatusOK      = "ok"
	StatusPartial = "partial" // some components failed; the others are good
	StatusFailed  = "failed"
)

// Manifest describes a committed backup set.
type Manifest struct {
	Format         int         `json:"format"`
	ID             string      `json:"id"`
	Kind           string      `json:"kind"`
	Status         string      `json:"status"`
	Tags           []string    `json:"tags,omitempty"`
	Start          time.Time   `json:"start"`
	End            time.Time   `json:"end"`
	OpsdeckVersion string      `json:"opsdeck_version"`
	Host           string      `json:"host,omitempty"`
	User           string      `json:"user,omitempty"`
	Components     []Component `json:"components"`
}

// Component is one component's part of a set.
type Component struct {
	Name     string    `json:"name"`
	Status   string    `json:"status"`
	Error    string    `json:"error,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Files    []File    `json:"files,omitempty"`

	Postgres *PostgresFacts `json:"postgres,omitempty"`
	Redis    *RedisFacts    `json:"redis,omitempty"`
	Kube     *KubeFacts     `json:"kube,omitempty"`
	Logs     *LogsFacts     `json:"logs,omitempty"`
	Base     *BaseFacts     `json:"base,omitempty"`
}

// File is one stored file.
type File struct {
	Name string `json:"name"`
	// Format of the content once decrypted and decompressed:
	// "pg_dump-custom", "rdb" or "tar" (of YAML or log files).
	Format string `json:"format"`
	// Size and SHA256 are of the stored bytes (compressed, encrypted).
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// RawSize is the size of the content before compression.
	RawSize     int64  `json:"raw_size"`
	Compression string `json:"compression"`
	Encryption  string `json:"encryption,omitempty"`
}

// PostgresFacts describe the dumped database.
type PostgresFacts struct {
	ServerVersion    string       `json:"server_version"`
	ServerVersionNum int          `json:"server_version_num"`
	Database         string       `json:"database"`
	PgDumpVersion    string       `json:"pg_dump_version"`
	Tables           []TableCount `json:"tables"`
	// Session is pg_dump's session as far as the COPY text of the rows
	// depends on it: what a drill sets to recompute the fingerprints (nil
	// in sets taken before opsdeck recorded them).
	Session *postgres.DumpSession `json:"session,omitempty"`
}

// TableCount is the row count of a table in the dump's snapshot.
type TableCount struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	// Fingerprint is the order-independent digest of the table's rows as
	// COPY text (ops/fingerprint), read from the dump stream; "" in sets
	// taken before opsdeck recorded it.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// RedisFacts describe the Redis snapshot.
type RedisFacts struct {
	Version    string `json:"version"`
	RDBVersion int    `json:"rdb_version"`
	// Keys and Expires count keys (and keys with a TTL) per database
	// number, read from the RDB itself.
	Keys    map[int]int64 `json:"keys"`
	Expires map[int]int64 `json:"expires,omitempty"`
	// Digest is DEBUG DIGEST of the snapshot, whole and per database,
	// computed by opsdeck from the RDB as it arrived (DigestRDB); nil for
	// sets taken before opsdeck recorded it.
	Digest *RDBDigest `json:"digest,omitempty"`
}

// KubeFacts describe the Kubernetes objects saved.
type KubeFacts struct {
	Context    string         `json:"context"`
	Server     string         `json:"server"`
	Namespaces []string       `json:"namespaces"`
	Objects    map[string]int `json:"objects"`
	// SecretsSkipped counts Secrets left out because encryption is off.
	SecretsSkipped int `json:"secrets_skipped,omitempty"`
}

// LogsFacts describe the pod logs saved.
type LogsFacts struct {
	Namespaces []string      `json:"namespaces"`
	Window     time.Duration `json:"window_ns"`
	Containers int           `json:"containers"`
	Failed     int           `json:"failed"`
}

// BaseFacts describe a physical base backup of the cluster: where in the
// WAL it starts and stops (a restore needs the WAL between the two, and
// every segment after to go further), on which cluster and timeline, and
// the server's backup_manifest it was checked against.
type BaseFacts struct {
	ServerVersion    string `json:"server_version"`
	ServerVersionNum int    `json:"server_version_num"`
	// PgBaseBackupVersion is the client's version ("15.18").
	PgBaseBackupVersion string `json:"pg_basebackup_version"`
	// SystemID is the cluster's system identifier (a string in JSON: it
	// does not fit a double).
	SystemID uint64 `json:"system_identifier,string"`
	// Timeline is the backup's start timeline (backup_label).
	Timeline uint32 `json:"timeline"`
	// StartLSN and StopLSN bound the WAL the backup needs (the server's
	// backup_manifest WAL-Ranges); CheckpointLSN is its checkpoint.
	StartLSN      pgwal.LSN `json:"start_lsn"`
	StopLSN       pgwal.LSN `json:"stop_lsn"`
	CheckpointLSN pgwal.LSN `json:"checkpoint_lsn"`
	// StartWALFile is the first segment's name (backup_label).
	StartWALFile string `json:"start_wal_file,omitempty"`
	// WALSegmentSize is the server's wal_segment_size in bytes.
	WALSegmentSize int64 `json:"wal_segment_size"`
	// From is "primary" or "standby" (backup_label's BACKUP FROM).
	From string `json:"from,omitempty"`
	// Files and DataBytes count the files of the server's manifest and
	// their bytes; TotalBytes is the tar stream's length.
	Files      int   `json:"files"`
	DataBytes  int64 `json:"data_bytes"`
	TotalBytes int64 `json:"total_bytes"`
	// ChecksumAlgorithm is the manifest's file checksum (CRC32C) and
	// ManifestChecksum its own Manifest-Checksum.
	ChecksumAlgorithm string `json:"checksum_algorithm"`
	ManifestChecksum  string `json:"manifest_checksum"`
}

// Component returns the named component, if the set has it.
func (m *Manifest) Component(name string) (*Component, bool) {
	for i := range m.Components {
		if m.Components[i].Name == name {
			return &m.Components[i], true
		}
	}
	return nil, false
}

// Size is the stored size of every file of the set.
func (m *Manifest) Size() int64 {
	var n int64
	for _, c := range m.Components {
		for _, f := range c.Files {
			n += f.Size
		}
	}
	return n
}

// ComponentNames lists the components of the set, with "!" after a failed one.
func (m *Manifest) ComponentNames() []string {
	var out []string
	for _, c := range m.Components {
		n := c.Name
		if c.Status != StatusOK {
			n += "!"
		}
		out = append(out, n)
	}
	return out
}

// idPattern is YYYYMMDD_HHMMSS.
var idPattern = regexp.MustCompile(`^\d{8}_\d{6}$`)

// IDLayout formats set IDs (UTC).
const IDLayout = "20060102_150405"

// NewID returns the ID of a set started at t.
func NewID(t time.Time) string { return t.UTC().Format(IDLayout) }

// ValidID reports whether s looks like a set ID.
func ValidID(s string) bool {
	if !idPattern.MatchString(s) {
		return false
	}
	_, err := time.Parse(IDLayout, s)
	return err == nil
}

// ParseManifest decodes and checks a manifest.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	// The store is not trusted: a small manifest may not decode to a
	// large one (jsonbound).
	if err := jsonbound.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("manifest format %d is not %d — use the opsdeck version that wrote it", m.Format, FormatVersion)
	}
	if !ValidID(m.ID) {
		return nil, fmt.Errorf("manifest has a bad id %q", m.ID)
	}
	return &m, nil
}

// Encode renders the manifest as indented JSON.
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}
