package maintain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Runbook sections the database findings link.
const (
	rbVacuum       = "performance.md#vacuum-and-bloat"
	rbIndexes      = "performance.md#indexes"
	rbSlowQueries  = "performance.md#find-the-slow-queries"
	rbPGSettings   = "performance.md#settings"
	rbLongTx       = "troubleshooting.md#postgres-long-transactions"
	rbConnections  = "troubleshooting.md#postgres-connections"
	rbPostgresDown = "troubleshooting.md#postgres-down"
)

// minBloatBytes keeps small tables out of the bloat findings: their
// estimate is noise.
const minBloatBytes = 8 << 20

// seqScanRows is how many rows sequential scans must have read from a
// table before a missing index is suggested for it.
const seqScanRows = 10_000_000

// runDB reads the database's facts and judges them.
func (e *Engine) runDB(ctx context.Context, rep *Report, explicit bool, p progress.Func) []Finding {
	pool, err := e.pool(ctx)
	if err != nil {
		return []Finding{targetFailure(AreaDB, "postgres", err, explicit)}
	}
	timeout := e.statementTimeout()
	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "db", Message: "reading statistics"})
	snap, err := postgres.TakeSnapshot(ctx, pool)
	if err != nil {
		return []Finding{targetFailure(AreaDB, "postgres", err, true)}
	}
	up, err := postgres.ReadUpkeep(ctx, pool, timeout)
	if err != nil {
		return []Finding{targetFailure(AreaDB, "postgres", err, true)}
	}
	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "db", Message: "reading sessions and locks"})
	var fs []Finding
	sess, err := postgres.ReadSessions(ctx, pool, timeout)
	if err != nil {
		fs = append(fs, na(AreaDB, "sessions", "", err.Error()))
	}
	rep.DB = &DBDetail{Database: snap.Server.Database, Upkeep: up, Sessions: sess, SizeBytes: snap.DatabaseSizeBytes}
	fs = append(fs, DBFindings(snap, up, sess, e.Config, e.now())...)
	slots, missing, err := postgres.ReadSlots(ctx, pool, timeout)
	if err != nil {
		missing = append(missing, postgres.MissingFact{Fact: postgres.FactSlots, Reason: err.Error()})
	}
	fs = append(fs, SlotFindings(slots, missing, e.Config)...)
	return fs
}

// targetFailure is the finding for a target that could not be checked:
// critical when it is down, unknown when it refused us, n/a when it is not
// configured and was not asked for by name.
func targetFailure(area Area, target string, err error, explicit bool) Finding {
	f := Finding{Area: area, Check: "reachable", Object: target, Summary: err.Error(), Status: health.Crit}
	var reported *errReported
	switch {
	case errors.As(err, &reported):
		return na(area, "reachable", target, "not reachable, as reported above")
	case errors.Is(err, errNotConfigured):
		if !explicit {
			return na(area, "reachable", target, err.Error())
		}
		f.Status = health.Unknown
		f.Suggestion = "configure the target, or run a mode that does not need it"
		return f
	case target == "postgres":
		k := postgres.Classify(err)
		if k == postgres.KindAuth || k == postgres.KindPermission || k == postgres.KindConfig || k == postgres.KindDatabaseMissing {
			f.Status = health.Unknown
		}
		f.Runbook = rbPostgresDown
	case target == "redis":
		f.Runbook = rbRedisDown
	}
	f.Why = "nothing else of this area could be checked"
	return f
}

