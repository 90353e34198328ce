// Package serve is `opsdeck serve`: the cockpit over SSH for a team on a
// bastion host. Each authorized key has a role (viewer, operator, admin);
// every session shares one set of data sources; every action is audited
// with the SSH identity.
package serve

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/access"
)

// Command returns `opsdeck serve`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		opts     Options
		keysPath string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the cockpit over SSH, with roles per key and an audit trail",
		Long: `Serves the cockpit to SSH clients: one session per connection, sized to the
client's terminal, all sessions sharing one set of samplers and informers.

The authorized keys file is OpenSSH's format with a role on each line:

  role=admin    ssh-ed25519 AAAAC3Nza... alice@laptop
  role=operator ssh-ed25519 AAAAC3Nza... bob@desk
  role=viewer   ssh-rsa     AAAAB3Nza... oncall
  role=admin@staging,operator@prod ssh-ed25519 AAAAC3Nza... carol@desk

viewer sees everything and changes nothing; operator adds backups, verify,
maintenance and silences; admin adds restore and prune. A role without @ENV
holds in every environment the line does not name; role@env holds in that
environment of the configuration only, and none elsewhere. Unknown keys are
refused, and so is a session without a terminal (ssh -t).`,
		Example: `  opsdeck serve --listen :2222 --host-key /var/lib/opsdeck/host_ed25519 --authorized-keys /etc/opsdeck/authorized_keys
  ssh -p 2222 -t bastion`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keysPath == "" {
				return cli.Exit(3, fmt.Errorf("--authorized-keys is required: a file of lines like `role=viewer ssh-ed25519 AAAA… name`"))
			}
			if opts.HostKeyPath == "" {
				return cli.Exit(3, fmt.Errorf("--host-key is required: the server's private key (created when missing)"))
			}
			keys, err := access.LoadKeys(keysPath)
			if err != nil {
				return cli.Exit(3, err)
			}
			cfg, log, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			opts.Keys, opts.Log, opts.Commands = keys, log, g.Commands

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := New(ctx, cfg, opts)
			if err != nil {
				return err
			}
			ln, err := srv.Listen()
			if err != nil {
				srv.src.Close()
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "opsdeck: serving the cockpit on %s to %d keys (at most %d sessions, idle timeout %s); Ctrl-C stops\n",
				ln.Addr(), keys.Len(), opts.MaxSessions, opts.IdleTimeout)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				_ = srv.Shutdown(context.Background())
				return err
			case <-ctx.Done():
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "opsdeck: closing sessions…")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", ":2222", "address to listen on")
	f.StringVar(&opts.HostKeyPath, "host-key", "", "the server's SSH host key (an ed25519 key is created there when missing)")
	f.StringVar(&keysPath, "authorized-keys", "", "authorized keys with a role on each line (role=viewer|operator|admin, or per environment: role=admin@staging,viewer@prod)")
	f.IntVar(&opts.MaxSessions, "max-sessions", 20, "sessions served at once; more are refused with a message")
	f.DurationVar(&opts.IdleTimeout, "idle-timeout", 30*time.Minute, "close a session after this long without a key press")
	return cmd
}
