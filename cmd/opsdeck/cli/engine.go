package cli

import (
	"context"
	"os"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/internal/version"
	"github.com/opsdeck/opsdeck/ops/backup"
)

// BackupEngine validates -o, loads the configuration and the backup
// engine, and returns a context that Ctrl-C or SIGTERM cancels; done
// releases all of it. The backups and wal commands start with it.
func (g *Globals) BackupEngine(cmd *cobra.Command, out Output) (eng *backup.Engine, ctx context.Context, done func(), err error) {
	if err := out.Validate(); err != nil {
		return nil, nil, nil, err
	}
	cfg, _, closer, err := g.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	if eng, err = backup.New(cfg, version.String(), g.Audit(cfg)); err != nil {
		closer.Close()
		return nil, nil, nil, Exit(CodeUsage, err)
	}
	ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	return eng, ctx, func() { stop(); closer.Close() }, nil
}