// DBFindings judges the database's facts. It is pure: the same facts give
// the same findings.
func DBFindings(snap postgres.Snapshot, up postgres.Upkeep, sess postgres.Sessions, cfg *config.Config, now time.Time) []Finding {
	m := cfg.Maintenance
	var fs []Finding
	for _, r := range health.JudgePostgres(snap, cfg.Thresholds) {
		if r.Name == "connections" || r.Name == "cache hit" {
			fs = append(fs, Finding{
				Area: AreaDB, Check: r.Name, Status: r.Status, Object: snap.Server.Database, Summary: r.Value,
				Evidence: []string{"threshold: " + r.Threshold}, Suggestion: r.Hint, Runbook: runbookPath(r.Runbook),
			})
		}
	}
	for _, mf := range up.Missing {
		fs = append(fs, na(AreaDB, string(mf.Fact), snap.Server.Database, mf.Reason))
	}
	if up.Has(postgres.FactTables) {
		fs = append(fs, deadTupleFindings(up, m, now)...)
		fs = append(fs, sizeFinding(up, snap))
		fs = append(fs, seqScanFindings(up, snap, cfg)...)
	}
	if up.Has(postgres.FactIndexes) {
		fs = append(fs, indexFindings(up, m, now)...)
	}
	if up.Has(postgres.FactBloat) {
		fs = append(fs, bloatFindings(up, m)...)
	}
	fs = append(fs, sessionFindings(sess, m)...)
	if up.Has(postgres.FactSettings) {
		fs = append(fs, settingFindings(up, sess, m)...)
	}
	return fs
}

// runbookPath turns a bare anchor of the morning check into a runbook path.
func runbookPath(anchor string) string {
	if anchor == "" || strings.Contains(anchor, ".md") {
		return anchor
	}
	return "troubleshooting.md#" + anchor
}

// deadTupleFindings ranks tables by dead-tuple share; those past the warn
// level get a VACUUM (ANALYZE) action.
func deadTupleFindings(up postgres.Upkeep, m config.MaintenanceConfig, now time.Time) []Finding {
	tables := slices.Clone(up.Tables)
	slices.SortStableFunc(tables, func(a, b postgres.TableStat) int {
		return cmp.Compare(b.DeadPercent(), a.DeadPercent())
	})
	var fs []Finding
	worst := ""
	for _, t := range tables {
		if worst == "" && t.DeadTuples > 0 {
			worst = fmt.Sprintf("%s %.1f%%", t.Qualified(), t.DeadPercent())
		}
		if t.DeadTuples < m.MinDeadTuples {
			continue
		}
		st := health.Above(t.DeadPercent(), m.DeadTuplePercent)
		if st == health.OK {
			continue
		}
		fs = append(fs, Finding{
			Area: AreaDB, Check: "dead tuples", Status: st, Object: t.Qualified(),
			Summary: fmt.Sprintf("%.1f%% dead: %s dead of %s rows", t.DeadPercent(), count(t.DeadTuples), count(t.LiveTuples+t.DeadTuples)),
			Evidence: []string{
				fmt.Sprintf("threshold: warn ≥%g%% crit ≥%g%% with at least %s dead", m.DeadTuplePercent.Warn, m.DeadTuplePercent.Crit, count(m.MinDeadTuples)),
				"last vacuum: " + ago(t.LastVacuum, now) + "; last autovacuum: " + ago(t.LastAutovacuum, now),
				"last analyze: " + ago(t.LastAnalyze, now) + "; last autoanalyze: " + ago(t.LastAutoanalyze, now),
				fmt.Sprintf("%s rows changed since the last analyze; table %s, indexes %s", count(t.ModifiedSinceAnalyze), progress.Bytes(t.TableBytes), progress.Bytes(t.IndexBytes)),
			},
			Why:        "dead rows make scans and indexes bigger and slower until VACUUM frees their space; stale statistics give the planner bad plans",
			Suggestion: "VACUUM (ANALYZE) the table (opsdeck does it after confirmation); if it keeps coming back, lower autovacuum_vacuum_scale_factor for it, or look for a long transaction holding vacuum back",
			Runbook:    rbVacuum,
			Action:     vacuumAction(t),
		})
	}
	if len(fs) == 0 {
		s := fmt.Sprintf("%d tables, none past %g%% dead", len(tables), m.DeadTuplePercent.Warn)
		if worst != "" {
			s += "; most: " + worst
		}
		fs = append(fs, Finding{Area: AreaDB, Check: "dead tuples", Status: health.OK, Summary: s, Runbook: rbVacuum})
	}
	for _, t := range tables {
		if t.LastAnalyzed() == nil && t.LiveTuples+t.ModifiedSinceAnalyze >= m.MinDeadTuples {
			fs = append(fs, Finding{
				Area: AreaDB, Check: "never analyzed", Status: health.Warn, Object: t.Qualified(),
				Summary:    fmt.Sprintf("no statistics for %s rows", count(max(t.LiveTuples, t.ModifiedSinceAnalyze))),
				Evidence:   []string{"last analyze and last autoanalyze: never", fmt.Sprintf("%s rows changed since", count(t.ModifiedSinceAnalyze))},
				Why:        "without statistics the planner guesses row counts and may pick slow plans",
				Suggestion: "ANALYZE it (VACUUM (ANALYZE) does both)",
				Runbook:    rbVacuum,
				Action:     vacuumAction(t),
			})
		}
	}
	return fs
}

