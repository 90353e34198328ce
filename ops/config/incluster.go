package config

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultPostgresPort and DefaultRedisPort are the Services' ports when
// postgres.port and redis.port are 0.
const (
	DefaultPostgresPort = 5432
	DefaultRedisPort    = 6379
)

// ServicePort is postgres.port, or DefaultPostgresPort.
func (p PostgresConfig) ServicePort() int {
	if p.Port == 0 {
		return DefaultPostgresPort
	}
	return p.Port
}

// ServicePort is redis.port, or DefaultRedisPort.
func (r RedisConfig) ServicePort() int {
	if r.Port == 0 {
		return DefaultRedisPort
	}
	return r.Port
}

// SecretRef is a key of a Kubernetes Secret: "namespace/name#key".
type SecretRef struct {
	Namespace, Name, Key string
}

// String is "namespace/name#key".
func (s SecretRef) String() string { return s.Namespace + "/" + s.Name + "#" + s.Key }

var (
	// dnsLabel is a namespace's or a Service's name (RFC 1123 label).
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// dnsSubdomain is a Secret's name.
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	// secretKey is a key of a Secret's data.
	secretKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// ParseServiceRef splits "namespace/name", a Service, checking both names.
func ParseServiceRef(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("%q is not namespace/name", s)
	}
	for _, part := range []string{namespace, name} {
		if len(part) > 63 || !dnsLabel.MatchString(part) {
			return "", "", fmt.Errorf("%q in %q is not a Kubernetes name (lower-case letters, digits and -)", part, s)
		}
	}
	return namespace, name, nil
}

// ParseSecretRef parses "namespace/name#key".
func ParseSecretRef(s string) (SecretRef, error) {
	ref, key, ok := strings.Cut(s, "#")
	if !ok || key == "" {
		return SecretRef{}, fmt.Errorf("%q is not namespace/name#key", s)
	}
	ns, name, ok := strings.Cut(ref, "/")
	switch {
	case !ok || strings.Contains(name, "/"):
		return SecretRef{}, fmt.Errorf("%q is not namespace/name#key", s)
	case len(ns) > 63 || !dnsLabel.MatchString(ns):
		return SecretRef{}, fmt.Errorf("namespace %q in %q is not a Kubernetes name", ns, s)
	case len(name) > 253 || !dnsSubdomain.MatchString(name):
		return SecretRef{}, fmt.Errorf("secret %q in %q is not a Kubernetes name", name, s)
	case len(key) > 253 || !secretKey.MatchString(key):
		return SecretRef{}, fmt.Errorf("key %q in %q is not a Secret's key (letters, digits, -, _ and .)", key, s)
	}
	return SecretRef{Namespace: ns, Name: name, Key: key}, nil
}

// validateInCluster checks postgres.service, redis.service, their ports
// and password secrets.
func (c *Config) validateInCluster(one func(path, reason, hint string, err error)) {
	for _, t := range []struct {
		name, service, secret, target string
		port                          int
		targetSet                     bool
	}{
		{"postgres", c.Postgres.Service, c.Postgres.PasswordSecret, "dsn", c.Postgres.Port, c.Postgres.Configured()},
		{"redis", c.Redis.Service, c.Redis.PasswordSecret, "url", c.Redis.Port, c.Redis.URL != ""},
	} {
		if t.service != "" {
			if _, _, err := ParseServiceRef(t.service); err != nil {
				one(t.name+".service", err.Error(), `use the Service's namespace and name, e.g. "stockapp/`+t.name+`"`, err)
			}
			if !t.targetSet {
				one(t.name+".service", "is set but "+t.name+"."+t.target+" is empty",
					"set "+t.name+"."+t.target+" for the user, database and options: its host and port are replaced by the port-forward's", nil)
			}
		}
		if t.port < 0 || t.port > 65535 {
			one(t.name+".port", fmt.Sprintf("%d is not a port", t.port), "use the Service's port, 1 to 65535, or 0 for the default", nil)
		} else if t.port != 0 && t.service == "" {
			one(t.name+".port", "is set but "+t.name+".service is empty", "set "+t.name+".service, or remove the port (the "+t.target+" names the server's)", nil)
		}
		if t.secret != "" {
			if _, err := ParseSecretRef(t.secret); err != nil {
				one(t.name+".password_secret", err.Error(), `use "namespace/secret#key", e.g. "stockapp/`+t.name+`#password"`, err)
			}
		}
	}
}
