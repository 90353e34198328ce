// Package packaging holds what turns opsdeck into release artifacts and
// system packages (nfpm.yaml, systemd units, maintainer scripts), and the
// tests that build them: make release reproducible, and the .deb installed,
// verified and purged.
package packaging

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the repository, from this package's directory.
const repoRoot = ".."

// shared is one linux/amd64 release that the tests share: the first of
// the reproducibility test's two builds, and what the .deb is made of.
var shared struct {
	once sync.Once
	dir  string
	sums map[string]string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedRelease returns the shared release's directory and checksums,
// building it on first use.
func sharedRelease(t *testing.T) (string, map[string]string) {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "opsdeck-release-test-")
		if shared.err == nil {
			shared.sums, shared.err = runRelease(filepath.Join(shared.dir, "dist"))
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return filepath.Join(shared.dir, "dist"), shared.sums
}

// runRelease runs scripts/release.sh for linux/amd64 into dist and
// returns the SHA-256 of each file it wrote, by path under dist.
func runRelease(dist string) (map[string]string, error) {
	cmd := exec.Command("bash", "scripts/release.sh")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "DIST="+dist, "TARGETS=linux/amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("scripts/release.sh: %v\n%s", err, out)
	}
	sums := map[string]string{}
	err := filepath.WalkDir(dist, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		rel, _ := filepath.Rel(dist, p)
		sums[rel] = hex.EncodeToString(h[:])
		return nil
	})
	return sums, err
}

// TestReleaseReproducible builds the linux/amd64 release twice in two
// temporary directories and wants the same bytes: binary, tarball, SBOM
// and SHA256SUMS. The second build reuses the Go build cache (only the
// link runs again); what the test holds is that nothing of the build's
// place, time or order leaks into the artifacts.
func TestReleaseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release twice; not with -short")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is needed for the version: ", err)
	}
	_, a := sharedRelease(t)
	b, err := runRelease(filepath.Join(t.TempDir(), "b"))
	if err != nil {
		t.Fatal(err)
	}
	var bin, tarball, sbom bool
	for name, sum := range a {
		switch {
		case strings.HasSuffix(name, "/opsdeck"):
			bin = true
		case strings.HasSuffix(name, ".tar.gz"):
			tarball = true
		case strings.HasSuffix(name, ".cdx.json"):
			sbom = true
		}
		if b[name] != sum {
			t.Errorf("%s differs between two builds of one commit: %s vs %s", name, sum, b[name])
		}
	}
	if !bin || !tarball || !sbom || a["SHA256SUMS"] == "" {
		t.Errorf("release wrote %v: want a binary, a tarball, an SBOM and SHA256SUMS", a)
	}
	if len(a) != len(b) {
		t.Errorf("the two builds wrote different files: %v vs %v", a, b)
	}
}
