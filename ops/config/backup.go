package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/redact"
)

// BackupEncryption configures age encryption of every backup file. With no
// recipients backups are stored unencrypted and Kubernetes Secrets are
// skipped.
type BackupEncryption struct {
	// Recipients are age public keys ("age1...") or SSH public keys.
	Recipients []string `yaml:"recipients,omitempty" json:"recipients"`
	// RecipientsFile holds more recipients, one a line ('#' comments).
	RecipientsFile string `yaml:"recipients_file" json:"recipients_file"`
	// IdentityFile holds the private key(s) that decrypt: needed by
	// `backups verify --deep` and by restores, not by backups.
	IdentityFile string `yaml:"identity_file" json:"identity_file"`
}

// Enabled reports whether backups are encrypted.
func (e BackupEncryption) Enabled() bool {
	return len(e.Recipients) > 0 || e.RecipientsFile != ""
}

// BackupRetention is how many days the sets of each component are kept.
type BackupRetention struct {
	Database int `yaml:"database" json:"database"` // default 30
	Redis    int `yaml:"redis" json:"redis"`       // default 30
	Config   int `yaml:"config" json:"config"`     // default 90
	Logs     int `yaml:"logs" json:"logs"`         // default 7
}

// Days returns the retention of a component ("database", "redis",
// "config", "logs") in days, 0 for an unknown one.
func (r BackupRetention) Days(component string) int {
	switch component {
	case "database":
		return r.Database
	case "redis":
		return r.Redis
	case "config":
		return r.Config
	case "logs":
		return r.Logs
	}
	return 0
}

// DefaultBackupRetention is the reference system's retention.
func DefaultBackupRetention() BackupRetention {
	return BackupRetention{Database: 30, Redis: 30, Config: 90, Logs: 7}
}

// BackupEvery is how often each component is backed up: the schedule the
// check judges the newest verified set's age against (plus
// BackupScheduleMargin).
type BackupEvery struct {
	Database time.Duration `yaml:"database" json:"database"` // default 24h
	Redis    time.Duration `yaml:"redis" json:"redis"`       // default 24h
	Config   time.Duration `yaml:"config" json:"config"`     // default 168h (weekly)
	Logs     time.Duration `yaml:"logs" json:"logs"`         // default 24h
	Base     time.Duration `yaml:"base" json:"base"`         // default 168h (weekly)
}

// Of returns a component's interval ("database", "redis", "config",
// "logs", "base"), 0 for any other.
func (e BackupEvery) Of(component string) time.Duration {
	switch component {
	case "database":
		return e.Database
	case "redis":
		return e.Redis
	case "config":
		return e.Config
	case "logs":
		return e.Logs
	case "base":
		return e.Base
	}
	return 0
}

// DefaultBackupEvery is the reference system's schedule: daily but the
// weekly config, and a weekly base backup beside the WAL archive.
func DefaultBackupEvery() BackupEvery {
	return BackupEvery{Database: 24 * time.Hour, Redis: 24 * time.Hour, Config: 7 * 24 * time.Hour, Logs: 24 * time.Hour, Base: 7 * 24 * time.Hour}
}

// BackupScheduleMargin is how late a scheduled backup may be before the
// check warns: a daily component's newest verified set may be 26h old.
const BackupScheduleMargin = 2 * time.Hour

// Backup defaults.
const (
	DefaultCompressionLevel = 3
	DefaultLogsWindow       = 24 * time.Hour
)

func (c *Config) validateBackupPolicy(one func(path, reason, hint string, err error)) {
	b := c.Backup
	if b.CompressionLevel < 1 || b.CompressionLevel > 22 {
		one("backup.compression_level", fmt.Sprintf("%d is not a zstd level", b.CompressionLevel), "use 1 (fastest) to 19 (smallest); 3 is the default", nil)
	}
	for _, r := range []struct {
		name string
		days int
	}{{"database", b.Retention.Database}, {"redis", b.Retention.Redis}, {"config", b.Retention.Config}, {"logs", b.Retention.Logs}} {
		if r.days < 1 {
			one("backup.retention_days."+r.name, fmt.Sprintf("%d is not a number of days >= 1", r.days), "use e.g. 30; the newest verified set is always kept anyway", nil)
		}
	}
	for _, c := range []string{"database", "redis", "config", "logs"} {
		if d := b.Every.Of(c); d < time.Hour {
			one("backup.every."+c, fmt.Sprintf("%v is shorter than an hour", d), `use the component's schedule, e.g. "24h" for a daily backup`, nil)
		}
	}
	if b.LogsWindow <= 0 || b.LogsWindow > 30*24*time.Hour {
		one("backup.logs_window", fmt.Sprintf("%v is not a window between 1s and 720h", b.LogsWindow), `use e.g. "24h"`, nil)
	}
	for i, r := range b.Encryption.Recipients {
		r = strings.TrimSpace(r)
		if !strings.HasPrefix(r, "age1") && !strings.HasPrefix(r, "ssh-") {
			one(fmt.Sprintf("backup.encryption.recipients[%d]", i), "is not an age recipient", `give a public key such as "age1..." (age-keygen prints it) or an "ssh-ed25519 ..." key`, nil)
		}
	}
	for _, f := range []struct{ path, file string }{
		{"backup.encryption.recipients_file", b.Encryption.RecipientsFile},
		{"backup.encryption.identity_file", b.Encryption.IdentityFile},
	} {
		if f.file == "" {
			continue
		}
		if _, err := os.Stat(f.file); err != nil {
			one(f.path, fmt.Sprintf("cannot read %s", f.file), "fix the path or remove the setting", err)
		}
	}
	if b.WebhookURL != "" {
		if err := checkHTTPURL(b.WebhookURL); err != nil {
			one("backup.webhook_url", err.Error(), "use the https URL of a Slack-compatible incoming webhook, or leave it empty", nil)
		}
	}
	if b.MetricsDir != "" {
		if st, err := os.Stat(b.MetricsDir); err != nil || !st.IsDir() {
			one("backup.metrics_dir", fmt.Sprintf("%s is not a directory", b.MetricsDir), "point it at node exporter's --collector.textfile.directory, or leave it empty", nil)
		}
	}
	if b.PgBinDir != "" {
		if st, err := os.Stat(b.PgBinDir); err != nil || !st.IsDir() {
			one("backup.pg_bin_dir", fmt.Sprintf("%s is not a directory", b.PgBinDir), "name the directory holding pg_dump and pg_restore, e.g. /usr/lib/postgresql/16/bin, or leave it empty to use PATH", nil)
		}
	}
}

// redactWebhook keeps a webhook URL's scheme and host: its path is the secret.
func redactWebhook(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return redact.Placeholder
	}
	return u.Scheme + "://" + u.Host + "/" + redact.Placeholder
}
