package access_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
)

func TestCheck(t *testing.T) {
	viewer := access.WithIdentity(context.Background(), access.Identity{User: "vic", Role: access.Viewer, SSH: &audit.SSH{User: "vic", KeyFingerprint: "SHA256:abc"}})
	operator := access.WithIdentity(context.Background(), access.Identity{User: "olga", Role: access.Operator})
	admin := access.WithIdentity(context.Background(), access.Identity{User: "ada", Role: access.Admin})
	local := context.Background()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		readOnly bool
		action   access.Action
		want     error
	}{
		{"viewer backup", viewer, false, access.BackupRun, access.ErrForbidden},
		{"viewer silence", viewer, false, access.SilenceCreate, access.ErrForbidden},
		{"operator backup", operator, false, access.BackupRun, nil},
		{"operator maintenance", operator, false, access.MaintainRun, nil},
		{"operator restore", operator, false, access.RestoreRun, access.ErrForbidden},
		{"operator prune", operator, false, access.BackupPrune, access.ErrForbidden},
		{"admin restore", admin, false, access.RestoreRun, nil},
		{"admin unknown action", admin, false, access.Action("new.thing"), nil},
		{"operator unknown action", operator, false, access.Action("new.thing"), access.ErrForbidden},
		{"local user", local, false, access.RestoreRun, nil},
		{"read-only beats admin", admin, true, access.BackupRun, access.ErrReadOnly},
		{"read-only local", local, true, access.BackupVerify, access.ErrReadOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := access.Check(tc.ctx, tc.readOnly, tc.action)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
	err := access.Check(viewer, false, access.BackupRun)
	for _, want := range []string{"backup.create refused", "vic (viewer, SSH key SHA256:abc)", "needs the operator role"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
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
	if k, ok := kr.Lookup(a); !ok || k.Role != access.Admin || k.Comment != "alice@laptop" || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		t.Errorf("admin key: %+v %v", k, ok)
	}
	if k, ok := kr.Lookup(v); !ok || k.Role != access.Viewer || k.Line != 4 {
		t.Errorf("viewer key: %+v %v", k, ok)
	}
	if _, ok := kr.Lookup(stranger); ok {
		t.Error("an unknown key is authorized")
	}
	for _, tc := range []struct{ name, file, want string }{
		{"no role", line("", a, "bob"), "keys:1: key \"bob\" has no role"},
		{"bad role", line("role=root", a, "bob"), `keys:1: unknown role "root"`},
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
