package incident

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
)

// Sources are what a timeline reads besides the incident itself. Each may
// be missing: a nil Kube or Alerts, an empty path.
type Sources struct {
	// Kube reads the rollouts and Warning events of the watched namespaces.
	Kube *kube.Client
	// Alerts returns the alerts firing now: Alertmanager's, or opsdeck's
	// own evaluation in a process that samples metrics.
	Alerts func(context.Context) ([]alerts.Alert, error)
	// AuditPath is the audit log (audit.PathIn of the state dir).
	AuditPath string
	// TemplatesPath is the error templates' store (oplogs.StorePath).
	TemplatesPath string
	// Templates are new kinds of errors a running process found and did
	// not record (the cockpit's Health panel); nil for none.
	Templates func() []oplogs.Template
	// Lookback is how long before the opening the timeline starts.
	Lookback time.Duration
	// Timeout bounds each source (the Kubernetes client has its own).
	Timeout time.Duration
}

// Timeline returns incident inc's timeline, oldest first: its own entries
// and, from Lookback before its opening to its end (now while open), the
// audit records, rollouts and Warning events, alerts and new error
// templates. A source that fails or times out is an entry of kind
// KindSource saying so; it never holds the others up.
func Timeline(ctx context.Context, inc Incident, src Sources, now time.Time) []Entry {
	from, to := inc.OpenedAt.Add(-src.Lookback), inc.End(now)
	timeout := src.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var (
		mu  sync.Mutex
		out = slices.Clone(inc.Entries)
		wg  sync.WaitGroup
	)
	// seen keeps an entry two sources both report (a template in the store
	// and in the process, an alert recorded and firing) once.
	seen := map[string]bool{}
	for _, e := range inc.Entries {
		if e.Key != "" {
			seen[e.Key] = true
		}
	}
	add := func(es []Entry) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range es {
			if e.Key != "" {
				if seen[e.Key] {
					continue
				}
				seen[e.Key] = true
			}
			out = append(out, e)
		}
	}
	run := func(name string, fn func(context.Context) ([]Entry, error)) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			es, err := fn(ctx)
			if err != nil {
				es = append(es, Entry{At: now, Kind: KindSource, Text: name + ": " + err.Error()})
			}
			add(es)
		})
	}
	if src.AuditPath != "" {
		run("audit log", func(context.Context) ([]Entry, error) { return auditEntries(src.AuditPath, from, to) })
	}
	if src.Kube != nil {
		run("kubernetes", func(ctx context.Context) ([]Entry, error) { return kubeEntries(ctx, src.Kube, from, to) })
	}
	if src.Alerts != nil {
		run("alerts", func(ctx context.Context) ([]Entry, error) {
			as, err := src.Alerts(ctx)
			if err != nil {
				return nil, err
			}
			if !inc.IsOpen() {
				return nil, nil // what fires now says nothing of a closed incident
			}
			return firingEntries(as, from), nil
		})
	}
	if src.TemplatesPath != "" {
		run("error templates", func(context.Context) ([]Entry, error) { return templateEntries(src.TemplatesPath, from, to) })
	}
	if src.Templates != nil {
		var es []Entry
		for _, t := range src.Templates() {
			if !t.FirstSeen.Before(from) && !t.FirstSeen.After(to) {
				es = append(es, templateEntry(t.ID, t.Text, t.Level, t.Count, t.FirstSeen, strings.Join(t.Workloads, ", ")))
			}
		}
		add(es)
	}
	wg.Wait()
	slices.SortStableFunc(out, func(a, b Entry) int { return a.At.Compare(b.At) })
	return out
}

// auditEntries are the audit records that started in [from, to], but for
// the incident's own (already entries).
func auditEntries(path string, from, to time.Time) ([]Entry, error) {
	recs, err := audit.Read(path, audit.Filter{Since: from, Until: to})
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, r := range recs {
		if strings.HasPrefix(r.Action, "incident.") {
			continue
		}
		text := r.Action
		if r.Target != "" {
			text += " " + r.Target
		}
		text += ": " + r.Result
		if r.Error != "" {
			text += " — " + r.Error
		}
		out = append(out, Entry{At: r.Start, Kind: KindAudit, Who: r.Who, Text: text, Status: r.Result, Key: "audit:" + r.ID})
	}
	return out, nil
}

// kubeEntries are the rollouts and Warning events of the window.
func kubeEntries(ctx context.Context, c *kube.Client, from, to time.Time) ([]Entry, error) {
	hs, err := kube.Happenings(ctx, c, from, to)
	out := make([]Entry, 0, len(hs))
	for _, h := range hs {
		kind := KindEvent
		if h.Kind == "rollout" {
			kind = KindRollout
		}
		out = append(out, Entry{At: h.Time, Kind: kind, Text: h.Text})
	}
	return out, err
}

// firingEntries are the alerts firing now, at the moment they started (or
// the window's start for older ones), keyed as the Recorder keys them.
func firingEntries(as []alerts.Alert, from time.Time) []Entry {
	out := make([]Entry, 0, len(as))
	for _, a := range as {
		if a.State != alerts.StateFiring {
			continue
		}
		at := a.Since
		if at.Before(from) {
			at = from
		}
		out = append(out, Entry{At: at, Kind: KindAlert, Status: "firing", Text: alertText(a), Key: alertKey(a)})
	}
	return out
}

// templateEntries are the error templates first seen in the window.
func templateEntries(path string, from, to time.Time) ([]Entry, error) {
	st, err := oplogs.LoadStore(path)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, scope := range st.Scopes() {
		for _, k := range st.Known(scope) {
			if k.FirstSeen.Before(from) || k.FirstSeen.After(to) {
				continue
			}
			out = append(out, templateEntry(k.ID, k.Text, k.Level, k.Count, k.FirstSeen, scope))
		}
	}
	return out, nil
}

// templateEntry is a new kind of error first seen at, keyed by its ID so
// that the store's and a process's copies are one entry.
func templateEntry(id, text string, level oplogs.Level, count int64, at time.Time, where string) Entry {
	return Entry{At: at, Kind: KindTemplate, Status: level.String(), Key: "template:" + id,
		Text: fmt.Sprintf("new kind of %s in %s (%d lines): %s", level, where, count, text)}
}

// alertKey identifies one firing of an alert.
func alertKey(a alerts.Alert) string {
	id := a.Fingerprint
	if id == "" {
		id = a.Name + alerts.LabelString(a.Labels)
	}
	return "alert:" + id + "@" + a.Since.UTC().Format(time.RFC3339)
}

func alertText(a alerts.Alert) string {
	text := a.Name
	if a.Severity != "" {
		text += " (" + a.Severity + ")"
	}
	if a.Summary != "" {
		text += ": " + a.Summary
	}
	return text
}
