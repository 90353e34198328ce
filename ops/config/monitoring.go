package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// RunbooksConfig says where runbooks come from besides the built-in ones.
type RunbooksConfig struct {
	// Dir holds *.md runbooks: a file named like a built-in runbook
	// ("troubleshooting.md") replaces it, any other is added. Empty: only
	// the built-in runbooks.
	Dir string `yaml:"dir" json:"dir"`
}

// MonitoringConfig drives `opsdeck monitoring render`: the Prometheus alert
// rules and scrape configuration, the Alertmanager configuration and the
// Grafana dashboards it writes from the thresholds.
type MonitoringConfig struct {
	// RunbookURL is the base URL of the runbooks; each alert's runbook_url
	// annotation is RunbookURL/<runbook>.md#<section>.
	RunbookURL string `yaml:"runbook_url" json:"runbook_url"`
	// ScrapeInterval and EvaluationInterval are Prometheus's global ones
	// (default 30s each).
	ScrapeInterval     time.Duration `yaml:"scrape_interval" json:"scrape_interval"`
	EvaluationInterval time.Duration `yaml:"evaluation_interval" json:"evaluation_interval"`
	// BackupMaxAge is how old the last successful backup of a component may
	// be before BackupStale fires (default 26h: a daily backup plus slack).
	BackupMaxAge time.Duration `yaml:"backup_max_age" json:"backup_max_age"`
	// GrafanaDatasource is the uid of the Prometheus data source the
	// dashboards query (default "prometheus").
	GrafanaDatasource string `yaml:"grafana_datasource" json:"grafana_datasource"`
	// Teams label each alert with the team that owns it, by component.
	Teams MonitoringTeams `yaml:"teams" json:"teams"`
	// Alertmanager is the routing of alerts to people.
	Alertmanager AlertRouting `yaml:"alertmanager" json:"alertmanager"`
}

// MonitoringTeams name the team owning each component's alerts.
type MonitoringTeams struct {
	API            string `yaml:"api" json:"api"`                       // default backend
	Database       string `yaml:"database" json:"database"`             // default platform
	Cache          string `yaml:"cache" json:"cache"`                   // default platform
	Infrastructure string `yaml:"infrastructure" json:"infrastructure"` // default platform
	Backups        string `yaml:"backups" json:"backups"`               // default platform
}

// AlertRouting is the Alertmanager configuration opsdeck renders: receivers,
// routes by severity and team, and the SMTP and Slack settings they use.
// Secrets stay in files Alertmanager reads (auth_password_file,
// slack_api_url_file), never in this configuration or the rendered one.
type AlertRouting struct {
	// DefaultReceiver gets what no route matches (default: the first
	// receiver; with no receivers, alerts are only shown in Alertmanager).
	DefaultReceiver string `yaml:"default_receiver" json:"default_receiver"`
	// GroupWait, GroupInterval and RepeatInterval are Alertmanager's
	// (defaults 30s, 5m, 4h).
	GroupWait      time.Duration `yaml:"group_wait" json:"group_wait"`
	GroupInterval  time.Duration `yaml:"group_interval" json:"group_interval"`
	RepeatInterval time.Duration `yaml:"repeat_interval" json:"repeat_interval"`
	// SMTP is needed by receivers with email addresses.
	SMTP SMTPConfig `yaml:"smtp" json:"smtp"`
	// SlackAPIURLFile is a file holding the Slack incoming-webhook URL,
	// needed by receivers with a Slack channel.
	SlackAPIURLFile string `yaml:"slack_api_url_file" json:"slack_api_url_file"`
	// Receivers are the people and systems alerts go to.
	Receivers []Receiver `yaml:"receivers,omitempty" json:"receivers"`
	// Routes send alerts of a team and/or severity to a receiver, first
	// match wins (unless Continue).
	Routes []AlertRoute `yaml:"routes,omitempty" json:"routes"`
}

// SMTPConfig is the mail server Alertmanager sends through.
type SMTPConfig struct {
	// Smarthost is host:port, e.g. "smtp.example.com:587".
	Smarthost string `yaml:"smarthost" json:"smarthost"`
	From      string `yaml:"from" json:"from"`
	// AuthUsername and AuthPasswordFile log in, when set.
	AuthUsername     string `yaml:"auth_username" json:"auth_username"`
	AuthPasswordFile string `yaml:"auth_password_file" json:"auth_password_file"`
	// RequireTLS insists on STARTTLS (default true).
	RequireTLS bool `yaml:"require_tls" json:"require_tls"`
}

