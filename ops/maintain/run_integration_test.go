package maintain

import (
	"context"
	"errors"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestCapacityUsesItsHistory(t *testing.T) {
	cfg := sandboxConfig(t)
	cfg.Maintenance.Capacity.DatabaseVolume = "1Gi"
	e := newEngine(t, cfg)
	rep, err := e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeCapacity})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Capacity
	if c == nil || c.HistorySamples != 1 || len(c.Projections) < 4 {
		t.Fatalf("first run: %+v", c)
	}
	var db Projection
	for _, p := range c.Projections {
		if p.Resource == "database volume" {
			db = p
		}
	}
	if db.Used <= 0 || db.Capacity != 1<<30 || db.Growth.OK {
		t.Errorf("database volume on the first run: %+v", db)
	}
	// Two days ago the server was half its size: the next run has a growth rate.
	path := filepath.Join(cfg.StateDir, "maintain", historyName)
	h, err := ReadHistory(path)
	if err != nil || len(h.Samples) != 1 {
		t.Fatalf("history: %+v %v", h, err)
	}
	past := h.Samples[0]
	past.At = past.At.Add(-48 * time.Hour)
	past.ServerBytes /= 2
	past.DatabaseBytes /= 2
	if err := AppendHistory(path, past); err != nil {
		t.Fatal(err)
	}
	rep, err = e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeCapacity})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Capacity.Projections {
		if p.Resource == "database volume" {
			db = p
		}
	}
	if !db.Growth.OK || db.Growth.PerDay < float64(past.ServerBytes)/4 || !db.HasDaysLeft {
		t.Errorf("database volume with history: %+v", db)
	}
	if rep.Capacity.First == "" || !hasFinding(rep, "runs out first", rep.Capacity.First) {
		t.Errorf("runs out first: %q", rep.Capacity.First)
	}
	if h, _ := ReadHistory(path); len(h.Samples) != 3 {
		t.Errorf("history holds %d samples after two runs and one planted", len(h.Samples))
	}
}

func TestRedisKeyspaceInterruptedAndResumed(t *testing.T) {
	cfg := sandboxConfig(t)
	cfg.Maintenance.Redis.ScanCount = 10
	e := newEngine(t, cfg)
	ctx, cancel := context.WithCancel(accesstest.Admin(t.Context()))
	defer cancel()
	var last progress.Event
	rep, err := e.Run(ctx, Options{Mode: ModeRedis, Progress: func(ev progress.Event) {
		if ev.Kind == progress.Advance && ev.Step == "redis keyspace" {
			last = ev
			if ev.Done >= 100 {
				cancel()
			}
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	if last.Total <= 100 || last.Done < 100 {
		t.Errorf("progress against DBSIZE: %+v", last)
	}
	if !strings.Contains(strings.Join(rep.Areas[0].Notes, " "), "--resume") {
		t.Errorf("notes: %q", rep.Areas[0].Notes)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "maintain", checkpointName)); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	rep, err = e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeRedis, Keyspace: KeyspaceOptions{Resume: true, MaxOpsPerSec: -1}})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Redis.Keyspace
	if a == nil || !a.Complete() || a.Keys < int64(totalDBSize(a)) {
		t.Fatalf("resumed analysis: %+v", a)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "maintain", checkpointName)); !os.IsNotExist(err) {
		t.Errorf("the checkpoint outlived the complete analysis: %v", err)
	}
	for _, c := range []string{"memory", "hit rate", "fragmentation", "keys", "biggest keys", "prefixes", "keys without TTL"} {
		found := false
		for _, f := range rep.Findings {
			found = found || f.Check == c
		}
		if !found {
			t.Errorf("no %q finding", c)
		}
	}
	if _, ok := a.Prefixes["stock:quote"]; !ok {
		t.Errorf("the seed's stock:quote prefix is missing: %v", a.Prefixes)
	}
	// Resuming with no checkpoint says so.
	rep, err = e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeRedis, Keyspace: KeyspaceOptions{Resume: true, MaxOpsPerSec: -1}})
	if err != nil {
		t.Fatal(err)
	}
	f := findingOf(t, rep, "keyspace", "keyspace")
	if !strings.Contains(f.Summary, "no keyspace checkpoint") {
		t.Errorf("resume without a checkpoint: %+v", f)
	}
}

func TestHealthModeIsTheMorningCheck(t *testing.T) {
	cfg := sandboxConfig(t)
	rep, err := newEngine(t, cfg).Run(accesstest.Admin(t.Context()), Options{Mode: ModeHealth})
	if err != nil {
		t.Fatal(err)
	}
	check := health.Run(accesstest.Admin(t.Context()), cfg)
	var n int
	for _, f := range rep.Findings {
		if f.Area == AreaHealth && f.Object != "" && !strings.HasPrefix(f.Check, "backup") && f.Object != cfg.Backup.Dir && f.Check != "alerts" && f.Check != checkErrorLogs {
			n++
		}
	}
	if n != len(check.Results) {
		t.Errorf("%d health findings, the morning check has %d results", n, len(check.Results))
	}
	// The sandbox's CrashLoopBackOff worker makes both critical.
	if rep.Status != health.Crit || check.Status != health.Crit {
		t.Errorf("status %v, check %v", rep.Status, check.Status)
	}
	if b := findingOf(t, rep, "backups", cfg.Backup.Dir); b.Status != health.Warn {
		t.Errorf("no backup store: %+v", b)
	}
	runs := newEngine(t, cfg).LastRuns()
	if r, ok := runs[ModeHealth]; !ok || r.Status != health.Crit || r.Findings != len(rep.Findings) {
		t.Errorf("last runs read back: %+v", runs)
	}
}

func TestFullModeWithTargetsDown(t *testing.T) {
	cfg := sandboxConfig(t)
	bh, err := sandbox.StartBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer bh.Close()
	port, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Postgres.DSN = "postgres://u:secret-pw@127.0.0.1:" + strconv.Itoa(port) + "/db?sslmode=disable"
	cfg.Redis.URL = "redis://:other-secret@" + bh.Addr + "/0"
	cfg.Timeouts.Connect, cfg.Timeouts.Check = time.Second, 2*time.Second
	start := time.Now()
	rep, err := newEngine(t, cfg).Run(accesstest.Admin(t.Context()), Options{Mode: ModeFull})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("a full run against dead targets took %s", took)
	}
	if rep.Status != health.Crit {
		t.Errorf("status %v", rep.Status)
	}
	var pg Finding
	for _, f := range rep.Findings {
		if f.Area == AreaDB && f.Check == "reachable" {
			pg = f
		}
	}
	if pg.Status != health.Crit || pg.Object != "postgres" || !strings.Contains(pg.Summary, "connection refused") {
		t.Errorf("postgres down: %+v", pg)
	}
	for _, f := range rep.Findings {
		if strings.Contains(f.Summary+strings.Join(f.Evidence, " "), "secret-pw") || strings.Contains(f.Summary, "other-secret") {
			t.Errorf("a password is shown: %+v", f)
		}
	}
}
