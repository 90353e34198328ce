package access_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
)

func TestCheck(t *testing.T) {
	vic := access.As("vic", access.Viewer)
	vic.SSH = &audit.SSH{User: "vic", KeyFingerprint: "SHA256:abc"}
	viewer := access.WithIdentity(context.Background(), vic)
	operator := access.WithIdentity(context.Background(), access.As("olga", access.Operator))
	admin := access.WithIdentity(context.Background(), access.As("ada", access.Admin))
	local := access.WithIdentity(context.Background(), access.Local(false))
	stagingOnly := access.WithIdentity(context.Background(), access.Identity{User: "sam", Roles: map[string]access.Role{"staging": access.Admin}})
	system := access.WithIdentity(context.Background(), access.System("schedule", access.Operator))
	bare := context.Background()
	nobody := access.WithIdentity(context.Background(), access.Identity{})
	def := access.Env{Name: access.DefaultEnv}
	ro := access.Env{Name: access.DefaultEnv, ReadOnly: true}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		env    access.Env
		action access.Action
		want   error
	}{
		{"viewer backup", viewer, def, access.BackupRun, access.ErrForbidden},
		{"viewer silence", viewer, def, access.SilenceCreate, access.ErrForbidden},
		{"operator backup", operator, def, access.BackupRun, nil},
		{"operator maintenance", operator, def, access.MaintainRun, nil},
		{"operator restore", operator, def, access.RestoreRun, access.ErrForbidden},
		{"operator prune", operator, def, access.BackupPrune, access.ErrForbidden},
		{"admin restore", admin, def, access.RestoreRun, nil},
		{"admin unknown action", admin, def, access.Action("new.thing"), nil},
		{"operator unknown action", operator, def, access.Action("new.thing"), access.ErrForbidden},
		{"local user", local, def, access.RestoreRun, nil},
		{"bare context", bare, def, access.BackupVerify, access.ErrNoIdentity},
		{"bare context, viewer's action", bare, def, access.SilenceCreate, access.ErrNoIdentity},
		{"zero identity", nobody, def, access.BackupRun, access.ErrNoIdentity},
		{"role in another environment only", stagingOnly, def, access.BackupRun, access.ErrForbidden},
		{"role in its environment", stagingOnly, access.Env{Name: "staging"}, access.RestoreRun, nil},
		{"system job within its role", system, def, access.BackupRun, nil},
		{"system job beyond its role", system, def, access.RestoreRun, access.ErrForbidden},
		{"read-only beats admin", admin, ro, access.BackupRun, access.ErrReadOnly},
		{"read-only local", local, ro, access.BackupVerify, access.ErrReadOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := access.Check(tc.ctx, tc.env, tc.action)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
	err := access.Check(viewer, def, access.BackupRun)
	for _, want := range []string{"backup.create refused", "vic (viewer, SSH key SHA256:abc)", "needs the operator role"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	err = access.Check(bare, def, access.RestoreRun)
	for _, want := range []string{"restore.run refused", "no identity"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestAuditNamesTheIdentity(t *testing.T) {
	path := t.TempDir() + "/audit.log"
	log, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	id := access.As("olga", access.Operator)
	id.SSH = &audit.SSH{User: "olga", KeyFingerprint: "SHA256:k", RemoteAddr: "127.0.0.1:5555"}
	_ = access.Audit(access.WithIdentity(context.Background(), id), log).Refuse("x", "t", nil)
	_ = access.Audit(access.WithIdentity(context.Background(), access.System("schedule", access.Operator)), log).Refuse("y", "t", nil)
	_ = access.Audit(context.Background(), log).Refuse("z", "t", nil)
	recs, err := audit.Read(path, audit.Filter{})
	if err != nil || len(recs) != 3 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	by := map[string]audit.Record{}
	for _, r := range recs {
		by[r.Action] = r
	}
	if r := by["x"]; r.Who != "olga" || r.SSH == nil || r.SSH.RemoteAddr != "127.0.0.1:5555" {
		t.Errorf("SSH session recorded as %+v", r)
	}
	if r := by["y"]; r.Who != "system:schedule" {
		t.Errorf("system job recorded as %q", r.Who)
	}
	if r := by["z"]; r.Who != "nobody (no identity)" {
		t.Errorf("a bare context recorded as %q, not as nobody", r.Who)
	}
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"viewer", "Operator", "ADMIN"} {
		if _, err := access.ParseRole(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := access.ParseRole("root"); err == nil {
		t.Error("root accepted")
	}
}

func newKey(t *testing.T) gossh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func line(opts string, k gossh.PublicKey, comment string) string {
	return fmt.Sprintf("%s %s %s", opts, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))), comment)
}

func TestKeys(t *testing.T) {
	a, v, stranger := newKey(t), newKey(t), newKey(t)
	file := "# team keys\n" + line("role=admin", a, "alice@laptop") + "\n\n" + line(`role="viewer",no-port-forwarding`, v, "oncall") + "\n"
	kr, err := access.ParseKeys("keys", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	all := func(r access.Role) map[string]access.Role { return map[string]access.Role{access.AllEnvs: r} }
	if k, ok := kr.Lookup(a); !ok || !reflect.DeepEqual(k.Roles, all(access.Admin)) || k.Comment != "alice@laptop" || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		t.Errorf("admin key: %+v %v", k, ok)
	}
	if k, ok := kr.Lookup(v); !ok || !reflect.DeepEqual(k.Roles, all(access.Viewer)) || k.Line != 4 {
		t.Errorf("viewer key: %+v %v", k, ok)
	}
	if _, ok := kr.Lookup(stranger); ok {
		t.Error("an unknown key is authorized")
	}
	for _, tc := range []struct{ name, file, want string }{
		{"no role", line("", a, "bob"), "keys:1: key \"bob\" has no role"},
		{"bad role", line("role=root", a, "bob"), `keys:1: unknown role "root"`},
		{"bad role in an environment", line("role=admin@staging,root@prod", a, "bob"), `keys:1: unknown role "root"`},
		{"no environment after @", line("role=admin@", a, "bob"), `keys:1: role "admin@": "" is not an environment name`},
		{"a bad environment", line("role=admin@Prod", a, "bob"), `keys:1: role "admin@Prod": "Prod" is not an environment name`},
		{"an environment twice", line("role=admin@prod,viewer@prod", a, "bob"), `keys:1: role "viewer@prod": environment "prod" has a role already`},
		{"every environment twice", line(`role="admin,viewer"`, a, "bob"), `keys:1: role "viewer": a role for every environment is already given`},
		{"role twice", line("role=admin,role=viewer", a, "bob"), "keys:1: role is given twice"},
		{"garbage", "role=admin ssh-ed25519 notbase64", "keys:1: not an authorized key"},
		{"duplicate", line("role=admin", a, "x") + "\n" + line("role=viewer", a, "y"), "keys:2: the same key is already listed on line 1"},
		{"empty", "# nobody\n", "no keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := access.ParseKeys("keys", []byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeysPerEnvironment(t *testing.T) {
	k := newKey(t)
	for _, tc := range []struct {
		name, opts string
		want       map[string]access.Role
		str        string
	}{
		{"plain", "role=operator", map[string]access.Role{access.AllEnvs: access.Operator}, "operator"},
		{"per environment", "role=admin@staging,operator@prod", map[string]access.Role{"staging": access.Admin, "prod": access.Operator}, "admin@staging, operator@prod"},
		{"with other options after", "role=viewer@prod,admin@staging,no-pty,no-port-forwarding", map[string]access.Role{"prod": access.Viewer, "staging": access.Admin}, "admin@staging, viewer@prod"},
		{"quoted", `no-pty,role="viewer,admin@staging"`, map[string]access.Role{access.AllEnvs: access.Viewer, "staging": access.Admin}, "viewer, admin@staging"},
		{"every environment and one", "role=viewer,admin@staging", map[string]access.Role{access.AllEnvs: access.Viewer, "staging": access.Admin}, "viewer, admin@staging"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := access.ParseKeys("keys", []byte(line(tc.opts, k, "bob")))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := kr.Lookup(k)
			if !reflect.DeepEqual(got.Roles, tc.want) {
				t.Fatalf("roles = %v, want %v", got.Roles, tc.want)
			}
			id := got.Identity("bob")
			if s := id.RolesString(); s != tc.str {
				t.Errorf("RolesString = %q, want %q", s, tc.str)
			}
		})
	}

	// A key with viewer@prod,admin@staging restores in staging only, and
	// has no say in an environment it does not name.
	kr, err := access.ParseKeys("keys", []byte(line("role=viewer@prod,admin@staging", k, "bob")))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := kr.Lookup(k)
	ctx := access.WithIdentity(context.Background(), got.Identity("bob"))
	if err := access.Check(ctx, access.Env{Name: "staging"}, access.RestoreRun); err != nil {
		t.Errorf("staging: %v", err)
	}
	if err := access.Check(ctx, access.Env{Name: "prod"}, access.RestoreRun); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("prod: %v", err)
	}
	if err := access.Check(ctx, access.Env{Name: "dev"}, access.BackupRun); !errors.Is(err, access.ErrForbidden) || !strings.Contains(err.Error(), `no role in environment "dev"`) {
		t.Errorf("dev: %v", err)
	}
}