func vacuumAction(t postgres.TableStat) *Action {
	return &Action{Kind: ActVacuum, Schema: t.Schema, Table: t.Name, Label: "VACUUM (ANALYZE) " + t.Qualified()}
}

// VacuumTargets returns the vacuum actions a db run proposes: the tables
// past the dead-tuple threshold or never analyzed, or, with all, every
// table.
func VacuumTargets(rep *Report, all bool) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Action != nil && f.Action.Kind == ActVacuum && f.Done == "" && !seen[f.Object] {
			seen[f.Object] = true
			out = append(out, f)
		}
	}
	if all && rep.DB != nil {
		for _, t := range rep.DB.Upkeep.Tables {
			if seen[t.Qualified()] {
				continue
			}
			seen[t.Qualified()] = true
			out = append(out, Finding{
				Area: AreaDB, Check: "vacuum all", Status: health.OK, Object: t.Qualified(),
				Summary: fmt.Sprintf("%.1f%% dead (--all)", t.DeadPercent()), Action: vacuumAction(t),
			})
		}
	}
	return out
}

func sizeFinding(up postgres.Upkeep, snap postgres.Snapshot) Finding {
	tables := slices.Clone(up.Tables)
	slices.SortFunc(tables, func(a, b postgres.TableStat) int { return cmp.Compare(b.TotalBytes, a.TotalBytes) })
	var ev []string
	var total, idx int64
	for i, t := range tables {
		total += t.TotalBytes
		idx += t.IndexBytes
		if i < 5 {
			ev = append(ev, fmt.Sprintf("%s: %s (table %s, indexes %s)", t.Qualified(), progress.Bytes(t.TotalBytes), progress.Bytes(t.TableBytes), progress.Bytes(t.IndexBytes)))
		}
	}
	s := fmt.Sprintf("%d tables, %s with %s of indexes", len(tables), progress.Bytes(total), progress.Bytes(idx))
	if snap.Has(postgres.FactDatabaseSize) {
		s = fmt.Sprintf("database %s; ", progress.Bytes(snap.DatabaseSizeBytes)) + s
	}
	return Finding{Area: AreaDB, Check: "sizes", Status: health.OK, Object: snap.Server.Database, Summary: s, Evidence: ev}
}

