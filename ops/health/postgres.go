package health

import (
	"context"
	"fmt"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/reach"
)

// CheckPostgres connects to the configured server, takes one snapshot and
// judges it, then reads and judges the WAL archive's slot when the archive
// is in use (checkWALArchive). Runbook sections name where each check is
// explained.
func CheckPostgres(ctx context.Context, cfg *config.Config) []Result {
	tgt, err := reach.Postgres(ctx, cfg)
	if err != nil {
		return []Result{unreachable("port-forward", err, "postgres-down", false)}
	}
	defer tgt.Close()
	pool, err := postgres.Connect(ctx, tgt.DSN, cfg.Timeouts.Connect)
	if err != nil {
		k := postgres.Classify(err)
		access := k == postgres.KindAuth || k == postgres.KindPermission || k == postgres.KindConfig || k == postgres.KindDatabaseMissing
		return []Result{unreachable(k.String(), tgt.Explain(err), "postgres-down", access)}
	}
	defer pool.Close()
	snap, err := postgres.TakeSnapshot(ctx, pool)
	if err != nil {
		return []Result{unreachable(postgres.Classify(err).String(), tgt.Explain(err), "postgres-down", false)}
	}
	rs := via(JudgePostgres(snap, cfg.Thresholds), tgt)
	return append(rs, checkWALArchive(ctx, pool, cfg)...)
}

// via adds to the reachable line how the server was reached when not
// directly: "…, via port-forward to postgres-0".
func via(rs []Result, tgt *reach.Target) []Result {
	if v := tgt.Via(); v != "" && len(rs) > 0 && rs[0].Name == "reachable" {
		rs[0].Value += ", via " + v
	}
	return rs
}

// unreachable is the result for a target that could not be checked. A server
// that is down or not answering is critical; one that answered but refused
// us (credentials, privileges, configuration) is unknown: we cannot tell its
// health, and the hint says how to fix our access.
func unreachable(kind string, err error, runbook string, access bool) Result {
	st := Crit
	if access {
		st = Unknown
	}
	return Result{Name: "reachable", Status: st, Value: kind, Hint: err.Error(), Runbook: runbook}
}

// JudgePostgres turns a snapshot into check results.
func JudgePostgres(s postgres.Snapshot, th config.Thresholds) []Result {
	rs := []Result{{
		Name:   "reachable",
		Status: OK,
		Value:  fmt.Sprintf("PostgreSQL %s, db %s", shortVersion(s.Server.Version), s.Server.Database),
	}}
	for _, m := range s.Missing {
		rs = append(rs, Result{Name: string(m.Fact), Status: Unknown, Value: "n/a", Hint: m.Reason})
	}

	if s.Has(postgres.FactConnections) && s.Has(postgres.FactServer) && s.Connections.Available() > 0 {
		c := s.Connections
		pct := 100 * float64(c.Total) / float64(c.Available())
		r := Result{
			Name:      "connections",
			Status:    Above(pct, th.DBConnectionsPercent),
			Value:     fmt.Sprintf("%d/%d (%.0f%%)", c.Total, c.Available(), pct),
			Threshold: Percent(th.DBConnectionsPercent),
			Runbook:   "postgres-connections",
		}
		if c.IdleInTransaction > 0 {
			r.Value += fmt.Sprintf(", %d idle in tx", c.IdleInTransaction)
		}
		if r.Status != OK {
			r.Hint = "find idle and idle-in-transaction sessions (opsdeck maintain db); check pool sizes of api/worker"
		}
		rs = append(rs, r)
	}

	if s.Has(postgres.FactDatabaseStats) {
		r := Result{Name: "cache hit", Threshold: PercentMin(th.CacheHitRatioPercent), Runbook: "postgres-cache-hit"}
		if s.Cache.NoReadsYet {
			r.Status, r.Value = OK, "no reads yet"
		} else {
			r.Status = Below(s.Cache.HitPercent, th.CacheHitRatioPercent)
			r.Value = fmt.Sprintf("%.1f%%", s.Cache.HitPercent)
		}
		if r.Status != OK {
			r.Hint = "working set larger than shared_buffers, or sequential scans: check pg_stat_statements and missing indexes"
		}
		rs = append(rs, r)
	}

	if s.Has(postgres.FactLongestTransaction) {
		r := Result{Name: "longest tx", Status: OK, Value: "none open", Threshold: Durations(th.LongestTransaction), Runbook: "postgres-long-transactions"}
		if tx := s.LongestTransaction; tx != nil {
			r.Status = AboveDuration(tx.Duration, th.LongestTransaction)
			r.Value = fmt.Sprintf("%s (pid %d, %s)", ShortDuration(tx.Duration), tx.PID, tx.State)
			if r.Status != OK {
				r.Hint = fmt.Sprintf("pid %d (%s, app %q) holds back vacuum: SELECT pg_cancel_backend(%d) if it is stuck", tx.PID, tx.User, tx.Application, tx.PID)
			}
		}
		rs = append(rs, r)
	}

	if s.Has(postgres.FactReplication) {
		for _, rep := range s.Replicas {
			name := rep.Application
			if name == "" {
				name = rep.ClientAddr
			}
			r := Result{
				Name:      "replica " + name,
				Status:    AboveDuration(rep.ReplayLag, th.ReplicationLag),
				Value:     fmt.Sprintf("%s lag %s, %d bytes behind", rep.State, ShortDuration(rep.ReplayLag), rep.LagBytes),
				Threshold: Durations(th.ReplicationLag),
				Runbook:   "postgres-replication",
			}
			if r.Status != OK {
				r.Hint = "the standby replays slower than the primary writes: check its disk and network, and long queries on it"
			}
			rs = append(rs, r)
		}
	}
	if st := s.Standby; st != nil && s.Has(postgres.FactRecovery) {
		r := Result{Name: "standby delay", Status: OK, Value: "caught up", Threshold: Durations(th.ReplicationLag), Runbook: "postgres-replication"}
		if !st.CaughtUp && st.ReplayDelayKnown {
			r.Status = AboveDuration(st.ReplayDelay, th.ReplicationLag)
			r.Value = fmt.Sprintf("%s behind", ShortDuration(st.ReplayDelay))
		}
		rs = append(rs, r)
	}
	return rs
}

// shortVersion keeps "15.18" of "15.18 (Debian 15.18-0+deb12u1)".
func shortVersion(v string) string {
	for i, r := range v {
		if r == ' ' {
			return v[:i]
		}
	}
	return v
}
