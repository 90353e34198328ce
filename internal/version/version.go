// Package version is what this opsdeck binary is: its version, the commit
// and date it was built from, the Go version and the platform. make build
// and make release set Version, Commit and Date with the linker's -X
// (scripts/ldflags.sh, from git describe and the commit's time); a plain
// go build leaves "dev", or the module version go install was given.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at build time with -ldflags "-X github.com/opsdeck/opsdeck/internal/version.Version=...".
var (
	// Version is `git describe --tags --always --dirty` at build time.
	Version = "dev"
	// Commit is the full commit hash.
	Commit = ""
	// Date is the commit's time in UTC, RFC 3339 (SOURCE_DATE_EPOCH): two
	// builds of one commit record the same date, so they are identical.
	Date = ""
)

// Schema names the JSON document `opsdeck version -o json` prints.
const Schema = "opsdeck.version/v1"

// Info is the version of this binary.
type Info struct {
	Schema    string `json:"schema" yaml:"schema"`
	Version   string `json:"version" yaml:"version"`
	Commit    string `json:"commit" yaml:"commit"`
	Date      string `json:"date" yaml:"date"`
	GoVersion string `json:"go_version" yaml:"go_version"`
	// Platform is GOOS/GOARCH, e.g. linux/amd64.
	Platform string `json:"platform" yaml:"platform"`
}

// Get returns this binary's Info. Without -X values it falls back on the
// build information Go records: the module version of a go install
// module@version, and the VCS revision and time when Go stamped them.
func Get() Info {
	i := Info{Schema: Schema, Version: Version, Commit: Commit, Date: Date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return i
	}
	if i.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		i.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && i.Commit == "":
			i.Commit = s.Value
		case s.Key == "vcs.time" && i.Date == "":
			i.Date = s.Value
		}
	}
	return i
}

// String is Version as Get finds it, for manifests, reports and the audit
// log.
func String() string { return Get().Version }

// Line is the one-line form `opsdeck --version` and `opsdeck version`
// print after "opsdeck version ": v1.2.3 (commit 0123abc, 2026-01-02T03:04:05Z, go1.26.8 linux/amd64).
func (i Info) Line() string {
	commit := i.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	var parts []string
	if commit != "" {
		parts = append(parts, "commit "+commit)
	}
	if i.Date != "" {
		parts = append(parts, i.Date)
	}
	parts = append(parts, i.GoVersion+" "+i.Platform)
	return i.Version + " (" + strings.Join(parts, ", ") + ")"
}