// seqScanFindings suggest indexes for big tables mostly read by sequential
// scans, when the cache hit ratio is low enough to matter.
func seqScanFindings(up postgres.Upkeep, snap postgres.Snapshot, cfg *config.Config) []Finding {
	lowHit := snap.Has(postgres.FactDatabaseStats) && !snap.Cache.NoReadsYet && snap.Cache.HitPercent < cfg.Thresholds.CacheHitRatioPercent.Warn
	var fs []Finding
	for _, t := range up.Tables {
		if t.SeqRowsRead < seqScanRows || t.SeqScans <= t.IndexScans || t.TableBytes < minBloatBytes {
			continue
		}
		st := health.OK
		if lowHit {
			st = health.Warn
		}
		fs = append(fs, Finding{
			Area: AreaDB, Check: "sequential scans", Status: st, Object: t.Qualified(),
			Summary: fmt.Sprintf("%s sequential scans read %s rows; %s index scans", count(t.SeqScans), count(t.SeqRowsRead), count(t.IndexScans)),
			Evidence: []string{
				fmt.Sprintf("table size %s", progress.Bytes(t.TableBytes)),
				fmt.Sprintf("cache hit ratio %.1f%%", snap.Cache.HitPercent),
			},
			Why:        "queries that scan a big table read all of it each time, pushing other data out of the cache",
			Suggestion: "find the queries (pg_stat_statements, ordered by shared_blks_read) and add an index for their WHERE clause",
			Runbook:    rbSlowQueries,
		})
	}
	return fs
}

