package proc

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Account is the user a server runs as: a named service account when this
// program runs as root (PostgreSQL's initdb and postgres refuse root), this
// program's own user otherwise.
type Account struct {
	// Name is the service account's name, "" for ourselves.
	Name string
	UID  int
	GID  int
	// Cred switches a child to the account (SysProcAttr.Credential); nil
	// runs it as ourselves.
	Cred *syscall.Credential
}

// ServiceAccount returns the named account when this program runs as root,
// and its own user otherwise. As root without such a user, it says so and
// what to do.
func ServiceAccount(name string) (Account, error) {
	if os.Geteuid() != 0 {
		return Account{UID: os.Geteuid(), GID: os.Getegid()}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return Account{}, fmt.Errorf("running as root, but there is no %q user to run the server as "+
			"(install the server package, which creates it, or run as an ordinary user): %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return Account{}, fmt.Errorf("user %q has a non-numeric uid or gid: %w", name, err)
	}
	return Account{
		Name: name,
		UID:  uid,
		GID:  gid,
		Cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
	}, nil
}

// Other reports whether the account is not this program's own user.
func (a Account) Other() bool { return a.Cred != nil }

// Chown gives path to the account (nothing to do for ourselves).
func (a Account) Chown(path string) error {
	if a.Cred == nil {
		return nil
	}
	return os.Lchown(path, a.UID, a.GID)
}

// ChownTree gives path and everything under it to the account.
func (a Account) ChownTree(path string) error {
	if a.Cred == nil {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, a.UID, a.GID)
	})
}

// CheckReachable fails when the account could not reach into dir (a
// directory on the way is closed to others), which a server would report
// only as "permission denied".
func (a Account) CheckReachable(dir string) error {
	if a.Cred == nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", dir, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check %s: %w", d, err)
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if ok && int(st.Uid) != a.UID && info.Mode().Perm()&0o001 == 0 &&
			(int(st.Gid) != a.GID || info.Mode().Perm()&0o010 == 0) {
			return fmt.Errorf("the %s user cannot reach %s (%s is mode %o): "+
				"choose a base directory every user can traverse, such as /tmp", a.Name, abs, d, info.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// Env is this program's environment without the variables that start with
// one of dropPrefixes (PGDATA, PGPORT, REDIS_*: they would steer a child
// server elsewhere), in the C locale.
func Env(dropPrefixes ...string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, p := range dropPrefixes {
			if strings.HasPrefix(kv, p) {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}
