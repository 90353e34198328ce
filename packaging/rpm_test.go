package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRPM builds the linux/amd64 .rpm from the shared release, judges it
// with rpmlint (no error; packaging/rpm/rpmlint.toml says why each
// filtered check does not apply), checks its digests, and installs it
// into a private root with rpm (no scripts: they create the user and call
// systemctl, which the .deb's test covers) to check what it holds: the
// binary that runs, the units under /usr/lib/systemd/system, the config
// 0640 and marked as one, the licence. It needs root, rpm and rpmlint
// (scripts/deps.sh installs them); this machine's own packages are
// untouched.
func TestRPM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release and a .rpm; not with -short")
	}
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skip("the test's .rpm is linux/amd64; this is ", runtime.GOOS, "/", runtime.GOARCH)
	}
	if os.Geteuid() != 0 {
		t.Skip("installing the .rpm into a private root needs root: run make test as root to include it")
	}
	for _, tool := range []string{"rpm", "rpmlint"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: scripts/deps.sh (make deps) installs it", tool)
		}
	}
	dist, _ := sharedRelease(t)
	pkg := exec.Command("bash", "scripts/package.sh")
	pkg.Dir = repoRoot
	pkg.Env = append(os.Environ(), "DIST="+dist, "ARCHES=amd64", "PACKAGERS=rpm")
	if out, err := pkg.CombinedOutput(); err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, out)
	}
	rpms, _ := filepath.Glob(filepath.Join(dist, "opsdeck-*.x86_64.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("want one .rpm in %s, found %v", dist, rpms)
	}
	rpm := rpms[0]

	if out, err := run(t, "rpmlint", "-c", filepath.Join(repoRoot, "packaging/rpm/rpmlint.toml"), rpm); err != nil {
		t.Errorf("rpmlint reports errors: %v\n%s", err, out)
	} else {
		t.Logf("rpmlint:\n%s", out)
	}
	if out, err := run(t, "rpm", "-K", "--nosignature", rpm); err != nil || !strings.Contains(out, "digests OK") {
		t.Errorf("rpm -K: %v\n%s", err, out)
	}
	if out, err := run(t, "rpm", "-qp", "--configfiles", rpm); err != nil || strings.TrimSpace(out) != "/etc/opsdeck/config.yaml" {
		t.Errorf("config files %q (%v), want /etc/opsdeck/config.yaml", out, err)
	}

	root := t.TempDir()
	if out, err := run(t, "rpm", "--root", root, "--initdb"); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	if out, err := run(t, "rpm", "--root", root, "-i", "--nodeps", "--noscripts", "--nosignature", rpm); err != nil {
		t.Fatalf("rpm -i into %s: %v\n%s", root, err, out)
	}
	if out, err := run(t, filepath.Join(root, "usr/bin/opsdeck"), "version"); err != nil || !strings.HasPrefix(out, "opsdeck version ") || strings.HasPrefix(out, "opsdeck version dev") {
		t.Errorf("opsdeck version: %v: %q, want a stamped version", err, out)
	}
	for _, u := range units {
		if _, err := os.Stat(filepath.Join(root, "usr/lib/systemd/system", u)); err != nil {
			t.Errorf("unit not installed: %v", err)
		}
	}
	for _, f := range []string{"usr/share/man/man1/opsdeck.1.gz", "usr/share/bash-completion/completions/opsdeck", "usr/share/licenses/opsdeck/LICENSE"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if st, err := os.Stat(filepath.Join(root, "etc/opsdeck/config.yaml")); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("config: %v %v, want 0640", st, err)
	}
}