// indexFindings report unused and duplicate or redundant indexes. Indexes
// that back a constraint are never suggested for dropping.
func indexFindings(up postgres.Upkeep, m config.MaintenanceConfig, now time.Time) []Finding {
	var fs []Finding
	since := "since the statistics were created"
	if up.StatsResetAt != nil {
		since = "since the statistics reset " + ago(up.StatsResetAt, now)
	}
	minBytes := m.UnusedIndexMinBytes()
	for _, ix := range up.Indexes {
		if ix.Scans > 0 || ix.Unique || ix.Primary || ix.Constraint != "" || ix.Bytes < minBytes {
			continue
		}
		fs = append(fs, Finding{
			Area: AreaDB, Check: "unused index", Status: health.Warn, Object: postgres.QualifiedName(ix.Schema, ix.Name),
			Summary:  fmt.Sprintf("never scanned, %s on %s", progress.Bytes(ix.Bytes), ix.Table),
			Evidence: []string{"0 index scans " + since, ix.Definition},
			Why:      "every write to the table also writes the index: it costs space, I/O and vacuum time for nothing",
			Suggestion: fmt.Sprintf("if no replica or monthly job uses it (scans there are not counted here): DROP INDEX CONCURRENTLY %s;",
				postgres.QualifiedName(ix.Schema, ix.Name)),
			Runbook: rbIndexes,
		})
	}
	// Exact duplicates: the same key. Keep the one backing a constraint,
	// else the first by name.
	groups := map[string][]postgres.IndexStat{}
	var keys []string
	for _, ix := range up.Indexes {
		if _, ok := groups[ix.Key]; !ok {
			keys = append(keys, ix.Key)
		}
		groups[ix.Key] = append(groups[ix.Key], ix)
	}
	dup := map[string]bool{}
	for _, k := range keys {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		slices.SortStableFunc(g, func(a, b postgres.IndexStat) int {
			if (a.Constraint != "") != (b.Constraint != "") {
				if a.Constraint != "" {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		keep := g[0]
		for _, ix := range g[1:] {
			dup[ix.Name] = true
			st := health.Warn
			sugg := fmt.Sprintf("DROP INDEX CONCURRENTLY %s; (it duplicates %s)", postgres.QualifiedName(ix.Schema, ix.Name), keep.Name)
			if ix.Constraint != "" {
				sugg = fmt.Sprintf("drop one of the constraints %s and %s: both are backed by the same index definition", ix.Constraint, keep.Constraint)
			}
			fs = append(fs, Finding{
				Area: AreaDB, Check: "duplicate index", Status: st, Object: postgres.QualifiedName(ix.Schema, ix.Name),
				Summary:    fmt.Sprintf("duplicates %s (%s)", keep.Name, progress.Bytes(ix.Bytes)),
				Evidence:   []string{ix.Definition, keep.Definition},
				Why:        "two identical indexes double the write cost and the space for no gain",
				Suggestion: sugg,
				Runbook:    rbIndexes,
			})
		}
	}
	// Redundant: a plain btree index whose columns are a leading part of
	// another btree index on the same table.
	for _, a := range up.Indexes {
		if dup[a.Name] || a.Unique || a.Constraint != "" || a.Method != "btree" || a.Predicate != "" || slices.Contains(a.Columns, 0) {
			continue
		}
		for _, b := range up.Indexes {
			if a.Name == b.Name || a.Schema != b.Schema || a.Table != b.Table || b.Method != "btree" || b.Predicate != "" ||
				len(b.Columns) <= len(a.Columns) || !slices.Equal(b.Columns[:len(a.Columns)], a.Columns) {
				continue
			}
			fs = append(fs, Finding{
				Area: AreaDB, Check: "redundant index", Status: health.Warn, Object: postgres.QualifiedName(a.Schema, a.Name),
				Summary:    fmt.Sprintf("its columns lead %s (%s)", b.Name, progress.Bytes(a.Bytes)),
				Evidence:   []string{a.Definition, b.Definition, fmt.Sprintf("%s scans of %s, %s of %s", count(a.Scans), a.Name, count(b.Scans), b.Name)},
				Why:        "the longer index serves the same lookups; keeping both costs writes and space",
				Suggestion: fmt.Sprintf("check the operator classes match, then DROP INDEX CONCURRENTLY %s;", postgres.QualifiedName(a.Schema, a.Name)),
				Runbook:    rbIndexes,
			})
			break
		}
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Area: AreaDB, Check: "indexes", Status: health.OK,
			Summary: fmt.Sprintf("%d indexes, none unused (≥ %s) or duplicated", len(up.Indexes), m.UnusedIndexMinSize), Runbook: rbIndexes})
	}
	return fs
}

func bloatFindings(up postgres.Upkeep, m config.MaintenanceConfig) []Finding {
	var fs []Finding
	checked := 0
	for _, b := range up.Bloat {
		if b.Bytes() < minBloatBytes {
			continue
		}
		checked++
		st := health.Above(b.BloatPercent(), m.BloatPercent)
		if st == health.OK {
			continue
		}
		fs = append(fs, Finding{
			Area: AreaDB, Check: "bloat", Status: st, Object: postgres.QualifiedName(b.Schema, b.Name),
			Summary: fmt.Sprintf("about %.0f%% dead space: %s of %s", b.BloatPercent(), progress.Bytes(b.BloatBytes()), progress.Bytes(b.Bytes())),
			Evidence: []string{
				fmt.Sprintf("%s pages, about %s expected from its rows and their average width", count(b.Pages), count(b.ExpectedPages)),
				fmt.Sprintf("threshold: warn ≥%g%% crit ≥%g%% (an estimate from pg_stats)", m.BloatPercent.Warn, m.BloatPercent.Crit),
			},
			Why:        "VACUUM makes dead space reusable but does not give it back; a bloated table is read slower and backs up bigger",
			Suggestion: "in a maintenance window: VACUUM FULL (locks the table) or pg_repack (online); then find what made it (mass deletes, vacuum held back)",
			Runbook:    rbVacuum,
		})
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Area: AreaDB, Check: "bloat", Status: health.OK,
			Summary: fmt.Sprintf("%d tables of %s or more estimated, none past %g%% dead space", checked, progress.Bytes(minBloatBytes), m.BloatPercent.Warn), Runbook: rbVacuum})
	}
	return fs
}

