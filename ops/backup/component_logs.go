package backup

import (
	"archive/tar"
	"context"
	"io"
	"strings"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// logsComponent is the recent log of every container of the watched
// namespaces, one file each in a tar. It is kept for the record and is not
// restored; the cockpit leaves it unchosen.
type logsComponent struct{}

func (logsComponent) Name() string { return Logs }

func (logsComponent) About(cfg *config.Config) string {
	w := config.DefaultLogsWindow
	if cfg != nil && cfg.Backup.LogsWindow > 0 {
		w = cfg.Backup.LogsWindow
	}
	return "the last " + shortDuration(w.String()) + " of every container"
}

func (logsComponent) Chosen() bool { return false }

func (logsComponent) Restorable() bool { return false }

func (logsComponent) Backup(ctx context.Context, run *ComponentRun) error {
	e := run.Engine()
	client, err := e.KubeClient()
	if err != nil {
		return err
	}
	var facts *LogsFacts
	var warnings []string
	err = run.WriteFile(ctx, "logs.tar", "tar", nil, func(w io.Writer) error {
		var err error
		facts, warnings, err = kubeLogsDump{client: client, window: e.Config.Backup.LogsWindow, at: e.now(), limit: 32 << 20, parallel: 4,
			onPod: func(n, total int) { run.Emit(progress.Advance, "", int64(n), int64(total)) }}.dump(ctx, w)
		return err
	})
	run.Record.Warnings = summarizeWarnings(warnings, 5)
	if err != nil {
		return err
	}
	run.Record.Logs = facts
	return nil
}

// Check reads the tar to its end.
func (logsComponent) Check(_ context.Context, c *ContentCheck) error {
	return eachTarFile(c.Content, func(*tar.Header, io.Reader) error { return nil })
}

// shortDuration drops a duration's zero tail: "24h0m0s" is "24h".
func shortDuration(s string) string {
	return strings.TrimSuffix(strings.TrimSuffix(s, "0s"), "0m")
}
