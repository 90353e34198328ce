package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestMetricsOnSandbox(t *testing.T) {
	requireSandbox(t)
	r := opsdeck(t, nil, "--config", sb.ConfigPath, "metrics")
	// The crash-looping worker's 14 restarts are critical.
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"postgres    transactions/s", "postgres    connections", "redis       hit rate", "kubernetes  pod restarts",
		"business    active users", "not configured: prometheus: set prometheus.url",
		"Alerts (threshold rules evaluated by opsdeck", "KubernetesRestarts", "CRIT:",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "no reading yet") {
		t.Errorf("a one-shot run printed series without a reading:\n%s", r.stdout)
	}
}

func TestMetricsJSON(t *testing.T) {
	requireSandbox(t)
	r := opsdeck(t, []string{"OPSDECK_CONFIG=" + sb.ConfigPath}, "metrics", "-o", "json", "--source", "postgres,redis")
	var rep struct {
		Status string `json:"status"`
		Series []struct {
			ID     string   `json:"id"`
			Source string   `json:"source"`
			Value  *float64 `json:"value"`
			State  string   `json:"state"`
		} `json:"series"`
		AlertsFrom string `json:"alerts_from"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, r.stdout, r.stderr)
	}
	if len(rep.Series) < 10 || rep.AlertsFrom != "opsdeck" {
		t.Errorf("report: %d series, alerts from %q", len(rep.Series), rep.AlertsFrom)
	}
	for _, s := range rep.Series {
		if s.Source != "postgres" && s.Source != "redis" {
			t.Errorf("--source postgres,redis printed %s", s.ID)
		}
		if s.Value == nil && s.ID != "redis.evictions" {
			t.Errorf("%s has no value", s.ID)
		}
	}
}

func TestMetricsWatchJSONLines(t *testing.T) {
	requireSandbox(t)
	cfg := writeConfig(t, fmt.Sprintf("postgres: {dsn: %q}\nmetrics: {interval: 500ms, slow_interval: 1s, window: 1m}\n", sb.Postgres.DSN()))
	r := opsdeckFor(t, 4*time.Second, nil, "--config", cfg, "metrics", "--watch", "-o", "json", "--source", "postgres")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 3 {
		t.Fatalf("--watch printed %d lines in 4s at 500ms:\n%s\n%s", len(lines), r.stdout, r.stderr)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not one JSON object per line: %q", l)
		}
	}
}

func TestMetricsBadInputAndDeadServers(t *testing.T) {
	bh, err := sandbox.StartBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer bh.Close()
	port, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := writeConfig(t, fmt.Sprintf(`postgres: {dsn: "postgres://app:s3cretpw@127.0.0.1:%d/db?sslmode=disable"}
redis: {url: "redis://:s3cretpw@%s/0"}
prometheus: {url: "http://user:s3cretpw@127.0.0.1:%d"}
alertmanager: {url: "http://127.0.0.1:%d"}
timeouts: {check: 2s, connect: 1s}
`, port, bh.Addr, port, port))
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad output", []string{"metrics", "-o", "xml"}, 3, []string{`unknown output format "xml"`}},
		{"bad source", []string{"metrics", "--source", "mysql"}, 3, []string{`unknown source "mysql": choose from postgres, redis`}},
		{"extra argument", []string{"metrics", "now"}, 3, []string{`opsdeck metrics takes no arguments (got "now")`}},
		{"bad config", []string{"--config", writeConfig(t, "metrics: {interval: 1}\n"), "metrics"}, 3, []string{"a bare number has no unit"}},
		{"dead servers", []string{"--config", dead, "metrics"}, 3, []string{"unreachable", "Alerts: alertmanager unreachable at 127.0.0.1:" + fmt.Sprint(port)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := opsdeck(t, nil, tt.args...)
			out := r.stdout + r.stderr
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "s3cretpw") || strings.Contains(out, url.QueryEscape("s3cretpw")) {
				t.Errorf("a password leaked:\n%s", out)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v with dead servers", d)
			}
		})
	}
}

// opsdeckFor runs the binary for d, then interrupts it as Ctrl-C would.
func opsdeckFor(t *testing.T, d time.Duration, env []string, args ...string) result {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = home
	cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "XDG_STATE_HOME=" + home + "/state", "KUBECONFIG=" + home + "/none"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 10s after Ctrl-C:\n%s", errb.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}
