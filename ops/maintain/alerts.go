package maintain

import (
	"context"
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
)

// rbAlerts is the runbook section on alerts.
const rbAlerts = "monitoring.md#alerts"

// alertFindings reads the firing alerts from Alertmanager for the health
// mode: critical ones make it critical, warnings a warning; silenced and
// inhibited ones are only listed.
func (e *Engine) alertFindings(ctx context.Context) []Finding {
	if e.Config.Alertmanager.URL == "" {
		return []Finding{na(AreaHealth, "alerts", "alertmanager",
			"no Alertmanager configured (alertmanager.url): the Metrics tab evaluates the thresholds itself")}
	}
	c, err := alerts.NewClient(e.Config.Alertmanager.URL, e.Config.Timeouts.Check)
	if err != nil {
		return []Finding{{Area: AreaHealth, Check: "alerts", Status: health.Unknown, Object: "alertmanager", Summary: err.Error(), Runbook: rbAlerts}}
	}
	actx, cancel := context.WithTimeout(ctx, e.Config.Timeouts.Check)
	defer cancel()
	as, err := c.Alerts(actx)
	if err != nil {
		return []Finding{{Area: AreaHealth, Check: "alerts", Status: health.Unknown, Object: c.Host(), Summary: err.Error(),
			Suggestion: "check alertmanager.url and that Alertmanager runs", Runbook: rbAlerts}}
	}
	return AlertFindings(as, c.Host(), e.now())
}

// AlertFindings judge the alerts Alertmanager lists.
func AlertFindings(as []alerts.Alert, host string, now time.Time) []Finding {
	alerts.Sort(as)
	f := Finding{Area: AreaHealth, Check: "alerts", Status: health.OK, Object: host, Runbook: rbAlerts}
	firing, muted := 0, 0
	for _, a := range as {
		if a.State != alerts.StateFiring {
			muted++
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s %s (%s): %s", a.Name, a.Severity, a.State, a.Summary))
			continue
		}
		firing++
		switch st := alerts.SeverityRank(a.Severity); {
		case st >= 3:
			f.Status = health.Crit
		case st == 2 && f.Status != health.Crit:
			f.Status = health.Warn
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s %s firing for %s: %s", a.Name, a.Severity, health.ShortDuration(now.Sub(a.Since).Truncate(time.Minute)), a.Summary))
	}
	f.Summary = fmt.Sprintf("%d firing, %d silenced or inhibited", firing, muted)
	if firing > 0 {
		f.Suggestion = "open each alert's runbook section (Metrics tab, alerts view) and give it an owner"
	}
	return []Finding{f}
}
