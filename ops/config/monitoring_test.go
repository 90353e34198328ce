package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMonitoringDefaults(t *testing.T) {
	m := DefaultMonitoring()
	if m.RunbookURL != DefaultRunbookURL || m.BackupMaxAge != 26*time.Hour || m.ScrapeInterval != 30*time.Second {
		t.Errorf("defaults = %+v", m)
	}
	if m.Teams.API != "backend" || m.Teams.Database != "platform" {
		t.Errorf("teams = %+v", m.Teams)
	}
	if !m.Alertmanager.SMTP.RequireTLS {
		t.Error("SMTP must require TLS by default")
	}
	if m.Alertmanager.Default() != "" {
		t.Errorf("default receiver with no receivers = %q, want empty", m.Alertmanager.Default())
	}
}

// withReceivers is a routing with one receiver of every kind.
func withReceivers(c *Config) {
	a := &c.Monitoring.Alertmanager
	a.SMTP.Smarthost, a.SMTP.From = "smtp.example.com:587", "alerts@example.com"
	a.SlackAPIURLFile = "/etc/alertmanager/slack-url"
	a.Receivers = []Receiver{
		{Name: "ops", Email: []string{"ops@example.com"}},
		{Name: "backend-pager", SlackChannel: "#backend", WebhookURL: "https://pager.example.com/hook"},
	}
	a.Routes = []AlertRoute{{Team: "backend", Severity: "critical", Receiver: "backend-pager"}}
}

func TestValidateMonitoring(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"defaults", func(c *Config) {}, nil},
		{"receivers of every kind", withReceivers, nil},
		{"runbook url", func(c *Config) { c.Monitoring.RunbookURL = "runbooks/" }, []string{`monitoring.runbook_url: "runbooks/" is not an http(s) URL`}},
		{"backup age", func(c *Config) { c.Monitoring.BackupMaxAge = time.Minute }, []string{"monitoring.backup_max_age: 1m0s is too short"}},
		{"team", func(c *Config) { c.Monitoring.Teams.API = "back end" }, []string{`monitoring.teams.api: "back end" is not a team name`}},
		{"email without smtp", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.SMTP.Smarthost = ""
		}, []string{"monitoring.alertmanager.smtp.smarthost", "needed by monitoring.alertmanager.receivers[0].email"}},
		{"bad email", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.Receivers[0].Email = []string{"ops@example.com, dev@example.com"}
		}, []string{"receivers[0].email[0]", "is not an email address"}},
		{"slack without url file", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.SlackAPIURLFile = ""
		}, []string{"monitoring.alertmanager.slack_api_url_file: is empty but monitoring.alertmanager.receivers[1].slack_channel is set"}},
		{"empty receiver", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.Receivers = append(c.Monitoring.Alertmanager.Receivers, Receiver{Name: "nobody"})
		}, []string{`receiver "nobody" has no email, slack_channel or webhook_url`}},
		{"duplicate receiver", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.Receivers[1].Name = "ops"
		}, []string{`receiver "ops" is defined twice`}},
		{"route to nowhere", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.Routes[0].Receiver = "pager"
		}, []string{`routes[0].receiver: "pager" is not one of the receivers`}},
		{"route severity", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.Routes[0].Severity = "page"
		}, []string{`"page" is not a severity`}},
		{"catch-all route", func(c *Config) {
			withReceivers(c)
			c.Monitoring.Alertmanager.Routes[0].Team, c.Monitoring.Alertmanager.Routes[0].Severity = "", ""
		}, []string{"routes[0]: matches every alert"}},
		{"default receiver", func(c *Config) { withReceivers(c); c.Monitoring.Alertmanager.DefaultReceiver = "oncall" }, []string{`"oncall" is not one of the receivers`}},
		{"smtp login half set", func(c *Config) { withReceivers(c); c.Monitoring.Alertmanager.SMTP.AuthUsername = "alerts" }, []string{"auth_username and auth_password_file go together"}},
		{"webhook", func(c *Config) { withReceivers(c); c.Monitoring.Alertmanager.Receivers[1].WebhookURL = "pager:80" }, []string{"receivers[1].webhook_url: is not an http(s) URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a FieldError: %T", err)
			}
		})
	}
}

func TestLoadMonitoringAndRunbooks(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	data := `runbooks:
  dir: ~/runbooks
monitoring:
  backup_max_age: 50h
  teams: {api: web}
  alertmanager:
    smtp: {smarthost: "mail:25", from: "am@example.com"}
    receivers:
      - name: ops
        email: [ops@example.com]
    routes:
      - {severity: critical, receiver: ops}
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := cfg.Monitoring
	if want := filepath.Join(os.Getenv("HOME"), "runbooks"); cfg.Runbooks.Dir != want {
		t.Errorf("runbooks.dir = %q, want %q", cfg.Runbooks.Dir, want)
	}
	if m.BackupMaxAge != 50*time.Hour || m.Teams.API != "web" || m.Teams.Database != "platform" {
		t.Errorf("monitoring = %+v: file values and defaults should merge", m)
	}
	if !m.Alertmanager.SMTP.RequireTLS || m.Alertmanager.Default() != "ops" {
		t.Errorf("alertmanager = %+v", m.Alertmanager)
	}

	// A typo is located in the file.
	if err := os.WriteFile(path, []byte("monitoring:\n  alertmanager:\n    recievers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), ":3:5") || !strings.Contains(err.Error(), `did you mean "receivers"`) {
		t.Errorf("typo error = %v", err)
	}
}

func TestRedactedWebhook(t *testing.T) {
	c := Default()
	withReceivers(c)
	c.Monitoring.Alertmanager.Receivers[1].WebhookURL = "https://user:hunter2@pager.example.com/hook/T0KEN"
	r := c.Redacted()
	if got := r.Monitoring.Alertmanager.Receivers[1].WebhookURL; strings.Contains(got, "hunter2") || strings.Contains(got, "T0KEN") || !strings.Contains(got, "pager.example.com") {
		t.Errorf("webhook URL not redacted to its host: %s", got)
	}
	if !strings.Contains(c.Monitoring.Alertmanager.Receivers[1].WebhookURL, "hunter2") {
		t.Error("Redacted changed the original")
	}
	r.Monitoring.Alertmanager.Receivers[0].Email[0] = "changed@example.com"
	if c.Monitoring.Alertmanager.Receivers[0].Email[0] != "ops@example.com" {
		t.Error("Redacted shares the email list with the original")
	}
}
