package restore

import (
	"fmt"
	"slices"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
)

// DrillCheckTarget is the target of the check's drill lines.
const DrillCheckTarget = "backups"

// JudgeDrills is the check's drill line of each component: its newest
// proven drill's date and RTO, a warning when that is older than
// drill.max_age (or there is none), when the newest drill failed, and
// when its RTO passed drill.rto_target.
func JudgeDrills(recs []DrillRecord, components []string, cfg config.DrillConfig, now time.Time) []health.Result {
	st := DrillStatuses(recs)
	var out []health.Result
	for _, c := range components {
		s := st[c]
		r := health.Result{Target: DrillCheckTarget, Name: "drill/" + c, Status: health.OK,
			Threshold: "proven within " + days(cfg.MaxAge)}
		switch {
		case s.LastProven == nil:
			r.Status, r.Value = health.Warn, "never proven by a drill"
			if s.Last != nil {
				r.Value = fmt.Sprintf("never proven; the last drill (%s) %s", s.Last.Start.Local().Format("2006-01-02"), s.Last.Outcome)
			}
			r.Hint = "run opsdeck drill " + c + " (and schedule it: docs/backups.md#drills)"
		default:
			p := s.LastProven
			age := now.Sub(p.Start)
			r.Value = fmt.Sprintf("proven %s (%s ago) · RTO %v", p.Start.Local().Format("2006-01-02"), days(age), p.RTO.Round(time.Second))
			switch {
			case age > cfg.MaxAge:
				r.Status, r.Hint = health.Warn, "the newest successful drill is older than drill.max_age: run opsdeck drill "+c
			case s.Last != nil && s.Last != p && !s.Last.Proven():
				r.Status = health.Warn
				r.Value += fmt.Sprintf("; the last drill (%s) %s", s.Last.Start.Local().Format("2006-01-02"), s.Last.Outcome)
				r.Hint = "read the last drill's report: " + s.Last.Report
			case cfg.RTOTarget > 0 && p.RTO > cfg.RTOTarget:
				r.Status, r.Threshold = health.Warn, "RTO under "+cfg.RTOTarget.String()
				r.Hint = "the last drill's recovery time passed drill.rto_target: see which step took longest in its report"
			}
		}
		out = append(out, r)
	}
	return out
}

// days writes a duration in days when it is one or more.
func days(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}

// JudgeSets is the check's set line of each component: the newest
// verified set's age, warned past the component's schedule
// (backup.every) plus config.BackupScheduleMargin, and the newest set a
// drill proved. sets are newest first (backup.List).
func JudgeSets(sets []backup.Set, recs []DrillRecord, components []string, every config.BackupEvery, now time.Time) []health.Result {
	proven := ProvenSets(recs)
	var out []health.Result
	for _, c := range components {
		limit := every.Of(c) + config.BackupScheduleMargin
		r := health.Result{Target: DrillCheckTarget, Name: "set/" + c, Status: health.OK,
			Threshold: "verified within " + health.ShortDuration(limit)}
		s, ok := backup.Latest(sets, c, true)
		if !ok {
			r.Status, r.Value = health.Warn, "no verified "+c+" set"
			r.Hint = "opsdeck backup " + c + ", then opsdeck backups verify latest"
			if newest, ok := backup.Latest(sets, c, false); ok {
				r.Value += "; the newest, " + newest.ID + ", is " + newest.VerifyState()
				r.Hint = "opsdeck backups verify " + newest.ID
			}
		} else {
			age := s.Age(now)
			r.Value = fmt.Sprintf("verified %s (%s ago)", s.ID, health.ShortDuration(age.Truncate(time.Minute)))
			if age > limit {
				r.Status = health.Warn
				r.Hint = "the scheduled " + c + " backup did not run, failed or was not verified: check its CronJob, then opsdeck backup " + c
			}
		}
		if p, ok := newestProven(sets, proven, c); ok {
			r.Value += fmt.Sprintf(" · proven %s (drill %s)", p.Set, p.Start.Local().Format("2006-01-02"))
		} else {
			r.Value += " · no set proven by a drill"
		}
		out = append(out, r)
	}
	return out
}

// newestProven is the drill of the newest set holding component c that a
// drill proved (a base backup's: a PITR drill).
func newestProven(sets []backup.Set, proven map[string]DrillRecord, c string) (DrillRecord, bool) {
	if c == backup.Base {
		c = PITR
	}
	for _, s := range sets {
		if r, ok := proven[s.ID]; ok && slices.Contains(r.Components, c) {
			return r, true
		}
	}
	return DrillRecord{}, false
}
