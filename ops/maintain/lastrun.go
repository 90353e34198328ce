package maintain

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
)

// lastRunsName keeps the last run of each mode under the state dir.
const lastRunsName = "last-runs.json"

// LastRun is how a mode's last run went.
type LastRun struct {
	At       time.Time      `json:"at"`
	Status   health.Status  `json:"status"`
	Took     time.Duration  `json:"took_ns"`
	Findings int            `json:"findings"`
	Counts   map[string]int `json:"counts"`
}

// LastRuns returns the last run of each mode, from this process or from
// the file under the state dir (an unreadable file reads as empty).
func (e *Engine) LastRuns() map[Mode]LastRun {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ran == nil {
		e.ran = map[Mode]LastRun{}
		var saved map[Mode]LastRun
		if err := loadJSON(filepath.Join(e.stateDir(), lastRunsName), &saved); err != nil && !errors.Is(err, os.ErrNotExist) {
			logErr("read last maintenance runs", err)
		}
		for m, r := range saved {
			e.ran[m] = r
		}
	}
	out := make(map[Mode]LastRun, len(e.ran))
	for m, r := range e.ran {
		out[m] = r
	}
	return out
}

// recordRun remembers a finished run and saves the record (best effort:
// a read-only state dir only loses the record).
func (e *Engine) recordRun(rep *Report) {
	runs := e.LastRuns()
	runs[rep.Mode] = LastRun{At: rep.StartedAt, Status: rep.Status, Took: rep.Took, Findings: len(rep.Findings), Counts: rep.Counts()}
	e.mu.Lock()
	e.ran = runs
	e.mu.Unlock()
	logErr("save last maintenance runs", saveJSON(filepath.Join(e.stateDir(), lastRunsName), runs))
}
