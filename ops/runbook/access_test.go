package runbook_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/runbook"
)

// A runbook command is checked for what it does, with the session's role,
// before it starts.
func TestRunChecksTheRoleOfWhatTheCommandDoes(t *testing.T) {
	operator := access.WithIdentity(context.Background(), access.Identity{User: "olga", Roles: map[string]access.Role{access.AllEnvs: access.Operator}})
	for _, tc := range []struct {
		line string
		want error
	}{
		{"opsdeck restore database latest", access.ErrForbidden},
		{"opsdeck backups prune", access.ErrForbidden},
	} {
		c, err := runbook.ParseCommand(tc.line)
		if err != nil {
			t.Fatal(err)
		}
		_, err = runbook.Run(operator, c, runbook.RunOptions{Exec: &fakeOpsdeck{}, Confirmed: true})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s as operator: %v, want %v", tc.line, err, tc.want)
		}
	}
	if got := mustParse(t, "opsdeck backup database").Action(); got != access.BackupRun {
		t.Errorf("backup database stands for %s", got)
	}
	if got := mustParse(t, "opsdeck --config x.yaml maintain cleanup --yes").Action(); got != access.MaintainClean {
		t.Errorf("maintain cleanup stands for %s", got)
	}
}
