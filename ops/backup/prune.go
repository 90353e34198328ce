package backup

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// PruneDecision says what prune does with one set and why.
type PruneDecision struct {
	ID     string        `json:"id"`
	Kind   string        `json:"kind"`
	Age    time.Duration `json:"age_ns"`
	Size   int64         `json:"size"`
	Delete bool          `json:"delete"`
	Reason string        `json:"reason"`
}

// PrunePlan is the decision for every set plus the leftovers of
// interrupted runs, which are always removed.
type PrunePlan struct {
	Decisions []PruneDecision `json:"decisions"`
	Leftovers []string        `json:"leftovers,omitempty"`
	// Warnings name components with no verified set to anchor retention.
	Warnings []string `json:"warnings,omitempty"`
	// Bases are the base backups the plan keeps (KeptBases).
	Bases []WALStart `json:"kept_bases,omitempty"`
	// WAL is what the plan deletes of each cluster's WAL archive: what no
	// kept base backup needs.
	WAL []WALPrune `json:"wal,omitempty"`
}

// WALPrune is the part of one cluster's WAL archive a prune deletes.
type WALPrune struct {
	SystemID uint64 `json:"system_identifier,string"`
	// Before is the first segment kept: the oldest kept base backup's.
	Before  string      `json:"before,omitempty"`
	Objects []WALObject `json:"-"`
	Count   int         `json:"objects"`
	Bytes   int64       `json:"bytes"`
	// Held says why nothing is deleted, when nothing is.
	Held string `json:"held,omitempty"`
}

// KeptBases returns the base backups the plan keeps, newest first: what
// the WAL archive's prune must keep WAL for (per system identifier and
// timeline, from the oldest start on). Sets whose manifest cannot be read
// are not in it; the plan keeps them until the longest retention passes,
// and a WAL prune should wait while Decisions holds such a set (Kind "?").
func (p PrunePlan) KeptBases() []WALStart { return slices.Clone(p.Bases) }

// Deletes returns the decisions that delete a set.
func (p PrunePlan) Deletes() []PruneDecision {
	var out []PruneDecision
	for _, d := range p.Decisions {
		if d.Delete {
			out = append(out, d)
		}
	}
	return out
}

