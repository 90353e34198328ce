package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// The whole binary, run as a user runs it, against the sandbox.

var (
	bin string
	sb  *sandbox.Sandbox
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	redis.RouteLibraryLogs(nil)
	kube.RouteLibraryLogs(nil)
	dir, err := os.MkdirTemp("", "opsdeck-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "opsdeck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build opsdeck: %v\n%s", err, out)
		return 1
	}
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") != "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sb, err = sandbox.Start(ctx, sandbox.Options{Scale: 0})
		if err != nil {
			fmt.Fprintf(os.Stderr, "start the sandbox: %v\nrun `make deps`, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
			return 1
		}
		defer sb.Stop()
	}
	return m.Run()
}

type result struct {
	code           int
	stdout, stderr string
}

// opsdeck runs the binary with a clean environment: HOME and the XDG dirs in
// a temp dir, so no user config leaks in.
func opsdeck(t *testing.T, env []string, args ...string) result {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = home
	cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + home + "/config",
		"XDG_STATE_HOME=" + home + "/state", "XDG_DATA_HOME=" + home + "/data", "KUBECONFIG=" + home + "/none"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func requireSandbox(t *testing.T) {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckOnSandbox(t *testing.T) {
	requireSandbox(t)
	r := opsdeck(t, nil, "--config", sb.ConfigPath, "check")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (crit)\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{sb.KubeSeed.CrashLoopPod, "CrashLoopBackOff", "node/" + sb.KubeSeed.NotReadyNodes[0], "CRIT:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, sb.Postgres.Password) {
		t.Fatal("the Postgres password is in the output")
	}
}

func TestCheckJSONAndEnv(t *testing.T) {
	requireSandbox(t)
	r := opsdeck(t, []string{"OPSDECK_CONFIG=" + sb.ConfigPath}, "check", "-o", "json", "--target", "postgres,redis")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		Status  string `json:"status"`
		Results []struct {
			Target, Status string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if rep.Status != "ok" || len(rep.Results) < 5 {
		t.Fatalf("got %+v", rep)
	}
}

func TestCheckWrongPassword(t *testing.T) {
	requireSandbox(t)
	u, _ := url.Parse(sb.Postgres.DSN())
	u.User = url.UserPassword(u.User.Username(), "wrong-pw-123")
	cfg := writeConfig(t, fmt.Sprintf("postgres:\n  dsn: %q\n", u.String()))
	r := opsdeck(t, nil, "--config", cfg, "check", "--target", "postgres")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3 (unknown)\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "auth failed") || strings.Contains(r.stdout+r.stderr, "wrong-pw-123") {
		t.Fatalf("want an auth failure without the password:\n%s", r.stdout)
	}
}

func TestCheckDeadServersAreBounded(t *testing.T) {
	cfg := writeConfig(t, "postgres:\n  dsn: postgres://u@127.0.0.1:1/db\nredis:\n  url: redis://127.0.0.1:1/0\n")
	start := time.Now()
	r := opsdeck(t, nil, "--config", cfg, "check", "--timeout", "2s")
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	if r.code != 2 || strings.Count(r.stdout, "unreachable") < 2 {
		t.Fatalf("exit %d, want 2 with both targets unreachable:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestBadInput(t *testing.T) {
	typo := writeConfig(t, "postgres:\n  dsn: postgres://localhost/db\nthresholdz:\n  cpu_percent:\n    warn: 70\n")
	badType := writeConfig(t, "timeouts:\n  check: fast\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"typo in config", []string{"--config", typo, "config", "validate"}, 3, []string{"opsdeck.yaml:3:1", "thresholdz", `did you mean "thresholds"`}},
		{"typo stops check", []string{"--config", typo, "check"}, 3, []string{"opsdeck.yaml:3:1"}},
		{"bad duration", []string{"--config", badType, "config", "validate"}, 3, []string{"opsdeck.yaml:2:10", "timeouts.check"}},
		{"missing config", []string{"--config", "/nonexistent/opsdeck.yaml", "check"}, 3, []string{"/nonexistent/opsdeck.yaml"}},
		{"bad output", []string{"check", "-o", "xml"}, 3, []string{`unknown output format "xml"`, "-o text, -o json or -o yaml"}},
		{"bad target", []string{"check", "--target", "mysql"}, 3, []string{`unknown target "mysql"`}},
		{"unknown command", []string{"chek"}, 3, []string{`unknown command "chek"`, "did you mean check?"}},
		{"extra argument", []string{"backups", "show", "20260101_000000", "more"}, 3, []string{"accepts 1 arg(s), received 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := opsdeck(t, nil, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "panic") {
				t.Fatalf("panic:\n%s", r.stderr)
			}
		})
	}
}

func TestConfigShowRedacts(t *testing.T) {
	cfg := writeConfig(t, "postgres:\n  dsn: postgres://app:hunter2@db:5432/stockdb\nredis:\n  url: redis://:redispw@cache:6379/0\n")
	r := opsdeck(t, nil, "--config", cfg, "--read-only", "config", "show")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "hunter2") || strings.Contains(r.stdout, "redispw") {
		t.Fatalf("secret in config show:\n%s", r.stdout)
	}
	for _, want := range []string{"read_only: true", "app:xxxxx@db", "cpu_percent"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config show lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := opsdeck(t, nil, "--config", cfg, "config", "validate"); r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("validate a good file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
