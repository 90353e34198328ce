// Package version is `opsdeck version`: the binary's version, commit,
// build date, Go version and platform, as text or -o json.
package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/internal/version"
)

// Line is what `opsdeck --version` prints after "opsdeck version ".
func Line() string { return version.Get().Line() }

// schema is `opsdeck version -o json`: the version package names it.
var schema = cli.NewSchema[version.Info](version.Schema, "version")

// Command returns `opsdeck version`.
func Command(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print opsdeck's version, commit, build date, Go version and platform",
		Long: `Prints what this binary is: its version (git describe of the commit it was
built from, "-dirty" when the tree had changes), the commit, the commit's
date (release builds are reproducible, so the date is the commit's, not the
build's), the Go version and the platform. opsdeck --version prints the
same line. Backup manifests, restore reports and the audit log record the
version.`,
		Example: `  opsdeck version
  opsdeck version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			p := g.Printer(cmd, out)
			i := version.Get()
			return p.Result(schema, i, func() error {
				_, err := fmt.Fprintf(p.Out, "opsdeck version %s\n", i.Line())
				return err
			})
		},
	}
	out.Register(cmd)
	return cmd
}
