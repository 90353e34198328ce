package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// userinfoRE matches "scheme://user:password@" so a password can be masked
// even when the whole string does not parse as a URL.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s]*):([^@/\s]*)@`)

// URL returns raw with the password of its userinfo masked, as well as the
// values of query parameters whose names suggest a secret (password, token,
// secret, key, ...). A string that does not parse as a URL is still scanned
// for "scheme://user:password@".
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return userinfoRE.ReplaceAllString(raw, "${1}:"+Mask+"@")
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mask)
			changed = true
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			// Unparseable query: mask it entirely rather than risk a leak.
			u.RawQuery = Placeholder
			changed = true
		} else {
			qchanged := false
			for k, vs := range q {
				if sensitiveDSNKey(k) {
					for i := range vs {
						vs[i] = Mask
					}
					qchanged = true
				}
			}
			if qchanged {
				u.RawQuery = encodeQuery(q, u.RawQuery)
				changed = true
			}
		}
	}
	if !changed {
		return raw
	}
	return u.String()
}

// encodeQuery re-encodes q keeping the parameter order of the original query.
func encodeQuery(q url.Values, original string) string {
	var parts []string
	seen := map[string]bool{}
	for _, pair := range strings.Split(original, "&") {
		k, _, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || seen[key] {
			continue
		}
		seen[key] = true
		for _, v := range q[key] {
			parts = append(parts, url.QueryEscape(key)+"="+url.QueryEscape(v))
		}
	}
	return strings.Join(parts, "&")
}
