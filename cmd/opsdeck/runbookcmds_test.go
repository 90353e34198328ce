package main

import (
	"strconv"
	"testing"

	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
)

// TestRunbookCommandsExist: every ```opsdeck line of the runbooks names a
// command opsdeck has, with flags it accepts and arguments it takes. A
// command whose top level is not built yet (the runbooks document it as its
// issue specifies) is only logged.
func TestRunbookCommandsExist(t *testing.T) {
	lib, err := runbook.Load(runbooks.FS, "", runbooks.Order)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, b := range lib.Books() {
		for _, line := range b.Commands {
			where := b.Name + ".md:" + strconv.Itoa(line.Line+1)
			c, err := runbook.ParseCommand(line.Text)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			root := rootCommand()
			root.InitDefaultCompletionCmd()
			root.InitDefaultVersionFlag()
			cmd, rest, err := root.Find(c.Args)
			if err != nil {
				t.Errorf("%s: %q: %v", where, line.Text, err)
				continue
			}
			cmd.InitDefaultHelpFlag()
			if p := c.Path(); cmd == root && len(p) > 0 {
				t.Logf("%s: %q: no `opsdeck %s` in this build yet", where, line.Text, p[0])
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s: %q: %v", where, line.Text, err)
				continue
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Errorf("%s: %q: %v", where, line.Text, err)
				continue
			}
			checked++
		}
	}
	if checked < 20 {
		t.Errorf("only %d runbook commands checked against the command tree", checked)
	}
}
