package backups

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/job"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
)

// chooseKey handles the component chooser: up/down move, space toggles,
// enter starts the backup, esc cancels.
func (t *Tab) chooseKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch {
	case key.Matches(msg, k.Back):
		t.mode = modeList
	case key.Matches(msg, k.Up):
		t.cursor = (t.cursor + len(t.choices) - 1) % len(t.choices)
	case key.Matches(msg, k.Down):
		t.cursor = (t.cursor + 1) % len(t.choices)
	case key.Matches(msg, k.Backups.Toggle):
		t.choices[t.cursor] = !t.choices[t.cursor]
	case t.toggleComponent(msg):
	case key.Matches(msg, k.Backups.Start):
		var comps []string
		for i, on := range t.choices {
			if on {
				comps = append(comps, t.comps[i].Name())
			}
		}
		if len(comps) == 0 {
			return nil // nothing chosen: stay
		}
		t.mode = modeList
		return t.startBackup(comps)
	}
	return nil
}

// run starts an action in the background through tui/job: on the
// session's context, bounded by ActionTimeout, registered as a task every
// session of a server sees (and who started it). Its events come back as
// job.EventMsg[actionResult] in order, its end as job.DoneMsg[actionResult].
// Update never waits for it.
func (t *Tab) run(action string, do func(ctx context.Context, p progress.Func) (string, error)) tea.Cmd {
	t.running = action
	t.result = ""
	t.progress = tprogress.New(&t.c.Styles, action, t.c.Now)
	h, cmd := job.Start(t.c, job.Options{Task: action, Timeout: t.src.ActionTimeout}, func(ctx context.Context, p progress.Func) actionResult {
		line, err := do(ctx, p)
		return actionResult{action: action, line: line, err: err}
	})
	t.cancel = h.Cancel
	return cmd
}

func (t *Tab) startBackup(comps []string) tea.Cmd {
	eng := t.eng
	kind := "custom" // the components column says which
	if len(comps) == len(t.comps) {
		kind = "full"
	} else if len(comps) == 1 {
		kind = comps[0]
	}
	return t.run("backup "+kind, func(ctx context.Context, p progress.Func) (string, error) {
		res, err := eng.Backup(ctx, backup.Options{Kind: kind, Components: comps, Progress: p})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("backup %s committed and verified: %s in %s", res.Manifest.ID, progress.Bytes(res.Manifest.Size()), res.Took.Round(1e6)), nil
	})
}

func (t *Tab) startVerify(deep bool) tea.Cmd {
	row, ok := t.tbl.Selected()
	if !ok {
		return nil
	}
	eng, id := t.eng, row.Key
	name := "verify " + id
	if deep {
		name = "verify --deep " + id
	}
	return t.run(name, func(ctx context.Context, p progress.Func) (string, error) {
		res, err := eng.Verify(ctx, backup.VerifyOptions{IDs: []string{id}, Deep: deep, Progress: p})
		if err != nil && len(res) == 1 && len(res[0].Problems) > 0 {
			// Name the damaged files first; the details pane has the rest.
			return "", errors.New(strings.ReplaceAll(strings.Join(res[0].Problems, "; "), id+"/", ""))
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s is %s: %d file(s) match the manifest", id, res[0].State(), res[0].Files), nil
	})
}

// startPlan computes the prune plan (a dry run) to show before asking.
func (t *Tab) startPlan() tea.Cmd {
	t.running = "prune plan"
	t.result = ""
	eng, parent, timeout := t.eng, t.c.Context, t.src.ListTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		res, err := eng.Prune(ctx, backup.PruneOptions{DryRun: true})
		return planMsg{plan: res.Plan, err: err}
	}
}

func (t *Tab) startPrune() tea.Cmd {
	eng := t.eng
	return t.run("prune", func(ctx context.Context, p progress.Func) (string, error) {
		res, err := eng.Prune(ctx, backup.PruneOptions{Progress: p})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("pruned %d set(s), %d leftover(s); %s freed", len(res.Deleted), len(res.Plan.Leftovers), progress.Bytes(res.Freed)), nil
	})
}
