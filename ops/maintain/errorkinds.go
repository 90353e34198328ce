package maintain

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// The daily look at the error logs: the kinds of error and warning lines
// of the last ErrorLogsWindow of the watched pods' logs, those new since
// the previous recorded run reported.
const (
	ErrorLogsWindow = 24 * time.Hour
	// errorLogsTimeout bounds the whole read of the logs.
	errorLogsTimeout = 2 * time.Minute
	// checkErrorLogs is the findings' check, the plan item's name.
	checkErrorLogs = "error logs"
	// rbErrorLogs is the runbook section on reading the logs.
	rbErrorLogs = "daily-operations.md#logs"
)

// errorLogs mines the watched pods' logs for the kinds of errors
// (kube.FindErrorKinds, as `opsdeck logs errors` does) and records the run
// in the state dir, so that each run reports what is new since the last.
func (e *Engine) errorLogs(ctx context.Context) []Finding {
	client, err := e.kube()
	if err != nil {
		return []Finding{na(AreaHealth, checkErrorLogs, "kubernetes", err.Error())}
	}
	ctx, cancel := context.WithTimeout(ctx, errorLogsTimeout)
	defer cancel()
	res, err := client.FindErrorKinds(ctx, kube.ErrorKindsOptions{Since: ErrorLogsWindow, Env: e.Config.Env().Name,
		StateDir: e.Config.StateDir, Save: true, Secrets: e.Config.Secrets()})
	if res == nil {
		return []Finding{na(AreaHealth, checkErrorLogs, "kubernetes", err.Error())}
	}
	fs := ErrorKindFindings(res)
	if err != nil { // read, not recorded
		fs = append(fs, Finding{Area: AreaHealth, Check: checkErrorLogs, Status: health.Warn, Summary: err.Error(),
			Suggestion: "check that the state dir is writable: until a run is recorded, the same kinds are reported again", Runbook: rbErrorLogs})
	}
	return fs
}

// ErrorKindFindings judge a run of the error templates: each kind new since
// the previous run is a warning with its count, level, workloads and a
// sample line; with none new, one OK finding counts the kinds. A first run
// (no previous one recorded) only records what it found: every kind would
// be new.
func ErrorKindFindings(res *kube.ErrorKinds) []Finding {
	ns := strings.Join(res.Namespaces, ",")
	var unread []string
	if n := len(res.Failed); n > 0 {
		unread = []string{fmt.Sprintf("%d containers' logs could not be read, e.g. %s", n, res.Failed[0])}
	}
	if res.Previous.IsZero() {
		return []Finding{{Area: AreaHealth, Check: checkErrorLogs, Status: health.OK, Runbook: rbErrorLogs, Evidence: unread,
			Summary: fmt.Sprintf("first run in %s: %d kinds of errors and warnings recorded; the next run reports the new ones", ns, len(res.Templates))}}
	}
	fresh := res.NewTemplates()
	if len(fresh) == 0 {
		return []Finding{{Area: AreaHealth, Check: checkErrorLogs, Status: health.OK, Runbook: rbErrorLogs, Evidence: unread,
			Summary: fmt.Sprintf("no new kind of error in %s in the last %s (%d kinds, %d lines)", ns, health.ShortDuration(res.Since), len(res.Templates), res.Counted)}}
	}
	fs := make([]Finding, 0, len(fresh))
	for _, t := range fresh {
		fs = append(fs, Finding{Area: AreaHealth, Check: checkErrorLogs, Status: health.Warn, Runbook: rbErrorLogs,
			Object:  strings.Join(t.Workloads, ","),
			Summary: fmt.Sprintf("new kind of %s, %d× since %s: %s", t.Level, t.Count, t.FirstSeen.UTC().Format("01-02 15:04"), t.Text),
			Evidence: append([]string{"sample: " + clipText(t.Sample, 300),
				fmt.Sprintf("new since the run of %s", res.Previous.UTC().Format("2006-01-02 15:04 MST"))}, unread...),
			Why:        "an error the application never logged before often comes with a deploy, a new dependency failing, or data it does not expect",
			Suggestion: "read it in context: the Health tab (l on a pod, / to search) or opsdeck logs " + logsTarget(t.Workloads, t.Pods) + " --since 24h",
		})
	}
	return fs
}

// logsTarget is what to give `opsdeck logs` to read a template's lines: a
// Deployment, else a pod.
func logsTarget(workloads, pods []string) string {
	for _, w := range workloads {
		if strings.HasPrefix(w, "deploy/") {
			return w
		}
	}
	if len(pods) > 0 {
		return pods[0]
	}
	return "POD"
}

// clipText cuts s to n bytes at a rune boundary, marking the cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