// Receiver is one destination of alerts; any of its channels may be set.
type Receiver struct {
	Name string `yaml:"name" json:"name"`
	// Email addresses.
	Email []string `yaml:"email,omitempty" json:"email,omitempty"`
	// SlackChannel such as "#ops-alerts".
	SlackChannel string `yaml:"slack_channel" json:"slack_channel"`
	// WebhookURL receives Alertmanager's JSON (a pager, a chat bridge).
	WebhookURL string `yaml:"webhook_url" json:"webhook_url"`
}

// AlertRoute matches alerts by team and/or severity.
type AlertRoute struct {
	// Team matches the team label ("" matches any team).
	Team string `yaml:"team" json:"team"`
	// Severity is "critical", "warning" or "" (any).
	Severity string `yaml:"severity" json:"severity"`
	Receiver string `yaml:"receiver" json:"receiver"`
	// Continue lets later routes match too.
	Continue bool `yaml:"continue" json:"continue"`
}

// Severities are the values of the severity label on opsdeck's alerts.
var Severities = []string{"critical", "warning"}

// DefaultRunbookURL is where the built-in runbooks are published.
const DefaultRunbookURL = "https://github.com/opsdeck/opsdeck/blob/main/runbooks"

// DefaultMonitoring returns the monitoring defaults.
func DefaultMonitoring() MonitoringConfig {
	return MonitoringConfig{
		RunbookURL:         DefaultRunbookURL,
		ScrapeInterval:     30 * time.Second,
		EvaluationInterval: 30 * time.Second,
		BackupMaxAge:       26 * time.Hour,
		GrafanaDatasource:  "prometheus",
		Teams: MonitoringTeams{
			API: "backend", Database: "platform", Cache: "platform", Infrastructure: "platform", Backups: "platform",
		},
		Alertmanager: AlertRouting{
			GroupWait:      30 * time.Second,
			GroupInterval:  5 * time.Minute,
			RepeatInterval: 4 * time.Hour,
			SMTP:           SMTPConfig{RequireTLS: true},
		},
	}
}

// Receiver returns the receiver with the name.
func (a AlertRouting) Receiver(name string) (Receiver, bool) {
	for _, r := range a.Receivers {
		if r.Name == name {
			return r, true
		}
	}
	return Receiver{}, false
}

// Default returns the receiver of unmatched alerts: DefaultReceiver, else
// the first receiver, else "".
func (a AlertRouting) Default() string {
	if a.DefaultReceiver != "" {
		return a.DefaultReceiver
	}
	if len(a.Receivers) > 0 {
		return a.Receivers[0].Name
	}
	return ""
}

// clone copies the lists so that a clone shares nothing.
func (m MonitoringConfig) clone() MonitoringConfig {
	a := &m.Alertmanager
	a.Receivers = slices.Clone(a.Receivers)
	for i := range a.Receivers {
		a.Receivers[i].Email = slices.Clone(a.Receivers[i].Email)
	}
	a.Routes = slices.Clone(a.Routes)
	return m
}

var (
	labelValue   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,63}$`)
	receiverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	hostPort     = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$`)
)

// validateMonitoring checks the monitoring section.
func (c *Config) validateMonitoring() []error {
	m := c.Monitoring
	var errs []error
	one := func(path, reason, hint string) {
		errs = append(errs, c.fieldError([]string{path}, reason, hint, nil))
	}
	if u, err := url.Parse(m.RunbookURL); m.RunbookURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		one("monitoring.runbook_url", fmt.Sprintf("%q is not an http(s) URL", m.RunbookURL),
			"give the base URL where the runbooks are published, e.g. "+DefaultRunbookURL)
	}
	for _, d := range []struct {
		path string
		v    time.Duration
		min  time.Duration
	}{
		{"monitoring.scrape_interval", m.ScrapeInterval, time.Second},
		{"monitoring.evaluation_interval", m.EvaluationInterval, time.Second},
		{"monitoring.backup_max_age", m.BackupMaxAge, time.Hour},
		{"monitoring.alertmanager.group_wait", m.Alertmanager.GroupWait, 0},
		{"monitoring.alertmanager.group_interval", m.Alertmanager.GroupInterval, time.Second},
		{"monitoring.alertmanager.repeat_interval", m.Alertmanager.RepeatInterval, time.Minute},
	} {
		if d.v < d.min || d.v < 0 {
			least := "0s"
			if d.min > 0 {
				least = strings.TrimSuffix(strings.TrimSuffix(d.min.String(), "0s"), "0m")
			}
			one(d.path, fmt.Sprintf("%v is too short", d.v), "use at least "+least)
		}
	}
	if !labelValue.MatchString(m.GrafanaDatasource) {
		one("monitoring.grafana_datasource", fmt.Sprintf("%q is not a data source uid", m.GrafanaDatasource), `use the uid of your Prometheus data source in Grafana, e.g. "prometheus"`)
	}
	for _, t := range []struct{ path, v string }{
		{"api", m.Teams.API}, {"database", m.Teams.Database}, {"cache", m.Teams.Cache},
		{"infrastructure", m.Teams.Infrastructure}, {"backups", m.Teams.Backups},
	} {
		if !labelValue.MatchString(t.v) {
			one("monitoring.teams."+t.path, fmt.Sprintf("%q is not a team name", t.v), "use letters, digits, '_', '.' or '-'")
		}
	}
	errs = append(errs, c.validateRouting()...)
	return errs
}

