package maintain

import (
	"testing"

	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
)

// Every runbook section a finding links must exist in the built-in runbooks.
func TestRunbookSectionsResolve(t *testing.T) {
	lib, err := runbook.Load(runbooks.FS, "", runbooks.Order)
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{
		rbVacuum, rbIndexes, rbSlowQueries, rbPGSettings, rbLongTx, rbConnections, rbPostgresDown,
		rbRedisDown, rbRedisMemory, rbRedisHit, rbRedisCache, rbSecurity, rbKubeResources, rbBackups,
		rbCapacity, rbAlerts, rbRetention, rbRestoreDB, rbWeekly, rbBackupStale, "troubleshooting.md#kubernetes-access",
		runbookPath("postgres-cache-hit"), runbookPath("redis-clients"), runbookPath("redis-hit-rate"),
	}
	for _, ref := range areaRunbooks {
		refs = append(refs, ref)
	}
	for _, p := range Plan {
		refs = append(refs, p.Runbook)
	}
	for _, ref := range refs {
		if _, err := lib.Resolve(ref); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
}
