package restore

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
)

// TestReportNamesVersion: the Markdown report says which opsdeck ran the
// restore, as backup manifests and audit records do.
func TestReportNamesVersion(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := &Report{
		Plan:           &Plan{SetID: "20260102_030405", Set: &backup.Manifest{ID: "20260102_030405", Start: start, User: "alice"}, Components: []string{"config"}},
		Start:          start,
		End:            start.Add(time.Second),
		Who:            "alice",
		OpsdeckVersion: "v1.2.3",
		OK:             true,
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| opsdeck | v1.2.3 |") {
		t.Errorf("report lacks the opsdeck version:\n%s", b.String())
	}
}
