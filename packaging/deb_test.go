package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// unitDir is where the .deb puts the systemd units.
const unitDir = "/lib/systemd/system"

// units are the units the package ships.
var units = []string{
	"opsdeck-serve.service", "opsdeck-wal-stream.service", "opsdeck-backup@.service",
	"opsdeck-backup-database.timer", "opsdeck-backup-redis.timer", "opsdeck-backup-config.timer",
	"opsdeck-backup-logs.timer", "opsdeck-prune.service", "opsdeck-prune.timer",
	"opsdeck-verify.service", "opsdeck-verify.timer", "opsdeck-drill.service", "opsdeck-drill.timer",
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestDeb builds the linux/amd64 .deb from the shared release, judges it
// with lintian (no error-level tag), installs it with dpkg -i, checks what
// it installed and that systemd-analyze verify accepts every unit (the
// long-running services' exposure at most 2.5), and purges it, wanting
// nothing left. It needs root, dpkg, lintian and systemd-analyze
// (scripts/deps.sh installs them); PID 1 need not be systemd.
func TestDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release and a .deb; not with -short")
	}
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skip("the test's .deb is linux/amd64; this is ", runtime.GOOS, "/", runtime.GOARCH)
	}
	if os.Geteuid() != 0 {
		t.Skip("installing the .deb needs root: run make test as root to include it")
	}
	for _, tool := range []string{"dpkg", "lintian", "systemd-analyze"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: scripts/deps.sh (make deps) installs it", tool)
		}
	}
	if out, err := run(t, "dpkg-query", "-W", "-f=${Status}", "opsdeck"); err == nil && strings.Contains(out, "installed") {
		t.Skip("an opsdeck package is installed on this machine; the test would replace it")
	}
	if _, err := user.Lookup("opsdeck"); err == nil {
		t.Skip("a user opsdeck exists; the test's purge would remove it")
	}
	if _, err := os.Stat("/etc/opsdeck/config.yaml"); err == nil {
		t.Skip("/etc/opsdeck/config.yaml exists and no opsdeck package owns it: dpkg would ask whether to keep it; move it aside to run the test")
	}

	dist, _ := sharedRelease(t)
	pkg := exec.Command("bash", "scripts/package.sh")
	pkg.Dir = repoRoot
	pkg.Env = append(os.Environ(), "DIST="+dist, "ARCHES=amd64", "PACKAGERS=deb")
	if out, err := pkg.CombinedOutput(); err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "opsdeck_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one .deb in %s, found %v", dist, debs)
	}
	deb := debs[0]

	// lintian: --fail-on error makes error-level tags fail; warnings are
	// shown in the log.
	if out, err := run(t, "lintian", "--fail-on", "error", "--tag-display-limit", "0", deb); err != nil {
		t.Errorf("lintian reports errors: %v\n%s", err, out)
	} else if tags := strings.TrimSpace(strings.ReplaceAll(out, "running with root privileges is not recommended!", "")); tags != "" {
		t.Logf("lintian:\n%s", tags)
	}

	t.Cleanup(func() {
		if out, err := run(t, "dpkg", "--purge", "opsdeck"); err != nil {
			t.Errorf("dpkg --purge opsdeck: %v\n%s", err, out)
		}
	})
	if out, err := run(t, "dpkg", "-i", deb); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}

	if out, err := run(t, "/usr/bin/opsdeck", "version"); err != nil || !strings.HasPrefix(out, "opsdeck version ") || strings.HasPrefix(out, "opsdeck version dev") {
		t.Errorf("/usr/bin/opsdeck version: %v: %q, want a stamped version", err, out)
	}
	for _, f := range []string{
		"/usr/share/man/man1/opsdeck.1.gz", "/usr/share/man/man1/opsdeck-backup.1.gz",
		"/usr/share/bash-completion/completions/opsdeck", "/usr/share/zsh/vendor-completions/_opsdeck",
		"/usr/share/fish/vendor_completions.d/opsdeck.fish", "/usr/share/doc/opsdeck/copyright",
		"/usr/share/doc/opsdeck/changelog.gz", "/usr/share/doc/opsdeck/README.md",
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if st, err := os.Stat("/etc/opsdeck/config.yaml"); err != nil {
		t.Errorf("config: %v", err)
	} else if st.Mode().Perm() != 0o640 {
		t.Errorf("/etc/opsdeck/config.yaml is %v, want 0640", st.Mode().Perm())
	}
	if out, err := run(t, "stat", "-c", "%U:%G", "/etc/opsdeck/config.yaml"); err != nil || strings.TrimSpace(out) != "root:opsdeck" {
		t.Errorf("/etc/opsdeck/config.yaml owned by %q (%v), want root:opsdeck", out, err)
	}
	if out, err := run(t, "/usr/bin/opsdeck", "config", "validate", "--config", "/etc/opsdeck/config.yaml"); err != nil {
		t.Errorf("the packaged config does not validate: %v\n%s", err, out)
	}

	paths := make([]string, len(units))
	for i, u := range units {
		paths[i] = filepath.Join(unitDir, u)
	}
	// verify warns about unknown keys without failing: any output fails.
	if out, err := run(t, "systemd-analyze", append([]string{"verify"}, paths...)...); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if out, err := run(t, "systemd-analyze", "security", "--offline=true", "--threshold=25",
		filepath.Join(unitDir, "opsdeck-serve.service"), filepath.Join(unitDir, "opsdeck-wal-stream.service")); err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.5: %v\n%s", err, out)
	}

	if out, err := run(t, "dpkg", "--purge", "opsdeck"); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	for _, f := range append(paths, "/usr/bin/opsdeck", "/etc/opsdeck") {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s is left after the purge", f)
		}
	}
	if _, err := user.Lookup("opsdeck"); err == nil {
		t.Error("the user opsdeck is left after the purge")
	}
	if out, err := run(t, "dpkg-query", "-W", "-f=${Status}", "opsdeck"); err == nil && strings.TrimSpace(out) != "" {
		t.Errorf("dpkg still knows opsdeck after the purge: %q", out)
	}
}
