package health_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/redis"
)

func TestAboveBelow(t *testing.T) {
	l := config.Limit{Warn: 80, Crit: 95}
	for _, tc := range []struct {
		v    float64
		want health.Status
	}{{0, health.OK}, {79.9, health.OK}, {80, health.Warn}, {94.9, health.Warn}, {95, health.Crit}, {200, health.Crit}} {
		if got := health.Above(tc.v, l); got != tc.want {
			t.Errorf("Above(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
	m := config.Limit{Warn: 90, Crit: 80}
	for _, tc := range []struct {
		v    float64
		want health.Status
	}{{100, health.OK}, {90, health.OK}, {89.9, health.Warn}, {80.1, health.Warn}, {80, health.Crit}, {0, health.Crit}} {
		if got := health.Below(tc.v, m); got != tc.want {
			t.Errorf("Below(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestWorstAndExitCodes(t *testing.T) {
	rs := func(ss ...health.Status) []health.Result {
		var out []health.Result
		for _, s := range ss {
			out = append(out, health.Result{Status: s})
		}
		return out
	}
	for _, tc := range []struct {
		in   []health.Result
		want health.Status
		code int
	}{
		{nil, health.OK, 0},
		{rs(health.OK, health.Warn), health.Warn, 1},
		{rs(health.Unknown, health.Warn), health.Warn, 1},
		{rs(health.OK, health.Unknown), health.Unknown, 3},
		{rs(health.Unknown, health.Crit, health.Warn), health.Crit, 2},
	} {
		got := health.Worst(tc.in)
		if got != tc.want || got.ExitCode() != tc.code {
			t.Errorf("Worst = %s (exit %d), want %s (exit %d)", got, got.ExitCode(), tc.want, tc.code)
		}
	}
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(health.Result{Target: "redis", Name: "memory", Status: health.Crit, Took: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status":"crit"`, `"took_ms":1500`, `"check":"memory"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestJudgePostgres(t *testing.T) {
	th := config.DefaultThresholds()
	s := postgres.Snapshot{}
	s.Server.Version, s.Server.Database = "15.18 (Debian)", "stockdb"
	s.Connections = postgres.Connections{Total: 90, IdleInTransaction: 3, Max: 100, SuperuserReserved: 3}
	s.Cache = postgres.CacheStats{HitPercent: 75}
	s.LongestTransaction = &postgres.Transaction{PID: 42, Duration: 10 * time.Minute, State: "idle in transaction"}
	s.Replicas = []postgres.Replica{{Application: "standby1", State: "streaming", ReplayLag: 6 * time.Minute}}
	s.Missing = []postgres.MissingFact{{Fact: postgres.FactDatabaseSize, Reason: "permission denied"}}
	got := map[string]health.Status{}
	for _, r := range health.JudgePostgres(s, th) {
		got[r.Name] = r.Status
	}
	want := map[string]health.Status{
		"reachable": health.OK, "connections": health.Warn, "cache hit": health.Crit,
		"longest tx": health.Warn, "replica standby1": health.Crit, "database_size": health.Unknown,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
}

func TestJudgeRedis(t *testing.T) {
	th := config.DefaultThresholds()
	s := redis.Snapshot{Version: "7.0.15", UsedMemory: 95 << 20, MaxMemory: 100 << 20, HitRatePercent: 85, KeyspaceHits: 85, KeyspaceMisses: 15, EvictedKeys: 3}
	got := map[string]health.Status{}
	for _, r := range health.JudgeRedis(s, th) {
		got[r.Name] = r.Status
	}
	want := map[string]health.Status{"memory": health.Crit, "hit rate": health.Warn, "evictions": health.Warn, "rejected conns": health.OK}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	s.MaxMemory = 0
	for _, r := range health.JudgeRedis(s, th) {
		if r.Name == "memory" && (r.Status != health.Warn || !strings.Contains(r.Hint, "maxmemory")) {
			t.Errorf("unlimited memory: %+v", r)
		}
	}
}

func TestPodAndNodeStatus(t *testing.T) {
	th := config.DefaultThresholds()
	for _, tc := range []struct {
		p    kube.PodRow
		want health.Status
	}{
		{kube.PodRow{Status: "Running", ReadyOK: true}, health.OK},
		{kube.PodRow{Status: "Running", ReadyOK: true, MaxRestarts: 3}, health.Warn},
		{kube.PodRow{Status: "Running", ReadyOK: true, MaxRestarts: 10}, health.Crit},
		{kube.PodRow{Status: "CrashLoopBackOff", Problem: true}, health.Crit},
		{kube.PodRow{Status: "Pending", Problem: true}, health.Warn},
		{kube.PodRow{Status: "Completed"}, health.OK},
		{kube.PodRow{Status: "OOMKilled", Problem: true}, health.Crit},
	} {
		if got := health.PodStatus(tc.p, th); got != tc.want {
			t.Errorf("PodStatus(%s, %d restarts) = %s, want %s", tc.p.Status, tc.p.MaxRestarts, got, tc.want)
		}
	}
	if health.NodeStatus(kube.NodeRow{Ready: false}) != health.Crit || health.NodeStatus(kube.NodeRow{Ready: true, Problem: true}) != health.Warn {
		t.Error("NodeStatus")
	}
}
