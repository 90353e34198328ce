// Package access decides who may do what. A session has an Identity (the
// local user, or an SSH key with a role); every action that changes anything
// names itself and is checked here, in ops, whatever the UI offered — so a
// forged action from a viewer session is refused as surely as a hidden one.
package access

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	DrillRun       Action = "drill.run"
	MaintainRun    Action = "maintain.run"
	MaintainCancel Action = "maintain.cancel"
	MaintainClean  Action = "maintain.cleanup"
	SilenceCreate  Action = "alertmanager.silence.create"
	SilenceExpire  Action = "alertmanager.silence.expire"
	RunbookCommand Action = "runbook.run"
	WALStream      Action = "wal.stream"
	IncidentOpen   Action = "incident.open"
	IncidentNote   Action = "incident.note"
	// IncidentClose closes an incident the session opened; closing
	// someone else's is IncidentCloseAny.
	IncidentClose    Action = "incident.close"
	IncidentCloseAny Action = "incident.close.any"
	// IncidentBundle writes an incident's diagnostic bundle: it changes
	// nothing it reads, but gathers every system's logs and state into one
	// file, so it is an operator's (viewers read the incident).
	IncidentBundle Action = "incident.bundle"
)

// needs maps actions to the least role that may run them. An action not
// listed needs Admin: a new action is safe until someone says otherwise.
var needs = map[Action]Role{
	BackupRun:        Operator,
	BackupVerify:     Operator,
	MaintainRun:      Operator,
	MaintainCancel:   Operator,
	SilenceCreate:    Operator,
	SilenceExpire:    Operator,
	RunbookCommand:   Operator,
	WALStream:        Operator,
	DrillRun:         Operator,
	IncidentOpen:     Operator,
	IncidentNote:     Operator,
	IncidentClose:    Operator,
	BackupPrune:      Admin,
	MaintainClean:    Admin,
	RestoreRun:       Admin,
	IncidentCloseAny: Admin,
	IncidentBundle:   Operator,
}

// Needs returns the least role that may run a.
func Needs(a Action) Role {
	if r, ok := needs[a]; ok {
		return r
	}
	return Admin
}

// DefaultEnv is the name of the one environment a configuration without
// environments describes.
const DefaultEnv = "default"

// AllEnvs, as a key of Identity.Roles, gives a role in every environment
// that has no entry of its own.
const AllEnvs = "*"

// Env is the environment an action runs in, as far as access is concerned:
// its name (the identity's role is looked up by it) and whether it is
// read-only (read_only in its configuration, or --read-only).
type Env struct {
	Name     string
	ReadOnly bool
}

// Identity is who a session acts as: a person at this terminal, an SSH key
// of `opsdeck serve`, or work a server starts by itself (System).
type Identity struct {
	// User is the SSH user, the local user ($SUDO_USER, else $USER), or
	// "system:<name>".
	User string
	// Roles gives the role per environment name; AllEnvs covers the
	// environments not named. An environment with no role allows nothing.
	Roles map[string]Role
	// SSH is set for sessions of `opsdeck serve`.
	SSH *audit.SSH
}

// As returns the identity of user with role in every environment.
func As(user string, role Role) Identity {
	return Identity{User: user, Roles: map[string]Role{AllEnvs: role}}
}

// Local returns the identity of the person at this terminal: admin unless
// readOnly, in which case viewer. Only the local CLI and the local cockpit
// attach it, once, where they start.
func Local(readOnly bool) Identity {
	role := Admin
	if readOnly {
		role = Viewer
	}
	return As(audit.CurrentUser(), role)
}

// System returns the identity of work a process starts by itself (a
// schedule of `opsdeck serve`, a streamer): named, audited as
// "system:<name>", with exactly the role given — nothing is admin by default.
func System(name string, role Role) Identity {
	return As("system:"+name, role)
}

// RoleIn returns the identity's role in environment env, and false when it
// has none there.
func (id Identity) RoleIn(env string) (Role, bool) {
	if r, ok := id.Roles[env]; ok {
		return r, true
	}
	r, ok := id.Roles[AllEnvs]
	return r, ok
}

// Role returns the identity's role in the default environment (Viewer when
// it has none): what the status bar shows.
func (id Identity) Role() Role {
	r, _ := id.RoleIn(DefaultEnv)
	return r
}

