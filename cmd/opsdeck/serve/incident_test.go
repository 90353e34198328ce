package serve_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/commands"
	"github.com/opsdeck/opsdeck/ops/access"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
)

// cli runs an opsdeck command line as ada (admin) on the sandbox's
// configuration, as another process on the bastion would.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx := access.WithIdentity(context.Background(), access.As("ada", access.Admin))
	var out, errw bytes.Buffer
	if code := commands.Execute(ctx, commands.Root(), append([]string{"--config", sb.ConfigPath}, args...), &out, &errw); code != 0 {
		t.Fatalf("opsdeck %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errw.String())
	}
	return out.String()
}

// An incident opened from the CLI shows in every session within 2 s; an
// operator notes on it from the Incident tab; a backup run meanwhile is on
// its timeline; closing it from the CLI takes the banner away.
func TestIncidentInEverySession(t *testing.T) {
	requireServer(t)
	viewer := open(t, "vic", viewerKey, 120, 30)
	operator := open(t, "olga", operatorKey, 80, 24)
	viewer.waitFor(t, "Pods")
	operator.waitFor(t, "Pods")

	start := time.Now()
	cli(t, "incident", "open", "P1", "API 5xx after deploy")
	deadline := start.Add(2 * time.Second)
	for _, tm := range []*term{viewer, operator} {
		for !strings.Contains(tm.screen(), "INCIDENT") {
			if time.Now().After(deadline) {
				t.Fatalf("no banner 2 s after the incident was opened:\n%s", tm.screen())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("banner in both sessions %v after the open", time.Since(start).Round(time.Millisecond))
	viewer.waitFor(t, "INCIDENT 1 · P1 · API 5xx after deploy", "by ada")

	cli(t, "backup", "redis")

	operator.send("8")
	operator.waitFor(t, "n add note")
	operator.send("n")
	operator.waitFor(t, "note:")
	operator.send("redis evicting keys\r")
	operator.waitFor(t, "noted on incident 1")
	// The timeline is rebuilt after the note: the backup's audit record is on it.
	operator.waitFor(t, "backup.create", "redis evicting keys")

	// A viewer reads the incident but may not note on it.
	viewer.send("8")
	viewer.waitFor(t, "olga")
	viewer.send("n")
	viewer.waitFor(t, "adding a note: needs operator")

	out := cli(t, "incident", "close", "--summary", "eviction after the deploy")
	if !strings.Contains(out, "postmortem skeleton:") {
		t.Fatalf("close said:\n%s", out)
	}
	// The banner ("… · by ada") goes from every session; the Incident tabs
	// say none is open.
	for _, tm := range []*term{viewer, operator} {
		deadline := time.Now().Add(3 * time.Second)
		for strings.Contains(tm.screen(), "· by ada") {
			if time.Now().After(deadline) {
				t.Fatalf("the banner stayed after closing:\n%s", tm.screen())
			}
			time.Sleep(50 * time.Millisecond)
		}
		tm.waitFor(t, "No incident is open")
	}
	inc, err := opincident.NewStore(sb.Config, nil).Get(access.WithIdentity(context.Background(), access.As("t", access.Viewer)), 1)
	if err != nil {
		t.Fatal(err)
	}
	var note *opincident.Entry
	for i, e := range inc.Entries {
		if e.Kind == opincident.KindNote {
			note = &inc.Entries[i]
		}
	}
	if note == nil || note.Who != "olga" || inc.ClosedBy != "ada" {
		t.Fatalf("incident %+v", inc)
	}
}
