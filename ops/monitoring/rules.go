package monitoring

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/ops/config"
)

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// duration writes a duration as Prometheus does: "5m", "1h30m", "1d2h".
func duration(d time.Duration) string { return model.Duration(d).String() }

// SubsystemLabel names the part of the system an alert is about (api,
// database, cache, infrastructure, backups). It is not "component": the
// backup metrics already carry that label, for database, redis, config, logs.
const SubsystemLabel = "subsystem"

// ruleLabels are the labels every rule of alert a at level l carries.
func ruleLabels(a Alert, l Level, teams config.MonitoringTeams) map[string]string {
	return map[string]string{"severity": l.Severity, "team": team(teams, a.Component), SubsystemLabel: a.Component}
}

// annotations are the rule's summary, description and runbook_url.
func annotations(a Alert, l Level, runbookURL string) map[string]string {
	return map[string]string{
		"summary":     a.annotate(a.Summary, l.Threshold),
		"description": a.annotate(a.Description, l.Threshold),
		"runbook_url": a.RunbookURL(runbookURL),
	}
}

// rules builds the rule file: one group per component, every level of
// every alert.
func rules(alerts []Alert, m config.MonitoringConfig) ruleFile {
	var f ruleFile
	index := map[string]int{}
	for _, a := range alerts {
		gi, ok := index[a.Component]
		if !ok {
			gi = len(f.Groups)
			index[a.Component] = gi
			f.Groups = append(f.Groups, ruleGroup{Name: "opsdeck-" + a.Component, Interval: duration(m.EvaluationInterval)})
		}
		for _, l := range a.Levels {
			f.Groups[gi].Rules = append(f.Groups[gi].Rules, rule{
				Alert: a.Name, Expr: a.exprAt(l.Threshold), For: duration(a.For),
				Labels: ruleLabels(a, l, m.Teams), Annotations: annotations(a, l, m.RunbookURL),
			})
		}
	}
	return f
}

// unitTests is a promtool test file.
type unitTests struct {
	RuleFiles          []string   `yaml:"rule_files"`
	EvaluationInterval string     `yaml:"evaluation_interval"`
	Tests              []unitTest `yaml:"tests"`
}

type unitTest struct {
	Name          string        `yaml:"name"`
	Interval      string        `yaml:"interval"`
	InputSeries   []inputSeries `yaml:"input_series"`
	AlertRuleTest []alertTest   `yaml:"alert_rule_test"`
}

type alertTest struct {
	EvalTime  string     `yaml:"eval_time"`
	Alertname string     `yaml:"alertname"`
	ExpAlerts []expAlert `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// testCase is one situation of an alert: a value and the severities that
// must fire at it.
type testCase struct {
	name   string
	value  float64
	firing []Level
}

// cases are the situations every alert is tested in: quiet below its
// lowest level, only the warning between the levels, both above.
func cases(a Alert) []testCase {
	f := a.fixture
	switch f.kind {
	case kindFlag:
		return []testCase{{"quiet when up", 1, nil}, {"fires when down", 0, a.Levels}}
	case kindAge:
		age := a.Levels[0].Threshold
		return []testCase{{"quiet when recent", age / 2, nil}, {"fires when too old", age * 1.25, a.Levels}}
	}
	lo, hi := a.Levels[len(a.Levels)-1], a.Levels[0]
	above := hi.Threshold * 1.5
	if f.cap > 0 {
		above = (hi.Threshold + f.cap) / 2
	}
	out := []testCase{{"quiet below " + a.shown(lo.Threshold), lo.Threshold / 2, nil}}
	if len(a.Levels) > 1 {
		out = append(out, testCase{"only " + lo.Severity + " between the levels", (lo.Threshold + hi.Threshold) / 2, []Level{lo}})
	}
	return append(out, testCase{"every level above " + a.shown(hi.Threshold), above, a.Levels})
}

// ruleTests builds promtool unit tests for every alert: each must fire
// above its levels and stay quiet below, with the labels and annotations
// its rules promise.
func ruleTests(alerts []Alert, m config.MonitoringConfig, ruleFile string) (unitTests, error) {
	out := unitTests{RuleFiles: []string{ruleFile}, EvaluationInterval: "1m"}
	for _, a := range alerts {
		for _, c := range cases(a) {
			t := alertTest{EvalTime: fmt.Sprintf("%dm", evalMinutes), Alertname: a.Name, ExpAlerts: []expAlert{}}
			for _, l := range c.firing {
				labels := with(a.fixture.labels)
				for k, v := range ruleLabels(a, l, m.Teams) {
					labels[k] = v
				}
				ann := annotations(a, l, m.RunbookURL)
				for k, v := range ann {
					s, err := expand(v, labels, c.value)
					if err != nil {
						return unitTests{}, fmt.Errorf("alert %s, annotation %s: %w", a.Name, k, err)
					}
					ann[k] = s
				}
				t.ExpAlerts = append(t.ExpAlerts, expAlert{ExpLabels: labels, ExpAnnotations: ann})
			}
			out.Tests = append(out.Tests, unitTest{
				Name: a.Name + ": " + c.name, Interval: "1m",
				InputSeries: a.fixture.series(c.value), AlertRuleTest: []alertTest{t},
			})
		}
	}
	return out, nil
}

var templateRE = regexp.MustCompile(`\{\{\s*([^}]*?)\s*\}\}`)

// expand fills the two template forms the annotations use, {{ $labels.x }}
// and {{ $value | humanize }}, as Prometheus would.
func expand(tmpl string, labels map[string]string, value float64) (string, error) {
	var err error
	out := templateRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		expr := templateRE.FindStringSubmatch(m)[1]
		if name, ok := strings.CutPrefix(expr, "$labels."); ok {
			return labels[name]
		}
		if expr == "$value | humanize" {
			return humanize(value)
		}
		err = fmt.Errorf("template %q is not one the tests can expand", m)
		return m
	})
	return out, err
}
