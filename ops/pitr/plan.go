package pitr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// Plan is a recovery ready to run: the base backup chosen for the target
// and the WAL the archive holds after it.
type Plan struct {
	Target Target `json:"target"`
	// Set is the base backup's set.
	Set *backup.Manifest `json:"-"`
	// Base is where recovery from it starts and becomes consistent;
	// Coverage how far the archive carries it.
	Base     backup.WALStart `json:"base"`
	Coverage backup.Coverage `json:"-"`
	// Covered are the stretches of time the archive can recover to (every
	// base backup's), for the operator.
	Covered []backup.TimeSpan `json:"covered"`
	// Major is the server's major version; SegmentSize its WAL segments'.
	Major       int    `json:"major"`
	SegmentSize uint64 `json:"segment_size"`
	// TarBytes is the base backup's size unpacked; WALBytes the WAL to
	// stage (from the base backup's start to the target or the head).
	TarBytes int64 `json:"tar_bytes"`
	WALBytes int64 `json:"wal_bytes"`
	// Until is the LSN replay is expected to reach: the target's, or the
	// end of the WAL held (for a time, a transaction or a name it is the
	// most recovery can reach).
	Until pgwal.LSN `json:"until"`

	archive *backup.WALArchive
	cat     *backup.WALCatalog
	tar     backup.File
}

// WorkBytes is what the recovery writes into its work directory: the
// base backup unpacked and the WAL staged (the checks add 10 %).
func (p *Plan) WorkBytes() int64 { return p.TarBytes + p.WALBytes }

// OutOfRangeError is a target the archive cannot reach; Covered says what
// it can.
type OutOfRangeError struct {
	Target  Target
	Covered []backup.TimeSpan
	Reason  string
}

func (e *OutOfRangeError) Error() string {
	return fmt.Sprintf("cannot recover to %s: %s; the archive can recover to %s", e.Target, e.Reason, SpansString(e.Covered))
}

// SpansString writes covered time for people, in the bastion's zone with
// its offset.
func SpansString(spans []backup.TimeSpan) string {
	if len(spans) == 0 {
		return "nothing (no base backup with the WAL after it: take one with opsdeck backup base while the streamer runs)"
	}
	const layout = "2006-01-02 15:04:05 -07:00"
	var parts []string
	for _, s := range spans {
		parts = append(parts, fmt.Sprintf("any moment from %s to %s", s.From.Local().Format(layout), s.To.Local().Format(layout)))
	}
	return strings.Join(parts, ", or ")
}

// candidate is one base backup with its coverage.
type candidate struct {
	set     *backup.Manifest
	base    backup.WALStart
	cov     backup.Coverage
	archive *backup.WALArchive
	cat     *backup.WALCatalog
}

// Prepare chooses the base backup a recovery to t starts from — setID's
// when given, else the newest whose WAL reaches t — and refuses a target
// the archive does not cover, naming what it does cover.
func Prepare(ctx context.Context, e *backup.Engine, t Target, setID string) (*Plan, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	sets, err := backup.List(ctx, e.Store)
	if err != nil {
		return nil, fmt.Errorf("list the backup sets: %w", err)
	}
	cands, err := candidates(ctx, e, sets)
	if err != nil {
		return nil, err
	}
	var covs []backup.Coverage
	for _, c := range cands {
		covs = append(covs, c.cov)
	}
	covered := backup.Recoverable(covs)
	refuse := func(reason string) error { return &OutOfRangeError{Target: t, Covered: covered, Reason: reason} }
	if len(cands) == 0 {
		return nil, refuse("the store holds no base backup with a WAL archive")
	}
	var pick *candidate
	// Newest first: the least WAL to replay.
	for i := len(cands) - 1; i >= 0 && pick == nil; i-- {
		c := &cands[i]
		if setID != "" && c.base.ID != setID {
			continue
		}
		if !c.cov.OK() {
			if setID != "" {
				return nil, refuse(fmt.Sprintf("base backup %s cannot be recovered: the archive lacks %s", setID, c.cov.Missing))
			}
			continue
		}
		if reaches(c, t) {
			pick = c
		}
	}
	if pick == nil {
		switch {
		case setID != "" && !slices.ContainsFunc(cands, func(c candidate) bool { return c.base.ID == setID }):
			return nil, fmt.Errorf("backup set %s holds no base backup (see opsdeck backups list)", setID)
		case setID != "":
			return nil, refuse(fmt.Sprintf("base backup %s does not reach it", setID))
		case t.Kind() == "time" && len(covered) > 0 && t.Time.Before(covered[0].From):
			return nil, refuse("it is before the oldest base backup ended")
		case t.Kind() == "time" && len(covered) > 0 && t.Time.After(covered[len(covered)-1].To):
			return nil, refuse("it is after the last WAL stored (the streamer writes only when the server writes): --to latest recovers everything stored")
		case t.Kind() == "time":
			return nil, refuse("no base backup's WAL reaches it without a gap")
		case t.Kind() == "lsn":
			return nil, refuse("no base backup's WAL holds it without a gap")
		}
		return nil, refuse("no base backup can be recovered")
	}
	return newPlan(t, pick, covered)
}

