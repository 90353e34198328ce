package access

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// Key is one authorized SSH key and the roles it grants.
type Key struct {
	// Roles gives the key's role per environment name, as Identity.Roles:
	// "role=admin" is AllEnvs; "role=admin@staging,operator@prod" names
	// each environment and grants nothing in the others.
	Roles       map[string]Role
	Comment     string
	Fingerprint string // SHA256:…
	Line        int
}

// Identity returns the identity of a session of user logged in with k.
func (k Key) Identity(user string) Identity {
	return Identity{User: user, Roles: maps.Clone(k.Roles)}
}

// KeyRing is the authorized-keys file of `opsdeck serve`: the OpenSSH format,
// each line carrying a role option, e.g.
//
//	role=admin ssh-ed25519 AAAAC3Nza… alice@laptop
//	role=viewer,no-port-forwarding ssh-rsa AAAAB3Nza… oncall
//	role=admin@staging,operator@prod ssh-ed25519 AAAAC3Nza… bob
//	role=viewer,admin@staging ssh-ed25519 AAAAC3Nza… carol
//
// A role without "@" holds in every environment the line does not name; a
// role@env holds in that environment only, so a key with only such roles
// sees only the environments it names.
//
// A key that is not listed is refused; a listed key without a role is an
// error when the file is loaded, not a silent viewer.
type KeyRing struct {
	keys map[string]Key // by the key's wire form
}

// LoadKeys reads an authorized-keys file. Problems are reported with the
// file and line and what to write instead.
func LoadKeys(path string) (*KeyRing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w — pass --authorized-keys with a file of lines like `role=viewer ssh-ed25519 AAAA… name`", err)
	}
	return ParseKeys(path, data)
}

// ParseKeys parses the content of an authorized-keys file named name.
func ParseKeys(name string, data []byte) (*KeyRing, error) {
	kr := &KeyRing{keys: map[string]Key{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pub, comment, options, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not an authorized key (%v) — expected `role=viewer|operator|admin KEYTYPE BASE64 [comment]`", name, n, err)
		}
		roles, err := roleOption(options)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if roles == nil {
			return nil, fmt.Errorf("%s:%d: key %q has no role — start the line with role=viewer, role=operator or role=admin", name, n, comment)
		}
		id := string(pub.Marshal())
		if prev, dup := kr.keys[id]; dup {
			return nil, fmt.Errorf("%s:%d: the same key is already listed on line %d — keep one line per key", name, n, prev.Line)
		}
		kr.keys[id] = Key{Roles: roles, Comment: comment, Fingerprint: gossh.FingerprintSHA256(pub), Line: n}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(kr.keys) == 0 {
		return nil, fmt.Errorf("%s: no keys — nobody could log in; add lines like `role=viewer ssh-ed25519 AAAA… name`", name)
	}
	return kr, nil
}

// roleOption reads the role option: role=ROLE, role=ROLE@ENV,ROLE@ENV…
// (OpenSSH splits options at commas, so the entries after the first are
// options of their own, ROLE@ENV without "="), or all of them quoted
// (role="admin@staging,operator@prod"). It returns nil when the line has
// no role option.
func roleOption(options []string) (map[string]Role, error) {
	var entries []string
	for i := 0; i < len(options); i++ {
		k, v, ok := strings.Cut(options[i], "=")
		if !ok || !strings.EqualFold(k, "role") {
			continue
		}
		if entries != nil {
			return nil, fmt.Errorf("role is given twice — write one role= option, e.g. role=admin@staging,operator@prod")
		}
		entries = strings.Split(strings.Trim(v, `"`), ",")
		for i+1 < len(options) && !strings.Contains(options[i+1], "=") && strings.Contains(options[i+1], "@") {
			i++
			entries = append(entries, options[i])
		}
	}
	if entries == nil {
		return nil, nil
	}
	roles := map[string]Role{}
	for _, e := range entries {
		role, env, scoped := strings.Cut(strings.TrimSpace(e), "@")
		if !scoped {
			env = AllEnvs
		} else if !envName.MatchString(env) {
			return nil, fmt.Errorf("role %q: %q is not an environment name — write ROLE@ENV such as admin@staging (lowercase letters, digits and '-')", e, env)
		}
		r, err := ParseRole(role)
		if err != nil {
			return nil, err
		}
		if _, dup := roles[env]; dup {
			if env == AllEnvs {
				return nil, fmt.Errorf("role %q: a role for every environment is already given — keep one role without @ENV", e)
			}
			return nil, fmt.Errorf("role %q: environment %q has a role already — keep one per environment", e, env)
		}
		roles[env] = r
	}
	return roles, nil
}

// envName is an environment name, as the configuration's environments
// allow it.
var envName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Lookup returns the entry of pub, and whether it is authorized.
func (kr *KeyRing) Lookup(pub gossh.PublicKey) (Key, bool) {
	if kr == nil || pub == nil {
		return Key{}, false
	}
	k, ok := kr.keys[string(pub.Marshal())]
	return k, ok
}

// Len returns the number of authorized keys.
func (kr *KeyRing) Len() int { return len(kr.keys) }
