package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func secretConfig() *Config {
	c := Default()
	c.Postgres.DSN = "postgres://app:pgsecret@db:5432/stocks?sslmode=disable"
	c.Redis.URL = "redis://:redissecret@cache:6379/0"
	c.Prometheus.URL = "http://admin:promsecret@prom:9090"
	c.Backup.S3 = S3Config{Endpoint: "minio:9000", Bucket: "bkt", AccessKey: "AKIA", SecretKey: "s3secret"}
	c.Kubernetes.Namespaces = []string{"default"}
	return c
}

func TestRedacted(t *testing.T) {
	cleanEnv(t)
	c := secretConfig()
	r := c.Redacted()
	tests := []struct{ name, got, want string }{
		{"dsn", r.Postgres.DSN, "postgres://app:xxxxx@db:5432/stocks?sslmode=disable"},
		{"redis", r.Redis.URL, "redis://:xxxxx@cache:6379/0"},
		{"prometheus", r.Prometheus.URL, "http://admin:xxxxx@prom:9090"},
		{"s3 secret", r.Backup.S3.SecretKey, "REDACTED"},
		{"s3 access key kept", r.Backup.S3.AccessKey, "AKIA"},
		{"original untouched", c.Postgres.DSN, "postgres://app:pgsecret@db:5432/stocks?sslmode=disable"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	r.Kubernetes.Namespaces[0] = "changed"
	if c.Kubernetes.Namespaces[0] != "default" {
		t.Error("Redacted shares the namespaces slice")
	}
	out, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pgsecret", "redissecret", "promsecret", "s3secret"} {
		if strings.Contains(string(out), s) {
			t.Errorf("redacted YAML leaks %s:\n%s", s, out)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	cleanEnv(t)
	c := secretConfig()
	c.ReadOnly = true
	c.Kubernetes.Namespaces = []string{"a", "b"}
	c.Thresholds.CPUPercent.Warn = 72.5
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "config.yaml")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	// Overwrite to exercise the rename over an existing file.
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("perms = %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain(got), plain(c)) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", plain(got), plain(c))
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
}

func TestWriteFails(t *testing.T) {
	cleanEnv(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if err := Default().Write(filepath.Join(file, "x.yaml")); err == nil {
		t.Error("Write under a file succeeded")
	}
}

// TestYAMLKeepsTabsAndNewlines: go-yaml wrote "a<TAB>b" plain and read it
// back as "ab", and a lone newline as an empty block (found by FuzzParse:
// an S3 access key of tabs). Such strings are written double-quoted.
func TestYAMLKeepsTabsAndNewlines(t *testing.T) {
	for _, v := range []string{"a\tb", "\t", "\n", "x\r\ny", " lead and trail "} {
		c := Default()
		c.Backup.S3.AccessKey = v
		c.Kubernetes.Namespaces = []string{v}
		out, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("c.yaml", out)
		if err != nil || back.Backup.S3.AccessKey != v || len(back.Kubernetes.Namespaces) != 1 || back.Kubernetes.Namespaces[0] != v {
			t.Errorf("%q: read back %q %q (%v)", v, back.Backup.S3.AccessKey, back.Kubernetes.Namespaces, err)
		}
	}
	// An ordinary configuration keeps go-yaml's plain style.
	out, err := Default().YAML()
	if err != nil || bytes.Contains(out, []byte(`read_only: "`)) || !bytes.Contains(out, []byte("read_only: false\n")) {
		t.Fatalf("%v\n%s", err, out)
	}
}
