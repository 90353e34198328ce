package backup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/jsonbound"
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
)

// AllComponents lists the components of a full backup: every set
// component, in the order registered.
var AllComponents = setComponentNames()

// Kinds are the arguments of `opsdeck backup`: "full" or one component.
var Kinds = append([]string{"full"}, AllComponents...)

// ComponentsOf returns the components a kind of backup takes.
func ComponentsOf(kind string) ([]string, error) {
	if kind == "full" {
		return slices.Clone(AllComponents), nil
	}
	if slices.Contains(AllComponents, kind) {
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
}

// TableCount is the row count of a table in the dump's snapshot.
type TableCount struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
}

// RedisFacts describe the Redis snapshot.
type RedisFacts struct {
	Version    string `json:"version"`
	RDBVersion int    `json:"rdb_version"`
	// Keys and Expires count keys (and keys with a TTL) per database
	// number, read from the RDB itself.
	Keys    map[int]int64 `json:"keys"`
	Expires map[int]int64 `json:"expires,omitempty"`
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
