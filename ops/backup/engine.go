package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"filippo.io/age"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// Engine runs backups, verifies and prunes against one store with one
// configuration. Build it with New; the CLI and the cockpit share it.
type Engine struct {
	Config *config.Config
	Store  Store
	// Runner runs pg_dump and pg_restore (default runner.Exec{}).
	Runner runner.Runner
	// Audit records every action (nil: not recorded).
	Audit *audit.Log
	// Version is opsdeck's version, written into manifests.
	Version string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Kube builds the Kubernetes client (default: from the config).
	Kube func() (*kube.Client, error)
	// HTTPTimeout bounds the webhook call (default 10s).
	HTTPTimeout time.Duration

	auditErr error
}

// New returns an Engine for cfg: the store it names, the real runner, and
// log, the process's audit log (config.OpenAudit). When log cannot be
// written, listing still works and every action refuses to run.
func New(cfg *config.Config, version string, log *audit.Log) (*Engine, error) {
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{Config: cfg, Store: st, Version: version}
	if e.auditErr = log.Err(); e.auditErr == nil {
		e.Audit = log
	}
	return e, nil
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) runner() runner.Runner {
	if e.Runner != nil {
		return e.Runner
	}
	return runner.Exec{}
}

// KubeClient builds the Kubernetes client (Engine.Kube, else from the config).
func (e *Engine) KubeClient() (*kube.Client, error) {
	if e.Kube != nil {
		return e.Kube()
	}
	return kube.NewClient(e.Config.Kubernetes, e.Config.Timeouts.Check)
}

// codec returns the configured compression and encryption.
func (e *Engine) codec() (Codec, error) {
	b := e.Config.Backup
	c := Codec{Level: b.CompressionLevel}
	if c.Level == 0 {
		c.Level = config.DefaultCompressionLevel
	}
	if b.Encryption.Enabled() {
		rs, err := ParseRecipients(b.Encryption.Recipients, b.Encryption.RecipientsFile)
		if err != nil {
			return c, err
		}
		c.Recipients = rs
	}
	return c, nil
}

// Identities returns the configured age identities, nil when none is set.
func (e *Engine) Identities() ([]age.Identity, error) {
	if e.Config.Backup.Encryption.IdentityFile == "" {
		return nil, nil
	}
	return ParseIdentities(e.Config.Backup.Encryption.IdentityFile)
}

// Refuse records and returns the refusal of an action the session of ctx
// may not run: read-only mode, or a role below the action's (a forged
// request from a viewer's SSH session ends here). An action that cannot be
// audited is refused too.
func (e *Engine) Refuse(ctx context.Context, action access.Action, target string) error {
	if e.auditErr != nil {
		return fmt.Errorf("%s refused: the audit log cannot be written: %w", action, e.auditErr)
	}
	err := access.Check(ctx, e.Config.Env(), action)
	if err == nil {
		return nil
	}
	if aerr := e.AuditLog(ctx).Refuse(string(action), target, err); aerr != nil {
		slog.Warn("audit write failed", logging.Err(aerr))
	}
	return err
}

// AuditLog is the audit log as the session of ctx writes it: with its SSH
// identity when served, the local user otherwise.
func (e *Engine) AuditLog(ctx context.Context) *audit.Log { return access.Audit(ctx, e.Audit) }

// LockStore takes the store to itself (LockExclusive) for action in the
// name of ctx's session: prune, and a restore for its whole run.
func (e *Engine) LockStore(ctx context.Context, action string) (*Lock, error) {
	return e.LockStoreFor(ctx, LockExclusive, action)
}

// LockStoreFor takes the store lock in use (see LockUse) for action in the
// name of ctx's session.
func (e *Engine) LockStoreFor(ctx context.Context, use LockUse, action string) (*Lock, error) {
	who := audit.CurrentUser()
	if id, ok := access.FromContext(ctx); ok {
		who = id.String()
	}
	return AcquireLockFor(e.Store, use, action, who)
}

// endAudit ends an audit entry, logging an audit failure.
func endAudit(entry *audit.Entry, err error) {
	if aerr := entry.End(err); aerr != nil {
		slog.Warn("audit write failed", logging.Err(aerr))
	}
}

// CleanLeftovers removes the files of runs that never committed (killed,
// crashed). The caller must hold the store lock in LockBackup or
// LockExclusive use (see the lock model in lock.go): no other backup is
// staging a set, and readers only read committed ones.
func (e *Engine) CleanLeftovers(ctx context.Context) ([]string, error) {
	_, leftovers, err := e.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, id := range leftovers {
		if err := e.Store.Delete(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return leftovers, errors.Join(errs...)
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// emitFail reports a failed step.
func emitFail(p progress.Func, op, step string, err error) {
	p.Emit(progress.Event{Kind: progress.Fail, Op: op, Step: step, Err: err.Error()})
}

// SetComponents lists the components this engine can take into a set, in
// the order a full backup takes them (the cockpit's chooser lists them).
func (e *Engine) SetComponents() []SetComponent { return SetComponents() }
