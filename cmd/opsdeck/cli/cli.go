// Package cli holds what every opsdeck command shares: the global flags, the
// loading of configuration and logging they imply, exit codes, and the one
// Printer every command prints its result and progress through.
package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/runbook"
)

// Commands builds what runs runbook commands inside this process for cfg,
// recording into log, the process's audit log. The command tree is built
// by main, above every command package, so it is handed down here.
type Commands func(cfg *config.Config, log *audit.Log) runbook.Executor

// Globals are the flags every command accepts, and the process's setup
// they lead to.
type Globals struct {
	ConfigPath string
	// Env is --env: the configuration's environment to act on (else
	// $OPSDECK_ENV; see EnvName).
	Env      string
	Debug    bool
	ReadOnly bool
	// Color is --color (color.go).
	Color ColorMode
	// Theme is --theme (theme.go): it wins over the configuration's theme.
	Theme ThemeFlag
	// Kubeconfig, KubeContext and Namespace are kubectl's global flags:
	// they win over the configuration's kubernetes section.
	Kubeconfig, KubeContext, Namespace string
	// Commands runs runbook commands for the cockpit (nil: they can be
	// read, not run).
	Commands Commands

	// preset is the configuration of a command run inside a session
	// (a runbook's command): it is used instead of reading a file.
	preset *config.Config

	auditOnce sync.Once
	audit     *audit.Log
	// ownAudit says this command opened the audit log and closes it.
	ownAudit bool
}

// InProcess returns the globals of a command run inside this process for a
// session whose configuration is cfg and audit log is log (the process's
// one): no file is read, logging stays as the process set it up, no signal
// is caught and no terminal is assumed.
func InProcess(cfg *config.Config, log *audit.Log) *Globals {
	g := &Globals{preset: cfg, audit: log}
	g.auditOnce.Do(func() {})
	return g
}

// Audit returns the process's audit log for cfg, opened on first use (with
// every secret of cfg registered) and closed by the closer Load returned.
// A log that cannot be opened refuses writes with the reason.
func (g *Globals) Audit(cfg *config.Config) *audit.Log {
	g.auditOnce.Do(func() {
		g.audit, g.ownAudit = cfg.OpenAudit(), true
	})
	return g.audit
}

// IsInProcess reports whether the command runs inside a session.
func (g *Globals) IsInProcess() bool { return g.preset != nil }

// SignalContext returns ctx cancelled by the signals sigs, as
// signal.NotifyContext does; inside a session the signals are the host
// process's, so only ctx's own end counts.
func (g *Globals) SignalContext(ctx context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	if g.IsInProcess() {
		return context.WithCancel(ctx)
	}
	return signal.NotifyContext(ctx, sigs...)
}

// IsTerminal reports whether f is a terminal the command may use: never
// inside a session, whose terminal is not this process's.
func (g *Globals) IsTerminal(f *os.File) bool {
	return !g.IsInProcess() && IsTerminal(f)
}

// Register adds the global flags to a root command.
func (g *Globals) Register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&g.ConfigPath, "config", "c", "", "config file (default $OPSDECK_CONFIG, then $XDG_CONFIG_HOME/opsdeck/config.yaml, then ./opsdeck.yaml)")
	f.StringVar(&g.Env, "env", "", "the configuration's environment to act on (default $OPSDECK_ENV, then the one named default)")
	f.BoolVar(&g.Debug, "debug", false, "log debug detail to the log file under the state dir")
	f.BoolVar(&g.ReadOnly, "read-only", false, "hide and refuse every action that changes anything")
	f.Var(&g.Color, "color", "colour the output: auto (a terminal, unless NO_COLOR is set), always or never")
	f.Var(&g.Theme, "theme", "the cockpit's palette: auto (the terminal's background; dark when it does not say), dark or light (wins over theme)")
	f.StringVar(&g.Kubeconfig, "kubeconfig", "", "kubeconfig file (wins over kubernetes.kubeconfig, then $KUBECONFIG)")
	f.StringVar(&g.KubeContext, "context", "", "kubeconfig context (wins over kubernetes.context)")
	f.StringVarP(&g.Namespace, "namespace", "n", "", "the one namespace to watch and act in (wins over kubernetes.namespaces)")
	FlagWords(cmd, "color", string(ColorAuto), string(ColorAlways), string(ColorNever))
	_ = cmd.RegisterFlagCompletionFunc("env", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := config.Load(g.Path())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return matching(cfg.EnvNames(), toComplete), cobra.ShellCompDirectiveNoFileComp
	})
}

