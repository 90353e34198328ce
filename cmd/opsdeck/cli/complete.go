package cli

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// CompletionTimeout bounds everything a completion reads (the
// configuration, the backup catalog): the shell waits on it, so a slow or
// unreachable store gives no set IDs rather than a hung prompt.
const CompletionTimeout = 2 * time.Second

// Latest is the set argument that names the newest set holding what is
// asked for.
const Latest = "latest"

// Words completes the first argument from words and nothing after it
// (no file names).
func Words(words ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return matching(words, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// FlagWords registers the completion of flag name's values from words on
// cmd (no file names).
func FlagWords(cmd *cobra.Command, name string, words ...string) {
	_ = cmd.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return matching(words, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
}

// CompleteSets completes backup set IDs from the configured store's
// catalog, newest first, each described by its components and start:
// up to max arguments (0: any number), never one already given. backups
// show and backups verify use it.
func (g *Globals) CompleteSets(max int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if max > 0 && len(args) >= max {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		sets := g.catalog(cmd)
		var out []cobra.Completion
		for _, s := range sets {
			if !slices.Contains(args, s.ID) && strings.HasPrefix(s.ID, toComplete) {
				out = append(out, describeSet(s))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteKindThenSet completes `KIND [ID|latest]`, as restore and drill
// take it: a kind from kinds, then "latest" and the sets a restore of that
// kind can read (oprestore.Candidates). A kind in noSet (restore's table,
// merge, recover) takes no set.
func (g *Globals) CompleteKindThenSet(kinds []string, noSet ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		switch {
		case len(args) == 0:
			return matching(kinds, toComplete), cobra.ShellCompDirectiveNoFileComp
		case len(args) > 1 || slices.Contains(noSet, args[0]) || !slices.Contains(kinds, args[0]):
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		out := matching([]string{Latest}, toComplete)
		for _, s := range oprestore.Candidates(g.catalog(cmd), args[0]) {
			if strings.HasPrefix(s.ID, toComplete) {
				out = append(out, describeSet(s))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// catalog reads the backup sets of the store the command would use: the
// configuration loaded as the command loads it (--config, the
// environment, the global flags), the catalog listed by backup.List. It
// never prompts, prints nothing, and gives up after CompletionTimeout;
// any failure (a broken configuration, an unreachable store) is no sets.
// A local store that does not exist yet is not created.
func (g *Globals) catalog(cmd *cobra.Command) []backup.Set {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, CompletionTimeout)
	defer cancel()
	done := make(chan []backup.Set, 1)
	go func() {
		sets, err := g.readCatalog(ctx)
		if err != nil {
			sets = nil
		}
		done <- sets
	}()
	select {
	case sets := <-done:
		return sets
	case <-ctx.Done():
		// Whatever ignores the context is left behind: the process ends
		// with the completion.
		return nil
	}
}

// readCatalog loads the configuration and lists its store.
func (g *Globals) readCatalog(ctx context.Context) ([]backup.Set, error) {
	cfg := g.preset
	if cfg == nil {
		var err error
		if cfg, err = g.readConfig(); err != nil {
			return nil, err
		}
	}
	if err := storeExists(cfg); err != nil {
		return nil, err
	}
	st, err := backup.OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	return backup.List(ctx, st)
}

// storeExists refuses a local store directory that is not there, which
// OpenStore would create.
func storeExists(cfg *config.Config) error {
	if cfg.Backup.S3.Bucket != "" {
		return nil
	}
	if cfg.Backup.Dir == "" {
		return errors.New("no backup store")
	}
	_, err := os.Stat(cfg.Backup.Dir)
	return err
}

// describeSet is a set's completion: its ID, and as the description its
// components and when it was taken.
func describeSet(s backup.Set) cobra.Completion {
	if s.Manifest == nil {
		return cobra.CompletionWithDesc(s.ID, "unreadable")
	}
	desc := strings.Join(s.Manifest.ComponentNames(), ",") + " · " + s.Manifest.Start.Local().Format("2006-01-02 15:04")
	return cobra.CompletionWithDesc(s.ID, desc)
}

// matching keeps the words that start with prefix.
func matching(words []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}
