//go:build !nodemo

package commands

import (
	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/demo"
)

// addDemo adds `opsdeck demo`. Release builds leave it out (-tags nodemo):
// the sandbox starts servers from a development machine's packages and is
// no tool for a production host.
func addDemo(root *cobra.Command, g *cli.Globals) { root.AddCommand(demo.Command(g)) }
