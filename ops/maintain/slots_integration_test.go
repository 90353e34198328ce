package maintain

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/health"
)

// TestDBInactiveSlotIsCritical: a physical slot nobody streams from keeps
// the WAL the server goes on writing; maintain db calls it critical, with
// the slot's facts and the exact SQL to drop it.
func TestDBInactiveSlotIsCritical(t *testing.T) {
	cfg := sandboxConfig(t)
	cfg.Postgres.WAL.Slot = "maint_archive"
	sqlCleanup(t, "SELECT pg_drop_replication_slot('maint_archive')", "DROP TABLE IF EXISTS maint_wal")
	sql(t,
		"SELECT pg_create_physical_replication_slot('maint_archive', true)",
		"CREATE TABLE maint_wal (id int, pad text)",
		"INSERT INTO maint_wal SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g",
		"SELECT pg_switch_wal()",
	)
	e := newEngine(t, cfg)
	rep, err := e.Run(accesstest.Admin(t.Context()), Options{Mode: ModeDB})
	if err != nil {
		t.Fatal(err)
	}
	f := findingOf(t, rep, "replication slot", "maint_archive")
	all := f.Summary + "\n" + strings.Join(f.Evidence, "\n") + "\n" + f.Suggestion
	for _, want := range []string{"inactive WAL archive slot keeps", "restart LSN: ", "retained: ", "wal_status: reserved",
		"opsdeck wal stream", "SELECT pg_drop_replication_slot('maint_archive');"} {
		if !strings.Contains(all, want) {
			t.Errorf("finding lacks %q:\n%s", want, all)
		}
	}
	if f.Status != health.Crit || f.Runbook != rbSlotRetaining {
		t.Errorf("finding %s runbook %s", f.Status, f.Runbook)
	}
	t.Logf("%s: %s", f.StatusText(), all)
}