// ApplyFlags lets kubectl's global flags and --theme win over the
// configuration.
func (g *Globals) ApplyFlags(cfg *config.Config) {
	if g.Theme != "" {
		cfg.Theme = string(g.Theme)
	}
	if g.Kubeconfig != "" {
		cfg.Kubernetes.Kubeconfig = g.Kubeconfig
	}
	if g.KubeContext != "" {
		cfg.Kubernetes.Context = g.KubeContext
	}
	if g.Namespace != "" {
		cfg.Kubernetes.Namespaces = []string{g.Namespace}
	}
}

// Path is the config file to load: --config, else $OPSDECK_CONFIG, else ""
// (the default search).
func (g *Globals) Path() string {
	if g.ConfigPath != "" {
		return g.ConfigPath
	}
	return os.Getenv("OPSDECK_CONFIG")
}

// EnvName is the environment chosen: --env, else $OPSDECK_ENV, else ""
// (the configuration's default: see config.Config.ForEnv).
func (g *Globals) EnvName() string {
	if g.Env != "" {
		return g.Env
	}
	return os.Getenv("OPSDECK_ENV")
}

// Load reads and validates the configuration, picks the chosen
// environment's, applies --read-only and starts logging to the state dir.
// The returned closer flushes the log.
func (g *Globals) Load() (*config.Config, *slog.Logger, io.Closer, error) {
	if g.preset != nil {
		cfg := *g.preset
		cfg.ReadOnly = cfg.ReadOnly || g.ReadOnly
		return &cfg, slog.Default(), io.NopCloser(nil), nil
	}
	cfg, err := g.readConfig()
	if err != nil {
		return nil, nil, nil, Exit(3, err)
	}
	if g.ReadOnly {
		cfg.ReadOnly = true
	}
	log, closer, err := logging.Setup(cfg.StateDir, g.Debug, cfg.Secrets()...)
	if err != nil {
		// Logging is a convenience; a read-only home must not stop a check.
		log, closer = logging.Discard(), io.NopCloser(nil)
	}
	UseLogger(log)
	return cfg, log, closeAll{closer, g.closeAudit}, nil
}

// readConfig reads the configuration file (--config, $OPSDECK_CONFIG or
// the search path) with the environment, validates it (every environment
// it names), picks the chosen environment's (EnvName), lets kubectl's
// global flags win and validates the result: what every command runs on,
// and what shell completion reads the backup catalog with (complete.go).
func (g *Globals) readConfig() (*config.Config, error) {
	top, err := config.Load(g.Path())
	if err != nil {
		return nil, err
	}
	if err := top.Validate(); err != nil {
		return nil, err
	}
	cfg, err := top.ForEnv(g.EnvName())
	if err != nil {
		return nil, err
	}
	g.ApplyFlags(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// closeAudit closes the audit log when this command opened it.
func (g *Globals) closeAudit() error {
	if g.ownAudit {
		return g.audit.Close()
	}
	return nil
}

// closeAll closes the log file, then runs more.
type closeAll struct {
	io.Closer
	more func() error
}

func (c closeAll) Close() error { return errors.Join(c.more(), c.Closer.Close()) }

// UseLogger makes log the default logger and routes the libraries that would
// otherwise write to stderr (client-go, go-redis) to it.
func UseLogger(log *slog.Logger) {
	slog.SetDefault(log)
	kube.RouteLibraryLogs(log)
	redis.RouteLibraryLogs(log)
}

// IsTerminal reports whether f is a terminal, for colour decisions.
func IsTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd())) // /dev/null is a character device, not a terminal
}
