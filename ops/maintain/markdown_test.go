package maintain

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// sampleReport is a report with a finding of every kind, an action done
// and the detail tables.
func sampleReport() *Report {
	r := &Report{Mode: ModeFull, StartedAt: now, Took: 4200 * time.Millisecond, Host: "bastion-1",
		Areas: []AreaRun{{Area: AreaHealth}, {Area: AreaDB}, {Area: AreaRedis, Notes: []string{"keyspace analysis stopped at 0:42"}}, {Area: AreaCapacity}}}
	r.Findings = []Finding{
		{Area: AreaHealth, Check: "postgres connections", Status: health.OK, Object: "postgres", Summary: "7/97 (7%)"},
		{Area: AreaDB, Check: "dead tuples", Status: health.Crit, Object: `"public"."daily_prices"`, Summary: "50.0% dead | a pipe",
			Evidence: []string{"last vacuum: never"}, Why: "dead rows slow scans.", Suggestion: "VACUUM (ANALYZE) it", Runbook: rbVacuum,
			Action: &Action{Kind: ActVacuum, Schema: "public", Table: "daily_prices", Label: "VACUUM (ANALYZE) public.daily_prices"}},
		{Area: AreaDB, Check: "bloat", NA: true, Summary: "n/a: permission denied"},
		{Area: AreaRedis, Check: "big key", Status: health.Warn, Object: "db1 queue:tasks", Summary: "list of 24 MiB", Runbook: rbRedisMemory},
		{Area: AreaCapacity, Check: "database volume", Status: health.Warn, Object: "database volume", Summary: "60 GiB of 100 GiB (60%), full in 40 days"},
	}
	r.DB = &DBDetail{Upkeep: postgres.Upkeep{Tables: []postgres.TableStat{
		{Schema: "public", Name: "daily_prices", LiveTuples: 100, DeadTuples: 100, TotalBytes: 8 << 20, LastAutovacuum: at(time.Hour)},
	}}}
	r.Redis = &RedisDetail{Keyspace: analysis()}
	r.Capacity = &CapacityDetail{Projections: []Projection{{Resource: "database volume", Unit: UnitBytes, Used: 60 * gib, Capacity: 100 * gib, Percent: 60,
		Growth: Growth{OK: true, PerDay: gib, Points: 11, Span: 240 * time.Hour}, GrowthSource: "11 runs of opsdeck over 240h", DaysLeft: 40, HasDaysLeft: true}}}
	r.finish()
	f := r.Findings[1]
	r.Record(ActionResult{Action: *f.Action, FindingKey: f.Key(), OK: true, Detail: "vacuumed and analyzed: 100 dead tuples → 0 in 12ms"})
	return r
}

func TestMarkdownGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `50.0% dead \| a pipe`) {
		t.Error("a pipe in a cell is not escaped")
	}
	golden.RequireEqual(t, []byte(out))
}

func TestReportJSONHasNoNanoseconds(t *testing.T) {
	b, err := sampleReport().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"took_ms":4200`) || !strings.Contains(string(b), `"status":"warn"`) {
		t.Errorf("json: %.300s", b)
	}
}
