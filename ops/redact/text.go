package redact

import (
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// keywordPasswordRE matches password=VALUE in libpq keyword form inside free
// text, quoted or bare.
var keywordPasswordRE = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+)`)

// String returns s with every occurrence of each non-empty secret replaced by
// [Mask], and with passwords embedded as "scheme://user:pw@" or
// "password=..." masked even when they were not passed in. Use it on error
// messages and command output that may quote a DSN. The secrets Register
// added are masked as well.
func String(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	// Longest first so a secret containing another is replaced whole.
	sorted := make([]string, 0, len(secrets))
	if p := registered.Load(); p != nil {
		secrets = append(slices.Clip(secrets), *p...)
	}
	for _, sec := range secrets {
		if sec != "" && sec != Mask {
			sorted = append(sorted, sec)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, sec := range sorted {
		s = strings.ReplaceAll(s, sec, Mask)
		// A password inside a URL is usually percent-encoded.
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, Mask)
		}
		if esc := url.PathEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, Mask)
		}
	}
	// The patterns need "://" and "password": most text has neither, and
	// is spared the regular expressions.
	if strings.Contains(s, "://") {
		s = userinfoRE.ReplaceAllString(s, "${1}:"+Mask+"@")
	}
	if !containsFold(s, "password") {
		return s
	}
	s = keywordPasswordRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := keywordPasswordRE.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], "'") {
			return sub[1] + "'" + Mask + "'"
		}
		if sub[2] == Mask {
			return m
		}
		return sub[1] + Mask
	})
	return s
}

// passwordsIn extracts the passwords of a DSN or URL, for use with [String].
func passwordsIn(dsn string) []string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil
		}
		var out []string
		if u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				out = append(out, p)
			}
		}
		for k, vs := range u.Query() {
			if sensitiveDSNKey(k) {
				out = append(out, vs...)
			}
		}
		return out
	}
	var out []string
	for _, m := range keywordPasswordRE.FindAllStringSubmatch(dsn, -1) {
		v := m[2]
		if strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2 {
			v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v[1 : len(v)-1])
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Passwords returns the passwords found in a DSN or URL (userinfo, password
// query parameters, password= keywords), for use as secrets with [String].
func Passwords(dsn string) []string { return passwordsIn(dsn) }

// containsFold reports whether s may contain the lower-case ASCII word w
// in any case: true when it does, and for any text that is not ASCII
// (Unicode case folding is the regular expression's to judge).
func containsFold(s, w string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for j < len(w) && s[i+j]|0x20 == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}
