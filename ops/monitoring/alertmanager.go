package monitoring

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/config"
)

// amFile is alertmanager.yml.
type amFile struct {
	Global       amGlobal      `yaml:"global"`
	Route        amRoute       `yaml:"route"`
	InhibitRules []inhibitRule `yaml:"inhibit_rules"`
	Receivers    []amReceiver  `yaml:"receivers"`
}

type amGlobal struct {
	ResolveTimeout       string `yaml:"resolve_timeout"`
	SMTPSmarthost        string `yaml:"smtp_smarthost,omitempty"`
	SMTPFrom             string `yaml:"smtp_from,omitempty"`
	SMTPAuthUsername     string `yaml:"smtp_auth_username,omitempty"`
	SMTPAuthPasswordFile string `yaml:"smtp_auth_password_file,omitempty"`
	SMTPRequireTLS       *bool  `yaml:"smtp_require_tls,omitempty"`
	SlackAPIURLFile      string `yaml:"slack_api_url_file,omitempty"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	GroupBy        []string  `yaml:"group_by,omitempty"`
	GroupWait      string    `yaml:"group_wait,omitempty"`
	GroupInterval  string    `yaml:"group_interval,omitempty"`
	RepeatInterval string    `yaml:"repeat_interval,omitempty"`
	Matchers       []string  `yaml:"matchers,omitempty"`
	Continue       bool      `yaml:"continue,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`
}

type inhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

type amReceiver struct {
	Name           string        `yaml:"name"`
	EmailConfigs   []emailConfig `yaml:"email_configs,omitempty"`
	SlackConfigs   []slackConfig `yaml:"slack_configs,omitempty"`
	WebhookConfigs []hookConfig  `yaml:"webhook_configs,omitempty"`
}

type emailConfig struct {
	To           string `yaml:"to"`
	SendResolved bool   `yaml:"send_resolved"`
}

type slackConfig struct {
	Channel      string `yaml:"channel"`
	SendResolved bool   `yaml:"send_resolved"`
	Title        string `yaml:"title"`
	Text         string `yaml:"text"`
}

type hookConfig struct {
	URL          string `yaml:"url"`
	SendResolved bool   `yaml:"send_resolved"`
}

// fallbackReceiver receives everything when the config names no receiver:
// alerts are then only seen in Alertmanager's UI and the cockpit.
const fallbackReceiver = "opsdeck-unrouted"

// slackTitle and slackText show the alert's summary, description and runbook.
const (
	slackTitle = `[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})`
	slackText  = `{{ range .Alerts }}*{{ .Annotations.summary }}*
{{ .Annotations.description }}
Runbook: {{ .Annotations.runbook_url }}
{{ end }}`
)

// alertmanagerFile builds alertmanager.yml from the routing config: routes
// by team and severity in the configured order, inhibition so a critical
// alert mutes the warning of the same alert and instance (and a component
// that is down mutes its other warnings), and the receivers.
func alertmanagerFile(m config.MonitoringConfig) (amFile, []string) {
	a := m.Alertmanager
	var warnings []string
	f := amFile{
		Global: amGlobal{ResolveTimeout: "5m"},
		Route: amRoute{
			Receiver: a.Default(), GroupBy: []string{"alertname", "team"},
			GroupWait: duration(a.GroupWait), GroupInterval: duration(a.GroupInterval), RepeatInterval: duration(a.RepeatInterval),
		},
		InhibitRules: []inhibitRule{
			{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"alertname", "instance"}},
			{SourceMatchers: []string{`alertname=~"PostgreSQLDown|RedisDown"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{SubsystemLabel}},
		},
	}
	needSMTP := false
	for _, r := range a.Receivers {
		rc := amReceiver{Name: r.Name}
		for _, to := range r.Email {
			rc.EmailConfigs = append(rc.EmailConfigs, emailConfig{To: to, SendResolved: true})
			needSMTP = true
		}
		if r.SlackChannel != "" {
			rc.SlackConfigs = []slackConfig{{Channel: r.SlackChannel, SendResolved: true, Title: slackTitle, Text: slackText}}
		}
		if r.WebhookURL != "" {
			rc.WebhookConfigs = []hookConfig{{URL: r.WebhookURL, SendResolved: true}}
		}
		f.Receivers = append(f.Receivers, rc)
	}
	if len(f.Receivers) == 0 {
		f.Receivers = []amReceiver{{Name: fallbackReceiver}}
		f.Route.Receiver = fallbackReceiver
		warnings = append(warnings, "monitoring.alertmanager has no receivers: alerts will only show in Alertmanager and the cockpit — add receivers (email, slack_channel, webhook_url) and routes to page someone")
	}
	if needSMTP {
		s := a.SMTP
		tls := s.RequireTLS
		f.Global.SMTPSmarthost, f.Global.SMTPFrom, f.Global.SMTPRequireTLS = s.Smarthost, s.From, &tls
		f.Global.SMTPAuthUsername, f.Global.SMTPAuthPasswordFile = s.AuthUsername, s.AuthPasswordFile
	}
	f.Global.SlackAPIURLFile = a.SlackAPIURLFile
	for _, r := range a.Routes {
		var matchers []string
		if r.Team != "" {
			matchers = append(matchers, fmt.Sprintf("team=%q", r.Team))
		}
		if r.Severity != "" {
			matchers = append(matchers, fmt.Sprintf("severity=%q", r.Severity))
		}
		f.Route.Routes = append(f.Route.Routes, amRoute{Receiver: r.Receiver, Matchers: matchers, Continue: r.Continue})
	}
	if len(a.Routes) == 0 && len(a.Receivers) > 1 {
		warnings = append(warnings, "monitoring.alertmanager has no routes: every alert goes to "+a.Default()+" — add routes by team and severity")
	}
	teams := map[string]bool{}
	for _, r := range a.Routes {
		teams[r.Team] = true
	}
	var unrouted []string
	for _, t := range []string{m.Teams.API, m.Teams.Database, m.Teams.Cache, m.Teams.Infrastructure, m.Teams.Backups} {
		if len(a.Routes) > 0 && !teams[t] && !teams[""] && !slices.Contains(unrouted, t) {
			unrouted = append(unrouted, t)
		}
	}
	if len(unrouted) > 0 {
		warnings = append(warnings, fmt.Sprintf("no route names team %s: their alerts go to %s", strings.Join(unrouted, ", "), a.Default()))
	}
	return f, warnings
}
