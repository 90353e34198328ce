package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/goccy/go-yaml"

	"github.com/opsdeck/opsdeck/ops/redact"
)

// Redacted returns a deep copy of c that is safe to show: passwords inside
// the DSN and URLs are masked with redact.Mask and the S3 secret key is
// replaced by redact.Placeholder.
func (c *Config) Redacted() *Config {
	r := c.clone()
	r.Postgres.DSN = redact.DSN(r.Postgres.DSN)
	r.Postgres.WAL.DSN = redact.DSN(r.Postgres.WAL.DSN)
	r.Redis.URL = redact.URL(r.Redis.URL)
	r.Prometheus.URL = redact.URL(r.Prometheus.URL)
	r.Alertmanager.URL = redact.URL(r.Alertmanager.URL)
	for i, rc := range r.Monitoring.Alertmanager.Receivers {
		r.Monitoring.Alertmanager.Receivers[i].WebhookURL = redactWebhook(rc.WebhookURL)
	}
	if r.Backup.S3.SecretKey != "" {
		r.Backup.S3.SecretKey = redact.Placeholder
	}
	r.Backup.WebhookURL = redactWebhook(r.Backup.WebhookURL)
	for i, h := range r.Checks.HTTP {
		r.Checks.HTTP[i].URL = redact.URL(h.URL)
	}
	return r
}

// clone returns a deep copy of c.
func (c *Config) clone() *Config {
	r := *c
	r.Kubernetes.Namespaces = append([]string(nil), c.Kubernetes.Namespaces...)
	r.Backup.Encryption.Recipients = slices.Clone(c.Backup.Encryption.Recipients)
	r.Metrics = c.Metrics.clone()
	r.Monitoring = c.Monitoring.clone()
	r.Maintenance = c.Maintenance.clone()
	r.Restore = c.Restore.clone()
	r.Checks = c.Checks.clone()
	r.meta = c.meta.clone()
	return &r
}

// YAML renders c as a configuration file that [Load] reads back to the same
// values. It does not redact: call Redacted first to show it. It renders
// one environment: the named environments of a file are not rendered (the
// configuration ForEnv returns is the one to show).
func (c *Config) YAML() ([]byte, error) {
	b, err := c.render()
	if err != nil {
		return nil, err
	}
	// go-yaml does not read back all it writes (it drops a tab inside a
	// plain string, writes a lone newline as an empty block): when the
	// file does not load to the same values, every string is written
	// double-quoted, with JSON's escapes.
	if back, err := Parse("", b); err == nil {
		if again, err := back.render(); err == nil && bytes.Equal(again, b) {
			return b, nil
		}
	}
	return c.render(yaml.CustomMarshaler[string](func(s string) ([]byte, error) { return json.Marshal(s) }))
}

func (c *Config) render(opts ...yaml.EncodeOption) ([]byte, error) {
	opts = append([]yaml.EncodeOption{yaml.Indent(2), yaml.IndentSequence(true), yaml.AutoInt()}, opts...)
	b, err := yaml.MarshalWithOptions(c, opts...)
	if err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return b, nil
}

// Write saves c (secrets included) as YAML to path atomically: it writes a
// 0600 temporary file in the same directory, syncs it and renames it over
// path. Missing directories are created 0700.
func (c *Config) Write(path string) (err error) {
	data, err := c.YAML()
	if err != nil {
		return err
	}
	data = append([]byte("# opsdeck configuration — written by opsdeck; holds credentials, keep it private.\n"), data...)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config: create %s: %w — check its permissions", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write config: %w — check that %s is writable", err, dir)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write config %s: %w — check free space", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	return nil
}
