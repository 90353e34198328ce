// Package reach resolves how opsdeck reaches its PostgreSQL and Redis: the
// configuration's DSN and URL as they are, or, when the server runs behind
// a Kubernetes Service (postgres.service, redis.service), through a
// port-forward over the API server whose local address replaces the DSN's
// host and port; and the password from a Kubernetes Secret
// (password_secret), read at use and registered with the redactor as it is
// read. The health checks and the engines that connect call it, so that
// every one of them goes the same way.
package reach

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// Target is one server as opsdeck reaches it now. Close it when done: it
// stops the port-forward, if any.
type Target struct {
	// DSN is what to connect with: PostgreSQL's DSN or Redis's URL, its
	// host and port the tunnel's and its password the Secret's when the
	// configuration says so. It may hold a password: never print it.
	DSN    string
	tunnel *kube.Tunnel
}

// Via says how the server is reached when not directly: "port-forward to
// postgres-0"; "" for a direct connection.
func (t *Target) Via() string {
	if t == nil || t.tunnel == nil {
		return ""
	}
	return "port-forward to " + t.tunnel.Pod()
}

// Tunnel is the port-forward the target goes through, or nil.
func (t *Target) Tunnel() *kube.Tunnel {
	if t == nil {
		return nil
	}
	return t.tunnel
}

// Explain adds to a connection's error the loss of the port-forward's pod
// that caused it, if any ("port-forward to stockapp/postgres-0 lost: …").
func (t *Target) Explain(err error) error {
	if t == nil || t.tunnel == nil || err == nil {
		return err
	}
	return t.tunnel.Explain(err)
}

// Close stops the target's port-forward.
func (t *Target) Close() error {
	if t == nil || t.tunnel == nil {
		return nil
	}
	return t.tunnel.Close()
}

// Postgres is how to reach cfg's PostgreSQL: its DSN, through a
// port-forward to postgres.service when set, with the password of
// postgres.password_secret when set.
func Postgres(ctx context.Context, cfg *config.Config) (*Target, error) {
	p := cfg.Postgres
	if p.Service == "" && p.PasswordSecret == "" {
		return &Target{DSN: p.DSN}, nil
	}
	kc, err := kubeClient(cfg)
	if err != nil {
		return nil, err
	}
	password, err := secretPassword(ctx, kc, "postgres", p.PasswordSecret)
	if err != nil {
		return nil, err
	}
	t := &Target{}
	host, port := "", 0
	if p.Service != "" {
		if t.tunnel, err = kube.OpenTunnel(ctx, kc, p.Service, p.ServicePort()); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		host, port = splitAddr(t.tunnel.Addr())
	}
	if t.DSN, err = postgresDSN(p.DSN, host, port, password); err != nil {
		_ = t.Close()
		return nil, err
	}
	return t, nil
}

// Redis is how to reach cfg's Redis: its URL, through a port-forward to
// redis.service when set, with the password of redis.password_secret when
// set.
func Redis(ctx context.Context, cfg *config.Config) (*Target, error) {
	r := cfg.Redis
	if r.Service == "" && r.PasswordSecret == "" {
		return &Target{DSN: r.URL}, nil
	}
	kc, err := kubeClient(cfg)
	if err != nil {
		return nil, err
	}
	password, err := secretPassword(ctx, kc, "redis", r.PasswordSecret)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", errors.New(redact.String(err.Error(), r.URL)))
	}
	t := &Target{}
	if r.Service != "" {
		if t.tunnel, err = kube.OpenTunnel(ctx, kc, r.Service, r.ServicePort()); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		u.Host = t.tunnel.Addr()
	}
	if password != "" {
		u.User = url.UserPassword(u.User.Username(), password)
	}
	t.DSN = u.String()
	return t, nil
}

// kubeClient is the configuration's cluster.
func kubeClient(cfg *config.Config) (*kube.Client, error) {
	kc, err := kube.NewClient(cfg.Kubernetes, cfg.Timeouts.Check)
	if err != nil {
		return nil, fmt.Errorf("kubernetes (for the in-cluster targets): %w", err)
	}
	return kc, nil
}

// secretPassword reads the Secret's key ref ("" : no password), registering
// it with the redactor before anything can print it.
func secretPassword(ctx context.Context, kc *kube.Client, target, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	sr, err := config.ParseSecretRef(ref)
	if err != nil {
		return "", fmt.Errorf("%s.password_secret: %w", target, err)
	}
	ctx, cancel := context.WithTimeout(ctx, kc.Timeout())
	defer cancel()
	s, err := kc.Clientset().CoreV1().Secrets(sr.Namespace).Get(ctx, sr.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("%s.password_secret %s: %w", target, sr, kube.Explain(err))
	}
	v, ok := s.Data[sr.Key]
	if !ok {
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", fmt.Errorf("%s.password_secret %s: the Secret has no key %q (it has %s)", target, sr, sr.Key, strings.Join(keys, ", "))
	}
	password := string(v)
	redact.Register(password)
	return password, nil
}

// postgresDSN is dsn with its host and port replaced (when host is set)
// and its password replaced (when password is set), in dsn's own form: a
// URL, or libpq's keywords (an empty DSN is keywords: libpq's environment
// fills the rest).
func postgresDSN(dsn, host string, port int, password string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("postgres.dsn: %s", redact.String(err.Error(), dsn))
		}
		if host != "" {
			u.Host = net.JoinHostPort(host, strconv.Itoa(port))
		}
		if password != "" {
			u.User = url.UserPassword(u.User.Username(), password)
		}
		return u.String(), nil
	}
	// Keywords: a later one wins.
	out := dsn
	if host != "" {
		out += " host=" + host + " port=" + strconv.Itoa(port)
	}
	if password != "" {
		out += " password=" + quoteKeyword(password)
	}
	return strings.TrimSpace(out), nil
}

// quoteKeyword quotes a libpq keyword value.
func quoteKeyword(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func splitAddr(addr string) (string, int) {
	h, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return h, n
}
