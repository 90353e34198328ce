package maintain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
)

// Area is the part of the system a finding is about.
type Area string

// The areas, in report order.
const (
	AreaHealth   Area = "health"
	AreaDB       Area = "db"
	AreaRedis    Area = "redis"
	AreaCleanup  Area = "cleanup"
	AreaSecurity Area = "security"
	AreaCapacity Area = "capacity"
)

// Areas lists every area in report order.
var Areas = []Area{AreaHealth, AreaDB, AreaRedis, AreaCleanup, AreaSecurity, AreaCapacity}

// Title is the area's heading, e.g. "Database".
func (a Area) Title() string {
	switch a {
	case AreaHealth:
		return "Health"
	case AreaDB:
		return "Database"
	case AreaRedis:
		return "Redis"
	case AreaCleanup:
		return "Cleanup"
	case AreaSecurity:
		return "Security"
	case AreaCapacity:
		return "Capacity"
	}
	return string(a)
}

// Mode is what one run covers: one area, or all of them.
type Mode string

// The modes of `opsdeck maintain`.
const (
	ModeFull     Mode = "full"
	ModeHealth   Mode = "health"
	ModeCleanup  Mode = "cleanup"
	ModeDB       Mode = "db"
	ModeRedis    Mode = "redis"
	ModeSecurity Mode = "security"
	ModeCapacity Mode = "capacity"
)

// Modes lists the modes in the order the CLI documents them.
var Modes = []Mode{ModeFull, ModeHealth, ModeCleanup, ModeDB, ModeRedis, ModeSecurity, ModeCapacity}

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("unknown mode %q: choose one of %s", s, strings.Join(names, ", "))
}

// Areas returns the areas the mode covers.
func (m Mode) Areas() []Area {
	if m == ModeFull {
		return Areas
	}
	return []Area{Area(m)}
}

// Finding is one thing a run found: a problem, a fact worth knowing, or a
// check that could not be made (NA).
type Finding struct {
	Area  Area   `json:"area"`
	Check string `json:"check"`
	// Status is ok, warn, crit or unknown, judged against the thresholds.
	Status health.Status `json:"status"`
	// NA means the fact could not be read (a missing privilege, an older
	// server): the finding says why, and it does not count as a failure.
	NA bool `json:"na,omitempty"`
	// Object is what the finding is about: a table, a session, a key, a pod.
	Object string `json:"object,omitempty"`
	// Summary is one line: what was found.
	Summary string `json:"summary"`
	// Evidence are the facts that triggered the finding.
	Evidence []string `json:"evidence,omitempty"`
	// Why says why it matters.
	Why string `json:"why,omitempty"`
	// Suggestion says what to do.
	Suggestion string `json:"suggestion,omitempty"`
	// Runbook is the runbook section that explains it ("runbook.md#anchor").
	Runbook string `json:"runbook,omitempty"`
	// Action is the change opsdeck can make for it, after confirmation.
	Action *Action `json:"action,omitempty"`
	// Done says what was done about it in this run ("vacuumed: 120000 dead
	// tuples → 0"); the status is then the state afterwards.
	Done string `json:"done,omitempty"`
}

// Level is the status used for colours and ordering: NA findings count as
// unknown in views but never change a run's status.
func (f Finding) Level() health.Status {
	if f.NA {
		return health.Unknown
	}
	return f.Status
}

// StatusText is "ok", "warn", "crit", "unknown" or "n/a".
func (f Finding) StatusText() string {
	if f.NA {
		return "n/a"
	}
	return f.Status.String()
}

// Key identifies a finding within a report, for keeping a selection and
// for matching an action's result to it.
func (f Finding) Key() string { return string(f.Area) + "|" + f.Check + "|" + f.Object }

// na returns a finding for a check that could not be made.
func na(area Area, check, object, reason string) Finding {
	return Finding{Area: area, Check: check, Status: health.OK, NA: true, Object: object, Summary: "n/a: " + reason}
}

// SortFindings orders findings by area (report order), then problems first
// (crit, warn, unknown, n/a, ok), then check and object.
func SortFindings(fs []Finding) {
	order := map[Area]int{}
	for i, a := range Areas {
		order[a] = i
	}
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if d := order[a.Area] - order[b.Area]; d != 0 {
			return d
		}
		if d := rank(b) - rank(a); d != 0 {
			return d
		}
		if c := strings.Compare(a.Check, b.Check); c != 0 {
			return c
		}
		return strings.Compare(a.Object, b.Object)
	})
}

// rank orders findings by how much they need attention.
func rank(f Finding) int {
	if f.NA {
		return 1
	}
	switch f.Status {
	case health.Crit:
		return 4
	case health.Warn:
		return 3
	case health.Unknown:
		return 2
	}
	return 0
}

// ago renders how long before now t was, "never" for nil.
func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return health.ShortDuration(now.Sub(*t).Truncate(time.Second)) + " ago (" + t.UTC().Format("2006-01-02 15:04") + " UTC)"
}

// count formats n with thousands separators: 1,234,567.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
