package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// RestoreConfig drives `opsdeck restore` and the Restore tab.
type RestoreConfig struct {
	// Writers are the Deployments that write to the database, as "name" (in
	// the first configured namespace) or "namespace/name". A database
	// restore scales them to 0 before the swap and back afterwards.
	Writers []string `yaml:"writers,omitempty" json:"writers"`
	// ScaleTimeout is how long a restore waits for the writers' pods to go
	// (and to come back) (default 2m).
	ScaleTimeout time.Duration `yaml:"scale_timeout" json:"scale_timeout"`
	// Jobs is pg_restore's --jobs (default 2).
	Jobs int `yaml:"jobs" json:"jobs"`
	// WorkDir holds the decompressed dump while pg_restore reads it
	// (pg_restore --jobs needs a file it can seek). Default: state_dir/restore.
	WorkDir string `yaml:"work_dir" json:"work_dir"`
}

// DefaultRestore returns the restore defaults.
func DefaultRestore() RestoreConfig {
	return RestoreConfig{ScaleTimeout: 2 * time.Minute, Jobs: 2}
}

func (r RestoreConfig) clone() RestoreConfig {
	r.Writers = slices.Clone(r.Writers)
	return r
}

// WorkDirIn returns where restores stage their files for a config whose
// state directory is stateDir.
func (r RestoreConfig) WorkDirIn(stateDir string) string {
	if r.WorkDir != "" {
		return expandHome(r.WorkDir)
	}
	return stateDir + "/restore"
}

// Writer is one Deployment a database restore stops.
type Writer struct {
	Namespace string
	Name      string
}

func (w Writer) String() string { return w.Namespace + "/" + w.Name }

// RestoreWriters returns the writer Deployments with their namespaces:
// a bare name belongs to the first configured namespace ("default" when
// none is named).
func (c *Config) RestoreWriters() []Writer {
	ns := "default"
	if len(c.Kubernetes.Namespaces) > 0 {
		ns = c.Kubernetes.Namespaces[0]
	}
	var out []Writer
	for _, w := range c.Restore.Writers {
		if n, name, ok := strings.Cut(w, "/"); ok {
			out = append(out, Writer{Namespace: n, Name: name})
			continue
		}
		out = append(out, Writer{Namespace: ns, Name: w})
	}
	return out
}

// validateRestore checks the restore section.
func (c *Config) validateRestore(one func(path, reason, hint string, cause error)) {
	r := c.Restore
	if r.ScaleTimeout < time.Second {
		one("restore.scale_timeout", fmt.Sprintf("%v is too short", r.ScaleTimeout), `use at least "1s", e.g. "2m"`, nil)
	}
	if r.Jobs < 1 || r.Jobs > 64 {
		one("restore.jobs", fmt.Sprintf("%d is out of range", r.Jobs), "use 1 to 64 (pg_restore --jobs)", nil)
	}
	for i, w := range r.Writers {
		ns, name, cut := strings.Cut(w, "/")
		if !cut {
			name, ns = ns, "x"
		}
		if len(ns) > 63 || !dns1123Label.MatchString(ns) || len(name) > 253 || !dns1123Subdomain.MatchString(name) {
			one(fmt.Sprintf("restore.writers[%d]", i), fmt.Sprintf("%q is not a Deployment name", w), `use "name" or "namespace/name", e.g. "stockapp/api"`, nil)
		}
	}
}

// dns1123Subdomain is a Kubernetes object name: dot-separated DNS labels.
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