// sessionFindings report long-running statements, sessions idle inside a
// transaction and lock waits, each with the action that ends it.
func sessionFindings(sess postgres.Sessions, m config.MaintenanceConfig) []Finding {
	var fs []Finding
	blockers := map[int][]postgres.Session{}
	for _, s := range sess.List {
		for _, b := range s.BlockedBy {
			blockers[b] = append(blockers[b], s)
		}
	}
	for _, s := range sess.List {
		obj := fmt.Sprintf("pid %d", s.PID)
		who := fmt.Sprintf("%s@%s, app %q", s.User, s.Database, s.Application)
		switch {
		case s.State == "active" && s.QueryAge >= m.LongQuery.Warn && len(s.BlockedBy) == 0:
			fs = append(fs, Finding{
				Area: AreaDB, Check: "long query", Status: health.AboveDuration(s.QueryAge, m.LongQuery), Object: obj,
				Summary:    fmt.Sprintf("running for %s (%s)", health.ShortDuration(s.QueryAge), who),
				Evidence:   []string{"query: " + s.Query, "threshold: " + health.Durations(m.LongQuery), waitOf(s)},
				Why:        "a long statement holds its snapshot: vacuum cannot clean behind it, and it may hold locks others wait for",
				Suggestion: fmt.Sprintf("if it is stuck or runaway, cancel it (opsdeck maintain db --cancel %d); find why it is slow with EXPLAIN", s.PID),
				Runbook:    rbLongTx,
				Action:     signalAction(ActCancel, s),
			})
		case strings.HasPrefix(s.State, "idle in transaction") && s.StateAge >= m.IdleInTransaction.Warn:
			fs = append(fs, Finding{
				Area: AreaDB, Check: "idle in transaction", Status: health.AboveDuration(s.StateAge, m.IdleInTransaction), Object: obj,
				Summary: fmt.Sprintf("idle for %s inside a transaction open %s (%s)", health.ShortDuration(s.StateAge), health.ShortDuration(s.XactAge), who),
				Evidence: []string{"last statement: " + s.Query, "threshold: " + health.Durations(m.IdleInTransaction),
					fmt.Sprintf("blocks %d session(s)", len(blockers[s.PID]))},
				Why:        "an open transaction holds its locks and keeps vacuum from removing dead rows everywhere; the application forgot to commit",
				Suggestion: fmt.Sprintf("terminate it (opsdeck maintain db --terminate %d) and fix the code path that leaves transactions open; set idle_in_transaction_session_timeout", s.PID),
				Runbook:    rbLongTx,
				Action:     signalAction(ActTerminate, s),
			})
		}
		if wait := s.LockWait(sess.CollectedAt); len(s.BlockedBy) > 0 && wait >= m.LockWait.Warn {
			ev := []string{"waiting: " + s.Query, "threshold: " + health.Durations(m.LockWait)}
			var act *Action
			sugg := "wait for the blocking session, or end it if it is stuck; then find what takes such locks"
			for _, b := range s.BlockedBy {
				bs, ok := sess.ByPID(b)
				if !ok {
					ev = append(ev, fmt.Sprintf("blocked by pid %d (not visible to this user)", b))
					continue
				}
				ev = append(ev, fmt.Sprintf("blocked by pid %d (%s@%s, %s for %s): %s", b, bs.User, bs.Database, bs.State, health.ShortDuration(bs.StateAge), bs.Query))
				if act == nil && len(bs.BlockedBy) == 0 { // the head of the chain
					kind := ActCancel
					if strings.HasPrefix(bs.State, "idle in transaction") {
						kind = ActTerminate
					}
					act = signalAction(kind, bs)
					sugg = fmt.Sprintf("if pid %d is stuck, end it: opsdeck maintain db --%s %d (it %s); then find what takes such locks", b, kind, b, map[ActionKind]string{
						ActCancel: "is running a statement: cancelling it rolls the statement back", ActTerminate: "is idle in its transaction: only ending the session releases the lock"}[kind])
				}
			}
			fs = append(fs, Finding{
				Area: AreaDB, Check: "lock wait", Status: health.AboveDuration(wait, m.LockWait), Object: obj,
				Summary:    fmt.Sprintf("waits %s for a lock held by pid %s (%s)", health.ShortDuration(wait), joinInts(s.BlockedBy), who),
				Evidence:   ev,
				Why:        "every session queued behind the lock waits too: one stuck transaction can stop the application",
				Suggestion: sugg,
				Runbook:    rbLongTx,
				Action:     act,
			})
		}
	}
	if len(fs) == 0 {
		active, idleTx := 0, 0
		for _, s := range sess.List {
			switch {
			case s.State == "active":
				active++
			case strings.HasPrefix(s.State, "idle in transaction"):
				idleTx++
			}
		}
		fs = append(fs, Finding{Area: AreaDB, Check: "sessions", Status: health.OK, Runbook: rbLongTx,
			Summary: fmt.Sprintf("%d sessions, %d active, %d idle in transaction: none long, none waiting on locks", len(sess.List), active, idleTx)})
	}
	return fs
}

