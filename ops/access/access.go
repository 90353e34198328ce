// Package access decides who may do what. A session has an Identity (the
// local user, or an SSH key with a role); every action that changes anything
// names itself and is checked here, in ops, whatever the UI offered — so a
// forged action from a viewer session is refused as surely as a hidden one.
package access

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opsdeck/opsdeck/ops/audit"
)

// Role is what a session may do. Roles are ordered: each adds to the one
// before it.
type Role int

// The roles, from least to most.
const (
	// Viewer sees everything and changes nothing.
	Viewer Role = iota
	// Operator adds backups, verification, maintenance and silences.
	Operator
	// Admin adds restores and prunes.
	Admin
)

var roleNames = [...]string{Viewer: "viewer", Operator: "operator", Admin: "admin"}

// String returns "viewer", "operator" or "admin".
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if strings.EqualFold(n, s) {
			return Role(i), nil
		}
	}
	return Viewer, fmt.Errorf("unknown role %q: use viewer, operator or admin", s)
}

// Action names something that changes state. Its first dotted part is the
// area ("backup.run"); the audit log records the same name.
type Action string

// The actions opsdeck knows, with the role each needs (see Needs).
const (
	BackupRun      Action = "backup.create"
	BackupVerify   Action = "backup.verify"
	BackupPrune    Action = "backup.prune"
	RestoreRun     Action = "restore.run"
	MaintainRun    Action = "maintain.run"
	MaintainCancel Action = "maintain.cancel"
	MaintainClean  Action = "maintain.cleanup"
	SilenceCreate  Action = "alertmanager.silence.create"
	SilenceExpire  Action = "alertmanager.silence.expire"
	RunbookCommand Action = "runbook.run"
)

// needs maps actions to the least role that may run them. An action not
// listed needs Admin: a new action is safe until someone says otherwise.
var needs = map[Action]Role{
	BackupRun:      Operator,
	BackupVerify:   Operator,
	MaintainRun:    Operator,
	MaintainCancel: Operator,
	SilenceCreate:  Operator,
	SilenceExpire:  Operator,
	RunbookCommand: Operator,
	BackupPrune:    Admin,
	MaintainClean:  Admin,
	RestoreRun:     Admin,
}

// Needs returns the least role that may run a.
func Needs(a Action) Role {
	if r, ok := needs[a]; ok {
		return r
	}
	return Admin
}

// Identity is who a session acts as.
type Identity struct {
	// User is the SSH user, or the local user ($SUDO_USER, else $USER).
	User string
	Role Role
	// SSH is set for sessions of `opsdeck serve`.
	SSH *audit.SSH
}

// Local returns the identity of the person at this terminal: admin unless
// readOnly, in which case viewer.
func Local(readOnly bool) Identity {
	id := Identity{User: audit.CurrentUser(), Role: Admin}
	if readOnly {
		id.Role = Viewer
	}
	return id
}

// Can reports whether the identity may run a.
func (id Identity) Can(a Action) bool { return id.Role >= Needs(a) }

// String describes the identity for messages: "alice (operator, SSH key SHA256:…)".
func (id Identity) String() string {
	if id.SSH != nil && id.SSH.KeyFingerprint != "" {
		return fmt.Sprintf("%s (%s, SSH key %s)", id.User, id.Role, id.SSH.KeyFingerprint)
	}
	return fmt.Sprintf("%s (%s)", id.User, id.Role)
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity ctx carries, and whether it carries one.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// ErrReadOnly is the reason an action is refused in read-only mode.
var ErrReadOnly = audit.ErrReadOnly

// ErrForbidden is the reason an action is refused to a role.
var ErrForbidden = errors.New("not allowed for this role")

// Check returns nil when the session of ctx may run a: not in read-only mode,
// and with a role at least Needs(a). A context without an identity is the
// local user. The error says what was refused and why, and wraps ErrReadOnly
// or ErrForbidden.
func Check(ctx context.Context, readOnly bool, a Action) error {
	if readOnly {
		return fmt.Errorf("%s refused: opsdeck runs read-only (--read-only or read_only in the config): %w", a, ErrReadOnly)
	}
	id, ok := FromContext(ctx)
	if !ok {
		id = Local(false)
	}
	if !id.Can(a) {
		return fmt.Errorf("%s refused: %s may not run it, it needs the %s role — ask an admin to change the key's role in the authorized keys file: %w",
			a, id, Needs(a), ErrForbidden)
	}
	return nil
}

// Audit returns the view of log that records ctx's identity: the SSH user,
// key and address for a served session, the local user otherwise.
func Audit(ctx context.Context, log *audit.Log) *audit.Log {
	id, ok := FromContext(ctx)
	if !ok || log == nil {
		return log
	}
	if id.SSH != nil {
		return log.WithSSH(*id.SSH).WithWho(id.User)
	}
	return log.WithWho(id.User)
}