// Can reports whether the identity may run a in environment env.
func (id Identity) Can(env string, a Action) bool {
	r, ok := id.RoleIn(env)
	return ok && r >= Needs(a)
}

// Known reports whether the identity names someone: the zero Identity is
// nobody, and is refused everything.
func (id Identity) Known() bool { return id.User != "" }

// String describes the identity for messages: "alice (operator, SSH key SHA256:…)".
func (id Identity) String() string {
	if !id.Known() {
		return "nobody"
	}
	if id.SSH != nil && id.SSH.KeyFingerprint != "" {
		return fmt.Sprintf("%s (%s, SSH key %s)", id.User, id.RolesString(), id.SSH.KeyFingerprint)
	}
	return fmt.Sprintf("%s (%s)", id.User, id.RolesString())
}

// RolesString describes the identity's roles as the authorized keys file
// writes them: "operator" (every environment), "admin@staging,
// viewer@prod", "viewer, admin@staging"; "no role" when it has none.
func (id Identity) RolesString() string {
	var all string
	var scoped []string
	for env, r := range id.Roles {
		if env == AllEnvs {
			all = r.String()
			continue
		}
		scoped = append(scoped, r.String()+"@"+env)
	}
	sort.Strings(scoped)
	if all != "" {
		scoped = append([]string{all}, scoped...)
	}
	if len(scoped) == 0 {
		return "no role"
	}
	return strings.Join(scoped, ", ")
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id. It replaces an identity ctx already
// carries: a server's sessions derive from the server's context.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity ctx carries, and whether it carries one.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok && id.Known()
}

// Who names the session of ctx for records and messages: its identity's
// String, or "nobody (no identity)" when it carries none.
func Who(ctx context.Context) string {
	if id, ok := FromContext(ctx); ok {
		return id.String()
	}
	return "nobody (no identity)"
}

// ErrReadOnly is the reason an action is refused in read-only mode.
var ErrReadOnly = audit.ErrReadOnly

// ErrForbidden is the reason an action is refused to a role.
var ErrForbidden = errors.New("not allowed for this role")

// ErrNoIdentity is the reason an action is refused when nobody is known to
// have asked for it.
var ErrNoIdentity = errors.New("no identity")

// Check returns nil when the session of ctx may run a in env: env is not
// read-only, and ctx carries an identity whose role there is at least
// Needs(a). It fails closed: a context without an identity is refused. The
// error says what was refused and why, and wraps ErrReadOnly, ErrForbidden
// or ErrNoIdentity.
func Check(ctx context.Context, env Env, a Action) error {
	if env.ReadOnly {
		return fmt.Errorf("%s refused: opsdeck runs read-only (--read-only or read_only in the config): %w", a, ErrReadOnly)
	}
	id, ok := FromContext(ctx)
	if !ok {
		return fmt.Errorf("%s refused: the request carries no identity, so opsdeck cannot tell who asked — it acts only for the local user, an SSH key of opsdeck serve or a named system job (this is a bug in opsdeck: report it): %w",
			a, ErrNoIdentity)
	}
	r, ok := id.RoleIn(env.Name)
	if !ok {
		return fmt.Errorf("%s refused: %s has no role in environment %q — ask an admin to add one to the key in the authorized keys file: %w",
			a, id, env.Name, ErrForbidden)
	}
	if r < Needs(a) {
		return fmt.Errorf("%s refused: %s may not run it, it needs the %s role — ask an admin to change the key's role in the authorized keys file: %w",
			a, id, Needs(a), ErrForbidden)
	}
	return nil
}

// Audit returns the view of log that records ctx's identity: the SSH user,
// key and address for a served session, the local user or system job
// otherwise, and "nobody" for a context without one (whose actions Check
// refuses; the refusal is recorded under that name).
func Audit(ctx context.Context, log *audit.Log) *audit.Log {
	if log == nil {
		return nil
	}
	id, ok := FromContext(ctx)
	if !ok {
		return log.WithWho("nobody (no identity)")
	}
	if id.SSH != nil {
		return log.WithSSH(*id.SSH).WithWho(id.User)
	}
	return log.WithWho(id.User)
}
