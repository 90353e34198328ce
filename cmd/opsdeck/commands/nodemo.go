//go:build nodemo

package commands

import (
	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
)

// addDemo adds nothing in a release build (-tags nodemo): `opsdeck demo`
// and its sandbox are built from source (make demo).
func addDemo(*cobra.Command, *cli.Globals) {}