func (c *Config) validateRouting() []error {
	a := c.Monitoring.Alertmanager
	var errs []error
	one := func(path, reason, hint string) {
		errs = append(errs, c.fieldError([]string{path}, reason, hint, nil))
	}
	names := map[string]bool{}
	needSMTP, needSlack := "", ""
	for i, r := range a.Receivers {
		path := fmt.Sprintf("monitoring.alertmanager.receivers[%d]", i)
		switch {
		case !receiverName.MatchString(r.Name):
			one(path+".name", fmt.Sprintf("%q is not a receiver name", r.Name), "use letters, digits, '_', '.' or '-'")
		case names[r.Name]:
			one(path+".name", fmt.Sprintf("receiver %q is defined twice", r.Name), "give every receiver its own name")
		}
		names[r.Name] = true
		if len(r.Email) == 0 && r.SlackChannel == "" && r.WebhookURL == "" {
			one(path, fmt.Sprintf("receiver %q has no email, slack_channel or webhook_url", r.Name), "give it at least one, or remove it")
		}
		for j, e := range r.Email {
			if at := strings.Index(e, "@"); at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " ,;") {
				one(fmt.Sprintf("%s.email[%d]", path, j), fmt.Sprintf("%q is not an email address", e), "write one address per list item")
			}
		}
		if len(r.Email) > 0 && needSMTP == "" {
			needSMTP = path + ".email"
		}
		if r.SlackChannel != "" && needSlack == "" {
			needSlack = path + ".slack_channel"
		}
		if r.WebhookURL != "" {
			if u, err := url.Parse(r.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				one(path+".webhook_url", "is not an http(s) URL", "give the full URL the webhook listens on")
			}
		}
	}
	if needSMTP != "" {
		if !hostPort.MatchString(a.SMTP.Smarthost) {
			one("monitoring.alertmanager.smtp.smarthost", fmt.Sprintf("%q is not host:port (needed by %s)", a.SMTP.Smarthost, needSMTP), `e.g. "smtp.example.com:587"`)
		}
		if !strings.Contains(a.SMTP.From, "@") {
			one("monitoring.alertmanager.smtp.from", fmt.Sprintf("%q is not an email address (needed by %s)", a.SMTP.From, needSMTP), `e.g. "alerts@example.com"`)
		}
	}
	if (a.SMTP.AuthUsername == "") != (a.SMTP.AuthPasswordFile == "") {
		one("monitoring.alertmanager.smtp.auth_password_file", "auth_username and auth_password_file go together", "set both, or neither for a relay without login")
	}
	if needSlack != "" && a.SlackAPIURLFile == "" {
		one("monitoring.alertmanager.slack_api_url_file", "is empty but "+needSlack+" is set", "name a file holding the Slack incoming-webhook URL (readable by Alertmanager)")
	}
	if a.DefaultReceiver != "" && !names[a.DefaultReceiver] {
		one("monitoring.alertmanager.default_receiver", fmt.Sprintf("%q is not one of the receivers", a.DefaultReceiver), "name a receiver defined under receivers")
	}
	for i, r := range a.Routes {
		path := fmt.Sprintf("monitoring.alertmanager.routes[%d]", i)
		if !names[r.Receiver] {
			one(path+".receiver", fmt.Sprintf("%q is not one of the receivers", r.Receiver), "name a receiver defined under receivers")
		}
		if r.Severity != "" && !slices.Contains(Severities, r.Severity) {
			one(path+".severity", fmt.Sprintf("%q is not a severity", r.Severity), `use "critical", "warning" or leave it empty for both`)
		}
		if r.Team != "" && !labelValue.MatchString(r.Team) {
			one(path+".team", fmt.Sprintf("%q is not a team name", r.Team), "use a name from monitoring.teams")
		}
		if r.Team == "" && r.Severity == "" {
			one(path, "matches every alert", "set team and/or severity, or use default_receiver instead")
		}
	}
	return errs
}