// PlanPrune decides, without changing anything, which sets retention
// removes. A set is deleted when every component it holds is past that
// component's retention, except that the newest verified set holding each
// component successfully is always kept. Base backups are kept by count
// and age (base): the newest base.Count good ones and every one younger
// than base.Days. Failed and unverified sets never
// count as the ones kept; when a component has no verified set at all,
// none of its sets is deleted (verify them first). Sets whose manifest
// cannot be read are deleted once older than the longest retention.
func PlanPrune(sets []Set, leftovers []string, r config.BackupRetention, base config.BaseRetention, now time.Time) PrunePlan {
	plan := PrunePlan{Leftovers: leftovers}
	anchors := map[string]string{} // component → id of its newest verified set
	for _, c := range setComponentNames() {
		if s, ok := Latest(sets, c, true); ok {
			anchors[c] = s.ID
		} else if _, any := Latest(sets, c, false); any {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("no verified %s backup: keeping every %s set — run opsdeck backups verify --all", c, c))
		}
	}
	longest := max(r.Database, r.Redis, r.Config, r.Logs, base.Days)
	// baseRank is each good base backup's place, newest first.
	baseRank := map[string]int{}
	for _, s := range sets {
		if s.Manifest == nil {
			continue
		}
		if c, ok := s.Manifest.Component(Base); ok && c.Status == StatusOK {
			baseRank[s.ID] = len(baseRank)
		}
	}
	retention := func(name string) int {
		if name == Base {
			return base.Days
		}
		return r.Days(name)
	}
	for _, s := range sets {
		d := PruneDecision{ID: s.ID}
		if s.Manifest == nil {
			t, _ := time.Parse(IDLayout, s.ID)
			d.Age = now.Sub(t)
			d.Kind = "?"
			if d.Age > days(longest) {
				d.Delete, d.Reason = true, "unreadable manifest, older than the longest retention"
			} else {
				d.Reason = "unreadable manifest, kept until the longest retention passes"
			}
			plan.Decisions = append(plan.Decisions, d)
			continue
		}
		m := s.Manifest
		d.Kind, d.Age, d.Size = m.Kind, now.Sub(m.Start), m.Size()
		var keep []string
		for _, c := range m.Components {
			limit := days(retention(c.Name))
			rank, good := baseRank[s.ID]
			switch {
			case anchors[c.Name] == s.ID:
				keep = append(keep, "newest verified "+c.Name)
			case c.Status == StatusOK && anchors[c.Name] == "":
				keep = append(keep, "no verified "+c.Name+" set yet")
			case c.Name == Base && good && rank < base.Count:
				keep = append(keep, fmt.Sprintf("base among the newest %d", base.Count))
			case d.Age <= limit:
				keep = append(keep, fmt.Sprintf("%s within %dd", c.Name, retention(c.Name)))
			}
		}
		if len(keep) > 0 {
			d.Reason = "keep: " + strings.Join(keep, ", ")
		} else {
			d.Delete = true
			d.Reason = fmt.Sprintf("past retention (%s)", retentionOf(m, r, base))
			if !s.Verified() {
				d.Reason += ", " + s.VerifyState()
			}
		}
		plan.Decisions = append(plan.Decisions, d)
		if b, ok := walStartOf(s); ok && !d.Delete {
			plan.Bases = append(plan.Bases, b)
		}
	}
	sort.SliceStable(plan.Decisions, func(i, j int) bool { return plan.Decisions[i].ID > plan.Decisions[j].ID })
	sort.SliceStable(plan.Bases, func(i, j int) bool { return plan.Bases[i].ID > plan.Bases[j].ID })
	return plan
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func retentionOf(m *Manifest, r config.BackupRetention, base config.BaseRetention) string {
	var parts []string
	for _, c := range m.Components {
		if c.Name == Base {
			parts = append(parts, fmt.Sprintf("base: newest %d or %dd", base.Count, base.Days))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %dd", c.Name, r.Days(c.Name)))
	}
	return strings.Join(parts, ", ")
}

// PruneOptions tune Prune.
type PruneOptions struct {
	// DryRun computes the plan and changes nothing.
	DryRun   bool
	Progress progress.Func
}

// PruneResult is what Prune did.
type PruneResult struct {
	Plan    PrunePlan `json:"plan"`
	Deleted []string  `json:"deleted"`
	// WALDeleted counts the WAL archive's objects deleted.
	WALDeleted int   `json:"wal_deleted"`
	Freed      int64 `json:"freed"`
	DryRun     bool  `json:"dry_run"`
}

// Prune applies retention (see PlanPrune). A dry run only reads. A real
// one refuses in read-only mode, takes the store lock, recomputes the plan
// under it, deletes, and is audited.
func (e *Engine) Prune(ctx context.Context, opts PruneOptions) (res PruneResult, err error) {
	res.DryRun = opts.DryRun
	end := logging.Span(ctx, "backup.prune", logging.KeyTarget, e.Store.String(), logging.KeyDryRun, opts.DryRun)
	defer func() { end(err, logging.KeyCount, len(res.Deleted), logging.KeyBytes, res.Freed) }()
	if opts.DryRun {
		plan, err := e.plan(ctx)
		res.Plan = plan
		return res, err
	}
	target := e.Store.String()
	if err := e.Refuse(ctx, access.BackupPrune, target); err != nil {
		return res, err
	}
	lock, err := e.LockStore(ctx, "prune")
	slog.DebugContext(ctx, "backup.prune lock", logging.KeyPath, e.Store.LockPath(), logging.KeyOutcome, logging.Outcome(err), logging.Err(err))
	if err != nil {
		endAudit(e.AuditLog(ctx).Begin("backup.prune", target, nil), err)
		return res, err
	}
	defer lock.Release()
	if res.Plan, err = e.plan(ctx); err != nil {
		endAudit(e.AuditLog(ctx).Begin("backup.prune", target, nil), err)
		return res, err
	}
	var planned []string
	for _, d := range res.Plan.Deletes() {
		planned = append(planned, d.ID)
	}
	entry := e.AuditLog(ctx).Begin("backup.prune", target, map[string]any{"delete": planned, "leftovers": res.Plan.Leftovers})
	defer func() { endAudit(entry, err) }()
	p := opts.Progress
	dels := res.Plan.Deletes()
	p.Emit(progress.Event{Kind: progress.Start, Op: "prune", Total: int64(len(dels) + len(res.Plan.Leftovers))})
	var failed []string
	for _, id := range res.Plan.Leftovers {
		if derr := e.Store.Delete(ctx, id); derr != nil {
			failed = append(failed, id+": "+derr.Error())
		}
	}
	for i, d := range dels {
		if derr := e.Store.Delete(ctx, d.ID); derr != nil {
			failed = append(failed, d.ID+": "+derr.Error())
			continue
		}
		res.Deleted = append(res.Deleted, d.ID)
		res.Freed += d.Size
		p.Emit(progress.Event{Kind: progress.Advance, Op: "prune", Step: d.ID, Done: int64(i + 1), Total: int64(len(dels))})
	}
	for _, w := range res.Plan.WAL {
		for _, o := range w.Objects {
			if derr := e.Store.DeleteObject(ctx, o.Key); derr != nil {
				failed = append(failed, o.Key+": "+derr.Error())
				continue
			}
			res.WALDeleted++
			res.Freed += o.Size
		}
	}
	if len(failed) > 0 {
		err = fmt.Errorf("prune could not delete %d set(s) or WAL object(s): %s", len(failed), strings.Join(failed, "; "))
		return res, err
	}
	p.Emit(progress.Event{Kind: progress.Finish, Op: "prune", Message: fmt.Sprintf("deleted %d set(s) and %d WAL object(s), freed %s", len(res.Deleted), res.WALDeleted, progress.Bytes(res.Freed))})
	return res, nil
}

func (e *Engine) plan(ctx context.Context) (PrunePlan, error) {
	sets, err := List(ctx, e.Store)
	if err != nil {
		return PrunePlan{}, err
	}
	_, leftovers, err := e.Store.List(ctx)
	if err != nil {
		return PrunePlan{}, err
	}
	plan := PlanPrune(sets, leftovers, e.Config.Backup.Retention, e.Config.Backup.RetentionBy.Base, e.now())
	if plan.WAL, err = e.planWAL(ctx, plan); err != nil {
		return plan, err
	}
	if logging.Enabled(ctx) {
		plan.trace(ctx, e.Config.Backup.Retention, e.Config.Backup.RetentionBy.Base)
	}
	return plan, nil
}

// trace writes the plan to the debug trace: the retention, each set's
// decision and why, the leftovers and the warnings.
func (p PrunePlan) trace(ctx context.Context, r config.BackupRetention, base config.BaseRetention) {
	slog.DebugContext(ctx, "backup.prune plan", logging.KeyCount, len(p.Decisions), logging.KeyLeftovers, p.Leftovers,
		slog.Group("retention_days", "database", r.Database, "redis", r.Redis, "config", r.Config, "logs", r.Logs, "base", base.Days),
		slog.Group("retention_count", "base", base.Count))
	for _, d := range p.Decisions {
		decision := "keep"
		if d.Delete {
			decision = "delete"
		}
		slog.DebugContext(ctx, "backup.prune decision", logging.KeySet, d.ID, logging.KeyKind, d.Kind, logging.KeyAge, d.Age.Round(time.Second).String(),
			logging.KeyBytes, d.Size, logging.KeyDecision, decision, logging.KeyReason, d.Reason)
	}
	for _, w := range p.Warnings {
		slog.DebugContext(ctx, "backup.prune warning", logging.KeyWarnings, w)
	}
}

// planWAL plans the prune of every cluster's WAL archive: what precedes
// the oldest kept base backup of that cluster, and chunks of segments
// stored whole since. While a set's manifest cannot be read, the WAL is
// held: that set may be a base backup that needs it.
func (e *Engine) planWAL(ctx context.Context, plan PrunePlan) ([]WALPrune, error) {
	systems, err := WALSystems(ctx, e.Store)
	if err != nil || len(systems) == 0 {
		return nil, err
	}
	unreadable := false
	for _, d := range plan.Decisions {
		if d.Kind == "?" && !d.Delete {
			unreadable = true
		}
	}
	var out []WALPrune
	for _, sys := range systems {
		a, err := e.WALArchive(sys)
		if err != nil {
			return nil, err
		}
		cat, err := a.Catalog(ctx)
		if err != nil {
			return nil, err
		}
		w := WALPrune{SystemID: sys}
		var keep []WALStart
		for _, b := range plan.Bases {
			if b.SystemID == sys && (len(keep) == 0 || b.Start < keep[0].Start) {
				keep = []WALStart{b}
			}
		}
		switch {
		case unreadable:
			w.Held = "a set's manifest cannot be read: it may be a base backup that needs the WAL"
			w.Objects = cat.Stale
		case len(keep) == 0:
			w.Held = "no base backup of this cluster is kept: the WAL stays"
			w.Objects = cat.Stale
		default:
			w.Objects = PlanWALPrune(cat, keep)
			w.Before = pgwal.SegmentOf(keep[0].Timeline, keep[0].Start, cat.Info.SegmentSize).Name(cat.Info.SegmentSize)
		}
		w.Count = len(w.Objects)
		for _, o := range w.Objects {
			w.Bytes += o.Size
		}
		out = append(out, w)
	}
	return out, nil
}
