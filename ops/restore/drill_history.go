package restore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// DrillHistoryName is the drills' history in the state directory: one
// JSON record a line, appended by each drill.
const DrillHistoryName = "drills.jsonl"

// DrillRecord is one drill in the history.
type DrillRecord struct {
	Kind       string    `json:"kind"`
	Components []string  `json:"components"`
	Set        string    `json:"set"`
	SetTaken   time.Time `json:"set_taken"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Who        string    `json:"who,omitempty"`
	Target     string    `json:"target,omitempty"`
	// Outcome is proven, failed or refused.
	Outcome string   `json:"outcome"`
	Proof   string   `json:"proof,omitempty"`
	Tables  int      `json:"tables,omitempty"`
	Rows    int64    `json:"rows,omitempty"`
	Differ  []string `json:"differ,omitempty"`
	// RTO is the wall time to the proof, Steps each step's; RPO the set's
	// age when the drill started.
	RTO    time.Duration `json:"rto_ns"`
	RPO    time.Duration `json:"rpo_ns"`
	Steps  []StepTime    `json:"steps,omitempty"`
	Report string        `json:"report,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// StepTime is one step's wall time.
type StepTime struct {
	Name string        `json:"name"`
	Took time.Duration `json:"took_ns"`
}

// Proven reports whether the drill proved its set.
func (r DrillRecord) Proven() bool { return r.Outcome == Proven }

// RecordOf is a drill report's history record.
func RecordOf(rep *Report) DrillRecord {
	p := rep.Plan
	r := DrillRecord{
		Kind: p.Options.Kind, Components: drillComponents(p.Options.Kind), Set: p.SetID,
		Start: rep.Start.UTC(), End: rep.End.UTC(), Who: rep.Who, Report: rep.Path, Error: rep.Err,
	}
	if p.Options.Kind == Full {
		r.Components = slices.Clone(p.Components) // those the set held
	}
	if p.Set != nil {
		r.SetTaken = p.Set.Start.UTC()
	}
	if d := rep.Drill; d != nil {
		r.Target, r.Outcome, r.Proof, r.Tables, r.Rows, r.Differ = d.Target, d.Outcome, d.Proof, d.Tables, d.Rows, d.Differ
		r.RTO, r.RPO = d.RTO, d.RPO
	}
	for _, s := range rep.Steps {
		if s.State != Pending && s.State != Skipped {
			r.Steps = append(r.Steps, StepTime{Name: s.Name, Took: s.Took})
		}
	}
	return r
}

func drillHistoryPath(stateDir string) string { return filepath.Join(stateDir, DrillHistoryName) }

// AppendDrill appends r to the history under stateDir.
func AppendDrill(stateDir string, r DrillRecord) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(drillHistoryPath(stateDir), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadDrills reads the history under stateDir, oldest first; a line that
// does not parse (a write cut short) is skipped. No history is no error.
func ReadDrills(stateDir string) ([]DrillRecord, error) {
	f, err := os.Open(drillHistoryPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the drill history: %w", err)
	}
	defer f.Close()
	var out []DrillRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var r DrillRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

// DrillStatus is what the history says of one component.
type DrillStatus struct {
	// Last is the newest drill (any outcome), LastProven the newest that
	// proved its set; nil when none.
	Last       *DrillRecord
	LastProven *DrillRecord
}

// DrillStatuses sums the history up per component.
func DrillStatuses(recs []DrillRecord) map[string]DrillStatus {
	out := map[string]DrillStatus{}
	for i := range recs {
		r := &recs[i]
		for _, c := range r.Components {
			s := out[c]
			if s.Last == nil || !r.Start.Before(s.Last.Start) {
				s.Last = r
			}
			if r.Proven() && (s.LastProven == nil || !r.Start.Before(s.LastProven.Start)) {
				s.LastProven = r
			}
			out[c] = s
		}
	}
	return out
}

// ProvenSets maps each set ID to its newest successful drill.
func ProvenSets(recs []DrillRecord) map[string]DrillRecord {
	out := map[string]DrillRecord{}
	for _, r := range recs {
		if old, ok := out[r.Set]; r.Proven() && (!ok || !r.Start.Before(old.Start)) {
			out[r.Set] = r
		}
	}
	return out
}
