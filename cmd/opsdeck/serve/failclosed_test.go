package serve_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/commands"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/runbook"
)

// The fail-closed tests: a session acts as its key, down to the runbook
// commands it runs inside the server, and is refused what its role does not
// allow — whatever the screen offered.

// findCommand opens the Runbooks tab's backup-and-restore runbook and moves
// the selection with ] until the reader's focus line shows want.
func findCommand(t *testing.T, tm *term, want string) {
	t.Helper()
	tm.send("6")
	tm.waitFor(t, "Backup and restore")
	for range 5 { // the sixth runbook of the list
		// One press at a time, each once the screen has moved: on a
		// loaded machine the list may still be drawing.
		before := tm.screen()
		tm.send("\x1b[B")
		for deadline := time.Now().Add(3 * time.Second); tm.screen() == before && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	tm.send("\r")
	// The runbook's own opening line, not a link to it from another one.
	tm.waitFor(t, "How backups are taken, checked and kept")
	moveTo(t, tm, want)
}

// moveTo presses ] until the reader's focus line shows want.
func moveTo(t *testing.T, tm *term, want string) {
	t.Helper()
	for range 150 {
		if strings.Contains(tm.screen(), want) {
			return
		}
		// One press at a time: the next only when the screen has moved,
		// so no press is still queued once want shows.
		before := tm.screen()
		tm.send("]")
		for deadline := time.Now().Add(3 * time.Second); tm.screen() == before && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatalf("no command focus line showed %q:\n%s", want, tm.screen())
}

func auditRecords(t *testing.T, f audit.Filter) []audit.Record {
	t.Helper()
	recs, err := audit.Read(audit.PathIn(sb.Config.StateDir), f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func fingerprint(k gossh.Signer) string { return gossh.FingerprintSHA256(k.PublicKey()) }

// An operator's runbook offers no restore and no prune, and says why.
func TestOperatorIsNotOfferedAdminRunbookCommands(t *testing.T) {
	requireServer(t)
	tm := open(t, "olga", operatorKey, 140, 40)
	tm.waitFor(t, "olga operator")
	// The prune block comes first in the runbook, the restore after it.
	findCommand(t, tm, "opsdeck backups prune: not offered here — needs admin")
	tm.send("\r")
	tm.waitFor(t, "opsdeck backups prune is not offered to olga (operator")
	moveTo(t, tm, "opsdeck restore database latest: not offered here — needs admin")
	tm.send("\r")
	tm.waitFor(t, "opsdeck restore database latest is not offered to olga (operator")
	if recs := auditRecords(t, audit.Filter{Who: "olga", Action: runbook.AuditAction}); len(recs) != 0 {
		t.Errorf("a command not offered reached the audit log as run: %+v", recs)
	}
}

// operatorContext is the context an operator's session carries, as the
// server builds it.
func operatorContext() context.Context {
	id := access.As("olga", access.Operator)
	id.SSH = &audit.SSH{User: "olga", KeyFingerprint: fingerprint(operatorKey), KeyComment: "olga@desk", RemoteAddr: "127.0.0.1:40404"}
	return access.WithIdentity(context.Background(), id)
}

// A forged request that reaches ops — past the screen, even past the
// runbook's own check — is refused by the engine and audited with the SSH
// user, key and address.
func TestForgedRequestIsRefusedAndAudited(t *testing.T) {
	requireServer(t)
	ctx := operatorContext()
	for _, line := range []string{"opsdeck restore database latest", "opsdeck backups prune"} {
		c, err := runbook.ParseCommand(line)
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.Sources().Runbooks.Run(ctx, c, true, "backup-restore", "forged")
		if !errors.Is(err, access.ErrForbidden) {
			t.Errorf("%s as an operator: %v, want forbidden", line, err)
		}
	}
	// Straight to the command tree, as if the runbook check were gone.
	log := sb.Config.OpenAudit()
	defer log.Close()
	var out bytes.Buffer
	code := commands.InProcess(sb.Config, log).Exec(ctx, []string{"backups", "prune", "--yes"}, &out)
	if code == 0 || !strings.Contains(out.String(), "needs the admin role") {
		t.Errorf("backups prune in-process as an operator: exit %d\n%s", code, out.String())
	}
	// And with no identity at all.
	out.Reset()
	code = commands.InProcess(sb.Config, log).Exec(context.Background(), []string{"backups", "prune", "--yes"}, &out)
	if code == 0 || !strings.Contains(out.String(), "no identity") {
		t.Errorf("backups prune with no identity: exit %d\n%s", code, out.String())
	}
	recs := auditRecords(t, audit.Filter{Who: "olga"})
	refused := map[string]audit.Record{}
	for _, r := range recs {
		if r.Result == audit.ResultRefused {
			refused[r.Action+" "+r.Target] = r
		}
	}
	for _, want := range []string{runbook.AuditAction + " opsdeck restore database latest", runbook.AuditAction + " opsdeck backups prune", string(access.BackupPrune)} {
		var r audit.Record
		ok := false
		for k, v := range refused {
			if strings.HasPrefix(k, want) {
				r, ok = v, true
			}
		}
		if !ok {
			t.Errorf("no refusal of %q in the audit log: %+v", want, recs)
			continue
		}
		if r.SSH == nil || r.SSH.KeyFingerprint != fingerprint(operatorKey) || r.SSH.RemoteAddr != "127.0.0.1:40404" {
			t.Errorf("refusal of %q not recorded with the SSH identity: %+v", want, r)
		}
	}
}

// An admin runs a runbook command that changes things; it runs inside the
// server as the admin, and both the runbook record and the command's own
// record name the admin's key.
func TestAdminRunsARunbookCommandAsItself(t *testing.T) {
	requireServer(t)
	start := time.Now()
	tm := open(t, "ada", adminKey, 140, 40)
	tm.waitFor(t, "ada admin")
	findCommand(t, tm, "run opsdeck backups prune · enter asks first")
	tm.send("\r")
	tm.waitFor(t, "Run opsdeck backups prune?")
	tm.send("y")
	tm.waitFor(t, "$ opsdeck backups prune", "exit 0")
	var run, prune *audit.Record
	for _, r := range auditRecords(t, audit.Filter{Who: "ada"}) {
		if r.Start.Before(start) {
			continue
		}
		switch {
		case r.Action == runbook.AuditAction && r.Target == "opsdeck backups prune":
			run = &r
		case r.Action == string(access.BackupPrune):
			prune = &r
		}
	}
	for name, r := range map[string]*audit.Record{"runbook.run": run, "backup.prune": prune} {
		if r == nil {
			t.Errorf("no %s record by ada", name)
			continue
		}
		if r.SSH == nil || r.SSH.KeyFingerprint != fingerprint(adminKey) || r.Result != audit.ResultOK {
			t.Errorf("%s recorded as %+v", name, r)
		}
	}
}
