package maintain

import (
	"encoding/json"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// Report is the outcome of one run: its findings, the details behind them
// and, once actions were applied, what they did.
type Report struct {
	Mode      Mode          `json:"mode"`
	StartedAt time.Time     `json:"started_at"`
	Took      time.Duration `json:"-"`
	// Status is the worst status of the findings (n/a ones excepted) and
	// of failed actions: the exit code, as for `opsdeck check`.
	Status   health.Status `json:"status"`
	ReadOnly bool          `json:"read_only"`
	DryRun   bool          `json:"dry_run"`
	Host     string        `json:"host,omitempty"`

	Findings []Finding      `json:"findings"`
	Actions  []ActionResult `json:"actions,omitempty"`
	// Areas say how each area's part of the run went.
	Areas []AreaRun `json:"areas"`

	DB       *DBDetail       `json:"db,omitempty"`
	Redis    *RedisDetail    `json:"redis,omitempty"`
	Capacity *CapacityDetail `json:"capacity,omitempty"`
	Cleanup  *CleanupDetail  `json:"cleanup,omitempty"`
}

// AreaRun is how one area's part of a run went.
type AreaRun struct {
	Area   Area          `json:"area"`
	Status health.Status `json:"status"`
	Took   time.Duration `json:"-"`
	// Notes are caveats: partial results, skipped parts.
	Notes []string `json:"notes,omitempty"`
}

// DBDetail holds what `maintain db` read, for the report's tables.
type DBDetail struct {
	Database string            `json:"database"`
	Upkeep   postgres.Upkeep   `json:"upkeep"`
	Sessions postgres.Sessions `json:"sessions"`
	// SizeBytes is pg_database_size of the database.
	SizeBytes int64 `json:"size_bytes"`
}

// RedisDetail holds what `maintain redis` read.
type RedisDetail struct {
	Snapshot redis.Snapshot          `json:"snapshot"`
	Keyspace *redis.KeyspaceAnalysis `json:"keyspace,omitempty"`
}

// MarshalJSON adds took_ms (the duration in milliseconds).
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		Took int64 `json:"took_ms"`
	}{plain(r), r.Took.Milliseconds()})
}

// Results returns the findings as morning-check results, so that the
// judge and exit code helpers of ops/health apply to them.
func (r *Report) Results() []health.Result {
	out := make([]health.Result, 0, len(r.Findings))
	for _, f := range r.Findings {
		if f.NA {
			continue
		}
		out = append(out, health.Result{
			Target: string(f.Area), Name: f.Check, Status: f.Status, Value: f.Summary,
			Hint: f.Suggestion, Runbook: f.Runbook,
		})
	}
	for _, a := range r.Actions {
		if !a.OK && !a.Refused {
			out = append(out, health.Result{Target: "action", Name: string(a.Action.Kind), Status: health.Warn, Value: a.Error})
		}
	}
	return out
}

// areaRunbooks are the sections a finding without one of its own links.
var areaRunbooks = map[Area]string{
	AreaHealth:   "daily-operations.md#morning-check",
	AreaDB:       "daily-operations.md#database",
	AreaRedis:    "daily-operations.md#cache",
	AreaCleanup:  rbWeekly,
	AreaSecurity: rbSecurity,
	AreaCapacity: rbCapacity,
}

// finish sorts the findings, gives each a runbook section and computes the
// statuses.
func (r *Report) finish() {
	for i := range r.Findings {
		if r.Findings[i].Runbook == "" {
			r.Findings[i].Runbook = areaRunbooks[r.Findings[i].Area]
		}
	}
	SortFindings(r.Findings)
	r.Status = health.Worst(r.Results())
	for i := range r.Areas {
		var rs []health.Result
		for _, f := range r.Findings {
			if f.Area == r.Areas[i].Area && !f.NA {
				rs = append(rs, health.Result{Status: f.Status})
			}
		}
		r.Areas[i].Status = health.Worst(rs)
	}
}

// PendingActions returns the actions of the findings that have one and
// have not been applied yet, in finding order.
func (r *Report) PendingActions() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Action != nil && f.Done == "" {
			out = append(out, f)
		}
	}
	return out
}

// Record adds an action's result to the report and updates its finding:
// a successful action marks it done and resolves it (a vacuumed table, an
// ended session, a deleted file are no longer a problem).
func (r *Report) Record(res ActionResult) {
	r.Actions = append(r.Actions, res)
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Key() != res.FindingKey {
			continue
		}
		switch {
		case res.OK && res.Unresolved:
			f.Done = res.Detail
		case res.OK:
			f.Done = res.Detail
			f.Status = health.OK
			f.Action = nil
		case res.Refused:
			f.Done = "not done: " + res.Error
		default:
			f.Done = "failed: " + res.Error
		}
	}
	r.finish()
}

// Counts returns how many findings have each status text ("ok", "warn",
// "crit", "unknown", "n/a").
func (r *Report) Counts() map[string]int {
	c := map[string]int{}
	for _, f := range r.Findings {
		c[f.StatusText()]++
	}
	return c
}
