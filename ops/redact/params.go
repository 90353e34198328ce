package redact

import "strings"

// secretWords are the name fragments that mark a parameter as secret.
var secretWords = []string{"password", "passwd", "secret", "token", "key", "auth"}

// sensitiveKey reports whether a parameter name suggests a secret value.
func sensitiveKey(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// connectionKey reports whether a parameter name suggests a DSN or URL, whose
// value is kept readable with only its password masked.
func connectionKey(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "dsn") || strings.Contains(n, "url")
}

// Params returns a copy of params that is safe to log or audit. Values under
// keys containing "dsn" or "url" go through [DSN]; values under keys
// containing password, passwd, secret, token, key or auth become
// [Placeholder]. Nested maps are redacted recursively; other values are copied
// as they are. A nil map gives nil.
func Params(params map[string]any) map[string]any {
	if params == nil {
		return nil
	}
	out := make(map[string]any, len(params))
	for k, v := range params {
		out[k] = value(k, v)
	}
	return out
}

func value(key string, v any) any {
	switch {
	case connectionKey(key):
		if s, ok := v.(string); ok {
			return DSN(s)
		}
		if v == nil {
			return nil
		}
		return Placeholder
	case sensitiveKey(key):
		if v == nil || v == "" {
			return v
		}
		return Placeholder
	}
	switch x := v.(type) {
	case map[string]any:
		return Params(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = value("", e)
		}
		return out
	case string:
		return String(x)
	}
	return v
}

// Secrets returns the raw values in params that [Params] would hide, so free
// text (an error message) can be scrubbed of them with [String]. Nested maps
// are searched too.
func Secrets(params map[string]any) []string {
	var out []string
	for k, v := range params {
		switch x := v.(type) {
		case string:
			if sensitiveKey(k) && x != "" {
				out = append(out, x)
			}
			if connectionKey(k) {
				out = append(out, passwordsIn(x)...)
			}
		case map[string]any:
			out = append(out, Secrets(x)...)
		}
	}
	return out
}