func waitOf(s postgres.Session) string {
	if s.WaitEventType == "" {
		return "not waiting"
	}
	return "waiting on " + s.WaitEventType + "/" + s.WaitEvent
}

func signalAction(kind ActionKind, s postgres.Session) *Action {
	verb := "cancel the statement of"
	if kind == ActTerminate {
		verb = "terminate"
	}
	return &Action{Kind: kind, PID: s.PID, BackendStart: s.BackendStart,
		Label: fmt.Sprintf("%s session %d (%s, %s)", verb, s.PID, s.User, s.Application)}
}

// settingFindings turn server settings into suggestions, with the
// findings that make them matter as evidence.
func settingFindings(up postgres.Upkeep, sess postgres.Sessions, m config.MaintenanceConfig) []Finding {
	var fs []Finding
	set := up.Settings
	for _, name := range []string{"autovacuum", "track_counts"} {
		if set[name] == "off" {
			fs = append(fs, Finding{
				Area: AreaDB, Check: "setting " + name, Status: health.Crit, Object: name, Summary: name + " is off",
				Why:        "without it dead rows pile up and tables are never analyzed; transaction id wraparound will force a shutdown",
				Suggestion: "ALTER SYSTEM SET " + name + " = on; SELECT pg_reload_conf();",
				Runbook:    rbPGSettings,
			})
		}
	}
	var idleTx []string
	for _, s := range sess.List {
		if strings.HasPrefix(s.State, "idle in transaction") && s.StateAge >= m.IdleInTransaction.Warn {
			idleTx = append(idleTx, fmt.Sprintf("pid %d idle in transaction for %s", s.PID, health.ShortDuration(s.StateAge)))
		}
	}
	if v := set["idle_in_transaction_session_timeout"]; (v == "0" || v == "0ms") && len(idleTx) > 0 {
		fs = append(fs, Finding{
			Area: AreaDB, Check: "setting idle_in_transaction_session_timeout", Status: health.Warn, Object: "idle_in_transaction_session_timeout",
			Summary:    "no timeout for sessions idle in a transaction, and some are",
			Evidence:   append([]string{"idle_in_transaction_session_timeout = 0"}, idleTx...),
			Why:        "a forgotten transaction stays open until someone ends it",
			Suggestion: fmt.Sprintf("ALTER ROLE <application role> SET idle_in_transaction_session_timeout = '%s';", health.ShortDuration(m.IdleInTransaction.Crit)),
			Runbook:    rbPGSettings,
		})
	}
	return fs
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

// SignalFinding returns a finding whose action cancels (or terminates)
// session pid as the report's sessions saw it, for `maintain db --cancel
// PID`: the session must have been read, so that its start time guards
// against a reused pid.
func SignalFinding(rep *Report, pid int, terminate bool) (Finding, error) {
	if rep.DB == nil {
		return Finding{}, errors.New("the database was not read: nothing to signal")
	}
	s, ok := rep.DB.Sessions.ByPID(pid)
	if !ok {
		return Finding{}, fmt.Errorf("no session %d among the %d sessions read (it ended, or it is opsdeck's own)", pid, len(rep.DB.Sessions.List))
	}
	kind, check := ActCancel, "cancel"
	if terminate {
		kind, check = ActTerminate, "terminate"
	}
	return Finding{Area: AreaDB, Check: check, Status: health.OK, Object: fmt.Sprintf("pid %d", pid),
		Summary: fmt.Sprintf("%s %s@%s, %s: %s", check, s.User, s.Database, s.State, s.Query), Action: signalAction(kind, s)}, nil
}
