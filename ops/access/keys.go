package access

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// Key is one authorized SSH key and the role it grants.
type Key struct {
	Role        Role
	Comment     string
	Fingerprint string // SHA256:…
	Line        int
}

// KeyRing is the authorized-keys file of `opsdeck serve`: the OpenSSH format,
// each line carrying a role option, e.g.
//
//	role=admin ssh-ed25519 AAAAC3Nza… alice@laptop
//	role=viewer,no-port-forwarding ssh-rsa AAAAB3Nza… oncall
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
		role, found, err := roleOption(options)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if !found {
			return nil, fmt.Errorf("%s:%d: key %q has no role — start the line with role=viewer, role=operator or role=admin", name, n, comment)
		}
		id := string(pub.Marshal())
		if prev, dup := kr.keys[id]; dup {
			return nil, fmt.Errorf("%s:%d: the same key is already listed on line %d — keep one line per key", name, n, prev.Line)
		}
		kr.keys[id] = Key{Role: role, Comment: comment, Fingerprint: gossh.FingerprintSHA256(pub), Line: n}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(kr.keys) == 0 {
		return nil, fmt.Errorf("%s: no keys — nobody could log in; add lines like `role=viewer ssh-ed25519 AAAA… name`", name)
	}
	return kr, nil
}

func roleOption(options []string) (Role, bool, error) {
	for _, o := range options {
		k, v, ok := strings.Cut(o, "=")
		if !ok || !strings.EqualFold(k, "role") {
			continue
		}
		r, err := ParseRole(strings.Trim(v, `"`))
		return r, true, err
	}
	return Viewer, false, nil
}

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
