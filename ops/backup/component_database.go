package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/reach"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// databaseComponent is the PostgreSQL database as a pg_dump custom-format
// archive, with the row count of every table in the dump's snapshot.
type databaseComponent struct{}

func (databaseComponent) Name() string { return Database }

func (databaseComponent) About(*config.Config) string {
	return "pg_dump custom format, row counts per table"
}

func (databaseComponent) Chosen() bool { return true }

func (databaseComponent) Restorable() bool { return true }

func (databaseComponent) Backup(ctx context.Context, run *ComponentRun) error {
	cfg := run.Config()
	if !cfg.Postgres.Configured() {
		return errors.New("no PostgreSQL configured — set postgres.dsn (or DATABASE_URL / PGHOST…)")
	}
	tgt, err := reach.Postgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer tgt.Close()
	if v := tgt.Via(); v != "" {
		run.Emit(progress.Info, "connecting via "+v, 0, 0)
	}
	var total atomic.Int64
	dump := postgresDump{
		dsn: tgt.DSN, binDir: cfg.Backup.PgBinDir, run: run.Runner(), connect: cfg.Timeouts.Connect,
		onTable:    func(t string) { run.Emit(progress.Info, "dumping "+t, 0, 0) },
		onEstimate: func(n int64) { total.Store(n) },
	}
	var facts *PostgresFacts
	err = run.WriteFile(ctx, "database.dump", "pg_dump-custom", run.Advance(&total), func(w io.Writer) error {
		var err error
		facts, run.Record.Warnings, err = dump.dump(ctx, w)
		return tgt.Explain(err)
	})
	if err != nil {
		return err
	}
	run.Record.Postgres = facts
	return nil
}

// Check parses every block of the archive to its end, compares the rows
// of every table with the manifest's, then has pg_restore read the table
// of contents (a second, short read).
func (databaseComponent) Check(ctx context.Context, c *ContentCheck) error {
	counts, err := CountArchive(c.Content)
	if err != nil {
		return fmt.Errorf("the dump does not parse: %w", err)
	}
	if c.Record.Postgres != nil {
		if err := compareCounts(c.Record.Postgres.Tables, counts.Tables); err != nil {
			return err
		}
	}
	fr, err := c.Reopen(ctx)
	if err != nil {
		return err
	}
	defer fr.Close()
	bin := PgBin(c.Config().Backup.PgBinDir, "pg_restore")
	var list strings.Builder
	if err := c.Runner().Run(ctx, runner.Cmd{Path: bin, Args: []string{"--list"}, Stdin: fr, Stdout: &list, StderrLines: 8}); err != nil {
		return fmt.Errorf("pg_restore --list cannot read the dump: %w", err)
	}
	if !strings.Contains(list.String(), "TABLE DATA") {
		return errors.New("pg_restore --list shows no table data in the dump")
	}
	return nil
}

// compareCounts checks the rows found in a dump against the manifest's.
func compareCounts(want, got []TableCount) error {
	found := map[string]TableCount{}
	for _, t := range got {
		found[t.Schema+"."+t.Name] = t
	}
	var bad []string
	expected := map[string]bool{}
	for _, t := range want {
		expected[t.Schema+"."+t.Name] = true
	}
	for _, t := range got {
		if !expected[t.Schema+"."+t.Name] {
			bad = append(bad, t.Schema+"."+t.Name+" is in the dump, not in the manifest")
		}
	}
	for _, t := range want {
		g, ok := found[t.Schema+"."+t.Name]
		switch {
		case !ok:
			bad = append(bad, t.Schema+"."+t.Name+" is missing")
		case g.Rows != t.Rows:
			bad = append(bad, fmt.Sprintf("%s.%s has %d rows, the manifest says %d", t.Schema, t.Name, g.Rows, t.Rows))
		case t.Fingerprint != "" && g.Fingerprint != t.Fingerprint:
			bad = append(bad, fmt.Sprintf("the rows of %s.%s differ from the manifest's fingerprint", t.Schema, t.Name))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the dump does not match its manifest: %s", strings.Join(bad, "; "))
	}
	return nil
}
