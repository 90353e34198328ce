package pgtemp

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ErrNotInstalled is returned (wrapped) when the server binaries are missing.
var ErrNotInstalled = errors.New("PostgreSQL server binaries not installed")

// DefaultBinDir is where Debian and Ubuntu install a major version's server
// binaries.
func DefaultBinDir(major int) string {
	return fmt.Sprintf("/usr/lib/postgresql/%d/bin", major)
}

// BinDir returns the directory holding major's server binaries,
// /usr/lib/postgresql/<major>/bin, with an error naming the package to
// install when they are missing. With major 0 it returns the highest
// version installed there.
func BinDir(major int) (string, error) {
	if major <= 0 {
		entries, _ := os.ReadDir("/usr/lib/postgresql")
		for _, e := range entries {
			if v, err := strconv.Atoi(e.Name()); err == nil && v > major && hasServer(DefaultBinDir(v)) {
				major = v
			}
		}
		if major <= 0 {
			return "", fmt.Errorf("no PostgreSQL server in /usr/lib/postgresql/<major>/bin "+
				"(install the postgresql-<major> package of the version you need): %w", ErrNotInstalled)
		}
	}
	dir := DefaultBinDir(major)
	if !hasServer(dir) {
		return "", fmt.Errorf("PostgreSQL %d's server is not in %s: install the postgresql-%d package "+
			"(or name another directory of its binaries): %w", major, dir, major, ErrNotInstalled)
	}
	return dir, nil
}

func hasServer(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "postgres"))
	return err == nil
}

// checkBinaries fails when one of names is not in dir.
func checkBinaries(dir string, major int, names ...string) error {
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			pkg := "postgresql-<major>"
			if major > 0 {
				pkg = "postgresql-" + strconv.Itoa(major)
			}
			return fmt.Errorf("no %s in %s (install the %s package or name the right directory): %w",
				name, dir, pkg, ErrNotInstalled)
		}
	}
	return nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// binMajor runs postgres -V in dir and returns its major version.
func binMajor(dir string) (int, error) {
	out, err := exec.Command(filepath.Join(dir, "postgres"), "-V").Output()
	if err != nil {
		return 0, fmt.Errorf("run %s/postgres -V: %w", dir, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s/postgres -V said %q: no version", dir, strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(string(m[1]))
}

// dataMajor reads the major version of the cluster in dataDir (PG_VERSION).
func dataMajor(dataDir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		return 0, fmt.Errorf("%s is not a PostgreSQL data directory (no PG_VERSION): %w", dataDir, err)
	}
	major, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("%s/PG_VERSION holds %q, not a major version", dataDir, strings.TrimSpace(string(data)))
	}
	return major, nil
}
