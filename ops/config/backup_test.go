package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateBackupPolicy(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b *BackupConfig)
		want   []string
	}{
		{"defaults", func(b *BackupConfig) {}, nil},
		{"good", func(b *BackupConfig) {
			b.CompressionLevel = 19
			b.Encryption.Recipients = []string{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}
			b.WebhookURL = "https://hooks.example.com/services/T0/B0/secret"
			b.Retention = BackupRetention{1, 2, 3, 4}
		}, nil},
		{"level", func(b *BackupConfig) { b.CompressionLevel = 0 }, []string{"field backup.compression_level: 0 is not a zstd level"}},
		{"retention", func(b *BackupConfig) { b.Retention.Logs = 0 }, []string{"field backup.retention_days.logs: 0 is not a number of days"}},
		{"window", func(b *BackupConfig) { b.LogsWindow = -time.Hour }, []string{"field backup.logs_window"}},
		{"every", func(b *BackupConfig) { b.Every.Config = time.Minute }, []string{"field backup.every.config: 1m0s is shorter than an hour"}},
		{"recipient", func(b *BackupConfig) { b.Encryption.Recipients = []string{"AGE-SECRET-KEY-1XYZ"} }, []string{"backup.encryption.recipients[0]: is not an age recipient"}},
		{"identity missing", func(b *BackupConfig) { b.Encryption.IdentityFile = "/nonexistent/key.txt" }, []string{"backup.encryption.identity_file: cannot read"}},
		{"webhook", func(b *BackupConfig) { b.WebhookURL = "hooks.example.com/x" }, []string{"field backup.webhook_url"}},
		{"metrics dir", func(b *BackupConfig) { b.MetricsDir = "/nonexistent" }, []string{"backup.metrics_dir: /nonexistent is not a directory"}},
		{"pg bin dir", func(b *BackupConfig) { b.PgBinDir = "/nonexistent" }, []string{"backup.pg_bin_dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			c := Default()
			tt.mutate(&c.Backup)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v lacks %q", err, w)
				}
			}
		})
	}
}

func TestBackupPolicyFromFile(t *testing.T) {
	cleanEnv(t)
	src := "backup:\n  compression_level: 5\n  retention_days: {database: 14}\n  logs_window: 6h\n  webhook_url: https://hooks.example.com/services/T0/B0/tok3n\n"
	cfg, err := Parse("opsdeck.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Backup
	if b.CompressionLevel != 5 || b.Retention != (BackupRetention{14, 30, 90, 7}) || b.LogsWindow != 6*time.Hour {
		t.Fatalf("backup = %+v", b)
	}
	if got := cfg.Redacted().Backup.WebhookURL; strings.Contains(got, "tok3n") || !strings.HasPrefix(got, "https://hooks.example.com/") {
		t.Errorf("redacted webhook = %q", got)
	}
	if _, err := Parse("opsdeck.yaml", []byte("backup:\n  retention_days: {databse: 14}\n")); err == nil || !strings.Contains(err.Error(), `did you mean "database"`) {
		t.Errorf("typo error = %v", err)
	}
	if _, err := Parse("opsdeck.yaml", []byte("backup:\n  compression_level: high\n")); err == nil || !strings.Contains(err.Error(), "opsdeck.yaml:2") {
		t.Errorf("wrong type error = %v", err)
	}
}
