package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"
)

// Filter selects records for [Read]. Zero fields match everything.
type Filter struct {
	Since  time.Time // records that started at or after Since
	Until  time.Time // records that started before Until
	Action string    // exact action, or a prefix ending in "." ("backup.")
	Target string    // substring of the target
	Who    string    // exact user (the local user or the SSH user)
	Result string    // ResultOK, ResultError or ResultRefused
	Limit  int       // at most Limit records (the newest); 0 means all
}

// Match reports whether r passes the filter (Limit aside).
func (f Filter) Match(r Record) bool {
	if !f.Since.IsZero() && r.Start.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !r.Start.Before(f.Until) {
		return false
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			if !strings.HasPrefix(r.Action, f.Action) {
				return false
			}
		} else if r.Action != f.Action {
			return false
		}
	}
	if f.Target != "" && !strings.Contains(r.Target, f.Target) {
		return false
	}
	if f.Who != "" && r.Who != f.Who && (r.SSH == nil || r.SSH.User != f.Who) {
		return false
	}
	if f.Result != "" && r.Result != f.Result {
		return false
	}
	return true
}

// ErrCorrupt is wrapped by the error [Read] returns alongside its records when
// complete lines of the file could not be parsed.
var ErrCorrupt = errors.New("audit log has unreadable lines")

// Read returns the records of the audit log at path that match filter,
// newest first. A missing file gives no records and no error (nothing has
// been audited yet). A truncated last line (a crash mid-write) is skipped
// silently; other unparseable lines are skipped too and reported in an error
// wrapping [ErrCorrupt], returned together with the records that could be read.
func Read(path string, filter Filter) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w — check its permissions", path, err)
	}
	defer f.Close()

	var (
		recs    []Record
		bad     []int
		lineNo  int
		scanErr error
	)
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			complete := line[len(line)-1] == '\n'
			line = bytes.TrimSpace(line)
			if len(line) > 0 {
				var r Record
				if jerr := json.Unmarshal(line, &r); jerr != nil {
					if complete {
						bad = append(bad, lineNo)
					}
				} else if filter.Match(r) {
					recs = append(recs, r)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			scanErr = fmt.Errorf("audit: read %s: %w", path, err)
			break
		}
	}
	// File order is append order; reverse it, then sort by start time so
	// records from concurrent writers still come out newest first.
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Start.After(recs[j].Start) })
	if filter.Limit > 0 && len(recs) > filter.Limit {
		recs = recs[:filter.Limit]
	}
	if scanErr != nil {
		return recs, scanErr
	}
	if len(bad) > 0 {
		return recs, fmt.Errorf("%w: %s lines %v skipped — the file was edited or damaged; the other records are intact", ErrCorrupt, path, bad)
	}
	return recs, nil
}
