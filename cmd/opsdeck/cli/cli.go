// Package cli holds what every opsdeck command shares: the global flags, the
// loading of configuration and logging they imply, exit codes and output.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// Globals are the flags every command accepts.
type Globals struct {
	ConfigPath string
	Debug      bool
	ReadOnly   bool
}

// Register adds the global flags to a root command.
func (g *Globals) Register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&g.ConfigPath, "config", "c", "", "config file (default $OPSDECK_CONFIG, then $XDG_CONFIG_HOME/opsdeck/config.yaml, then ./opsdeck.yaml)")
	f.BoolVar(&g.Debug, "debug", false, "log debug detail to the log file under the state dir")
	f.BoolVar(&g.ReadOnly, "read-only", false, "hide and refuse every action that changes anything")
}

// Path is the config file to load: --config, else $OPSDECK_CONFIG, else ""
// (the default search).
func (g *Globals) Path() string {
	if g.ConfigPath != "" {
		return g.ConfigPath
	}
	return os.Getenv("OPSDECK_CONFIG")
}

// Load reads and validates the configuration, applies --read-only and starts
// logging to the state dir. The returned closer flushes the log.
func (g *Globals) Load() (*config.Config, *slog.Logger, io.Closer, error) {
	cfg, err := config.Load(g.Path())
	if err != nil {
		return nil, nil, nil, Exit(3, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, nil, Exit(3, err)
	}
	if g.ReadOnly {
		cfg.ReadOnly = true
	}
	log, closer, err := logging.Setup(cfg.StateDir, g.Debug)
	if err != nil {
		// Logging is a convenience; a read-only home must not stop a check.
		log, closer = logging.Discard(), io.NopCloser(nil)
	}
	UseLogger(log)
	return cfg, log, closer, nil
}

// UseLogger makes log the default logger and routes the libraries that would
// otherwise write to stderr (client-go, go-redis) to it.
func UseLogger(log *slog.Logger) {
	slog.SetDefault(log)
	kube.RouteLibraryLogs(log)
	redis.RouteLibraryLogs(log)
}

// ExitError carries the process exit code for an error.
type ExitError struct {
	Code int
	Err  error
	// Silent means the command already printed what the user needs.
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err with an exit code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// ExitSilently returns an error that sets the exit code without a message.
func ExitSilently(code int) error { return &ExitError{Code: code, Silent: true} }

// Code returns the exit code for an error returned by a command: its
// ExitError code, else 1.
func Code(err error) (code int, silent bool) {
	if err == nil {
		return 0, true
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code, e.Silent
	}
	return 1, false
}

// Output is the -o flag: text or json.
type Output string

// Register adds -o/--output to a command.
func (o *Output) Register(cmd *cobra.Command) {
	*o = "text"
	cmd.Flags().StringVarP((*string)(o), "output", "o", "text", "output format: text or json")
}

// Validate rejects an unknown output format.
func (o Output) Validate() error {
	if o != "text" && o != "json" {
		return Exit(3, fmt.Errorf("unknown output format %q: use -o text or -o json", string(o)))
	}
	return nil
}

// JSON reports whether JSON output was asked for.
func (o Output) JSON() bool { return o == "json" }

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// IsTerminal reports whether f is a terminal, for colour decisions.
func IsTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd())) // /dev/null is a character device, not a terminal
}
