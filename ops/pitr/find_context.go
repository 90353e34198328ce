package pitr

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// contextWindow is how far from an event what else happened is shown.
const contextWindow = time.Minute

// addContext gives each event what else happened within a minute of it:
// opsdeck's audit records, Kubernetes rollouts and Warning events. A
// source that does not answer is a note, not a failure.
func addContext(ctx context.Context, e *backup.Engine, f *Found) {
	if len(f.Events) == 0 {
		return
	}
	from := f.Events[0].Time.Add(-contextWindow)
	to := f.Events[len(f.Events)-1].Time.Add(contextWindow)
	var lines []ContextLine
	recs, err := audit.Read(audit.PathIn(e.Config.StateDir), audit.Filter{Since: from, Until: to})
	if err != nil {
		f.Notes = append(f.Notes, "opsdeck's audit log was not read: "+err.Error())
	}
	for _, r := range recs {
		text := fmt.Sprintf("%s %s %s by %s: %s", r.Action, r.Target, r.Result, r.Who, r.Error)
		lines = append(lines, ContextLine{Time: r.Start, Source: "audit", Text: strings.TrimSuffix(strings.TrimSpace(text), ":")})
	}
	if client, err := e.KubeClient(); err != nil {
		f.Notes = append(f.Notes, "Kubernetes was not asked about rollouts and events: "+err.Error())
	} else {
		hs, err := kube.Happenings(ctx, client, from, to)
		if err != nil {
			f.Notes = append(f.Notes, "Kubernetes' rollouts and events are incomplete: "+err.Error())
		}
		for _, h := range hs {
			lines = append(lines, ContextLine{Time: h.Time, Source: h.Kind, Text: h.Text})
		}
	}
	slices.SortStableFunc(lines, func(a, b ContextLine) int { return a.Time.Compare(b.Time) })
	for i := range f.Events {
		ev := &f.Events[i]
		for _, l := range lines {
			if d := l.Time.Sub(ev.Time); d >= -contextWindow && d <= contextWindow {
				ev.Context = append(ev.Context, l)
			}
		}
	}
}
