//go:build ignore

// gendocs writes opsdeck's man pages and shell completions for a release
// (scripts/release.sh), from the command tree itself:
//
//	go run -tags nodemo scripts/gendocs.go -out DIR -version V -date EPOCH
//
// DIR/man/man1/*.1 and DIR/completions/{opsdeck.bash,_opsdeck,opsdeck.fish}.
// The man pages' date is EPOCH (SOURCE_DATE_EPOCH), so two runs on one
// commit write the same bytes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/commands"
)

func main() {
	out := flag.String("out", "", "directory to write man/ and completions/ into")
	ver := flag.String("version", "dev", "version named in the man pages' footer")
	epoch := flag.Int64("date", 0, "the man pages' date, seconds since 1970 (SOURCE_DATE_EPOCH)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gendocs: -out is required")
		os.Exit(2)
	}
	if err := run(*out, *ver, time.Unix(*epoch, 0).UTC()); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(out, ver string, date time.Time) error {
	root := commands.Root()
	root.InitDefaultCompletionCmd()
	var noTag func(*cobra.Command)
	noTag = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		for _, s := range c.Commands() {
			noTag(s)
		}
	}
	noTag(root)
	man := filepath.Join(out, "man", "man1")
	comp := filepath.Join(out, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	hdr := &doc.GenManHeader{Title: "OPSDECK", Section: "1", Source: "opsdeck " + ver, Manual: "opsdeck manual", Date: &date}
	if err := doc.GenManTree(root, hdr, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	for name, gen := range map[string]func(string) error{
		"opsdeck.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
		"_opsdeck":     root.GenZshCompletionFile,
		"opsdeck.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
	} {
		if err := gen(filepath.Join(comp, name)); err != nil {
			return fmt.Errorf("completion %s: %w", name, err)
		}
	}
	return nil
}
