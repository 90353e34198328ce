package redact

import (
	"strings"
)

// DSN returns dsn with its password masked. It understands both PostgreSQL
// forms: the URL form ("postgres://user:pw@host/db?sslmode=require", where a
// password query parameter is masked too) and the keyword/value form
// ("host=db user=app password='s3 cret'"). Any other "scheme://" string is
// treated as a URL. Everything but the password is kept as written.
func DSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return URL(dsn)
	}
	return keywordDSN(dsn)
}

// keywordDSN masks the values of sensitive keys in a libpq keyword/value
// connection string, following libpq's quoting rules (single quotes,
// backslash escapes). Malformed input is masked from the sensitive key on.
func keywordDSN(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		// Copy whitespace.
		for i < len(s) && isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
		}
		if i >= len(s) {
			break
		}
		// Key up to '=' or whitespace.
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		b.WriteString(key)
		// Optional whitespace, '=', optional whitespace.
		for i < len(s) && isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
		}
		if i >= len(s) || s[i] != '=' {
			continue
		}
		b.WriteByte('=')
		i++
		for i < len(s) && isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
		}
		// Value: quoted or bare.
		vstart := i
		quoted := i < len(s) && s[i] == '\''
		if quoted {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i < len(s) {
				i++ // closing quote
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		}
		if i > len(s) {
			i = len(s)
		}
		value := s[vstart:i]
		if sensitiveDSNKey(key) && value != "" {
			if quoted {
				b.WriteString("'" + Mask + "'")
			} else {
				b.WriteString(Mask)
			}
			continue
		}
		b.WriteString(value)
	}
	return b.String()
}

// sensitiveDSNKey reports whether a libpq keyword or URL query parameter
// carries a secret. The ssl* keywords other than sslpassword name files
// (sslkey, sslcert, ...) and stay readable.
func sensitiveDSNKey(key string) bool {
	k := strings.ToLower(key)
	if k == "sslpassword" {
		return true
	}
	if strings.HasPrefix(k, "ssl") {
		return false
	}
	return sensitiveKey(k)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