// candidates are the base backups of sets, oldest first, each with how
// far its system's archive carries it.
func candidates(ctx context.Context, e *backup.Engine, sets []backup.Set) ([]candidate, error) {
	type archived struct {
		a    *backup.WALArchive
		cat  *backup.WALCatalog
		hist map[uint32][]backup.HistoryEntry
	}
	archives := map[uint64]*archived{}
	var out []candidate
	for _, s := range sets {
		base, ok := backup.BaseStartOf(s.Manifest)
		if !ok {
			continue
		}
		ar, ok := archives[base.SystemID]
		if !ok {
			a, err := e.WALArchive(base.SystemID)
			if err != nil {
				return nil, err
			}
			cat, err := a.Catalog(ctx)
			if err != nil {
				if errors.Is(err, backup.ErrNotFound) {
					continue
				}
				return nil, fmt.Errorf("read the WAL archive of system %d: %w", base.SystemID, err)
			}
			hist, err := a.Histories(ctx, cat)
			if err != nil {
				return nil, err
			}
			ar = &archived{a, cat, hist}
			archives[base.SystemID] = ar
		}
		out = append(out, candidate{set: s.Manifest, base: base, cov: ar.cat.Cover(base, ar.hist), archive: ar.a, cat: ar.cat})
	}
	slices.SortFunc(out, func(a, b candidate) int { return a.base.At.Compare(b.base.At) })
	return out, nil
}

// reaches reports whether recovery from c can reach t. A transaction or
// a restore point cannot be placed before replaying: any base backup
// whose WAL runs to the archive's head may hold it (recovery says when
// it does not, and an older base backup can be named).
func reaches(c *candidate, t Target) bool {
	switch t.Kind() {
	case "time":
		to := c.cov.ToTime
		if to.Before(c.base.At) {
			to = c.base.At
		}
		return !t.Time.Before(c.base.At) && !t.Time.After(to)
	case "lsn":
		return t.LSN >= c.base.Stop && t.LSN <= c.cov.To
	}
	return true
}

func newPlan(t Target, c *candidate, covered []backup.TimeSpan) (*Plan, error) {
	comp, ok := c.set.Component(backup.Base)
	if !ok || comp.Base == nil {
		return nil, fmt.Errorf("backup set %s has no base backup", c.set.ID)
	}
	p := &Plan{
		Target: t, Set: c.set, Base: c.base, Coverage: c.cov, Covered: covered,
		Major: comp.Base.ServerVersionNum / 10000, SegmentSize: c.cat.Info.SegmentSize,
		Until: c.cov.To, archive: c.archive, cat: c.cat,
	}
	if t.Kind() == "lsn" {
		p.Until = t.LSN
	}
	for _, f := range comp.Files {
		if f.Format == backup.FormatBaseTar {
			p.tar = f
			p.TarBytes = f.RawSize
		}
	}
	if p.tar.Name == "" {
		return nil, fmt.Errorf("backup set %s has no base backup tar", c.set.ID)
	}
	if p.Until > c.base.Start {
		segs := (uint64(p.Until-c.base.Start) + p.SegmentSize - 1) / p.SegmentSize
		p.WALBytes = int64((segs + 1) * p.SegmentSize)
	}
	return p, nil
}
