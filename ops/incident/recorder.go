package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/lockfile"
	"github.com/opsdeck/opsdeck/ops/logging"
)

// Recorder records, while an incident is open, the alerts that start or
// stop firing and the checks whose status changes. The cockpit and `opsdeck
// serve` run one (Run); `opsdeck incident open` records once (Once), so the
// timeline starts with the state at the opening. Two processes never
// record at once: each round takes the recorder's lock or skips.
type Recorder struct {
	Store *Store
	// Alerts returns the alerts firing now (nil: none recorded).
	Alerts func(context.Context) ([]alerts.Alert, error)
	// Checks runs the morning check (nil: none recorded).
	Checks func(context.Context) health.Report
	// Every is the time between rounds.
	Every time.Duration
}

// Run records every Every until ctx ends. ctx must carry an identity that
// may note incidents (the cockpit's access.System recorder).
func (r *Recorder) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Once(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("incident recorder", logging.Err(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once records the changes since the last round into the open incident,
// if one is open.
func (r *Recorder) Once(ctx context.Context) error {
	inc, open, err := r.Store.Current(ctx)
	if err != nil || !open {
		return err
	}
	lock, err := lockfile.Acquire(filepath.Join(r.Store.dir, ".recorder.lock"), lockfile.Exclusive,
		lockfile.Self("incident.record", access.Who(ctx)))
	if errors.Is(err, lockfile.ErrLocked) {
		return nil // another process records this round
	}
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }()
	now := r.Store.Now()
	var entries []Entry
	var errs []error
	if r.Alerts != nil {
		as, err := r.Alerts(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("alerts: %w", err))
		} else {
			entries = append(entries, alertChanges(inc, as, now)...)
		}
	}
	if r.Checks != nil {
		entries = append(entries, checkChanges(inc, r.Checks(ctx), now)...)
	}
	if err := r.Store.Record(ctx, inc.ID, entries); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// alertChanges are the alerts firing now that the incident has not
// recorded, and those it recorded firing that no longer fire.
func alertChanges(inc Incident, as []alerts.Alert, now time.Time) []Entry {
	var out []Entry
	firing := map[string]bool{}
	for _, a := range as {
		if a.State != alerts.StateFiring {
			continue
		}
		k := alertKey(a)
		firing[k] = true
		if !inc.hasKey(k) {
			at := a.Since
			if at.IsZero() || at.Before(inc.OpenedAt.Add(-time.Hour)) {
				at = now
			}
			out = append(out, Entry{At: at, Kind: KindAlert, Status: "firing", Text: alertText(a), Key: k})
		}
	}
	for _, e := range inc.Entries {
		if e.Kind != KindAlert || e.Status != "firing" || firing[e.Key] || inc.hasKey(e.Key+"/resolved") {
			continue
		}
		out = append(out, Entry{At: now, Kind: KindAlert, Status: "resolved", Text: e.Text, Key: e.Key + "/resolved"})
	}
	return out
}

// checkChanges are the checks whose status differs from the last one the
// incident recorded for them; a check never recorded counts as ok, so the
// first round records only the failing ones.
func checkChanges(inc Incident, rep health.Report, now time.Time) []Entry {
	last := map[string]string{}
	for _, e := range inc.Entries {
		if e.Kind == KindCheck {
			last[checkName(e.Key)] = e.Status
		}
	}
	var out []Entry
	for _, res := range rep.Results {
		name := res.Target + "/" + res.Name
		status := res.Status.String()
		was, ok := last[name]
		if !ok {
			was = health.OK.String()
		}
		if status == was {
			continue
		}
		text := fmt.Sprintf("%s %s → %s: %s", name, was, status, res.Value)
		if res.Threshold != "" {
			text += " (" + res.Threshold + ")"
		}
		out = append(out, Entry{At: now, Kind: KindCheck, Status: status, Text: text,
			Key: "check:" + name + "@" + now.UTC().Format(time.RFC3339Nano)})
	}
	return out
}

// checkName is the check a check entry's key names.
func checkName(key string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(key, "check:"), "@")
	return name
}
