// Package kube gathers facts about a Kubernetes cluster and keeps live,
// low-memory views of its nodes, pods and events: a one-shot FetchFacts for
// the check CLI, a Cache built on shared informers for the cockpit, and the
// pure row builders (kubectl's STATUS logic, human ages) both of them use.
// It holds no thresholds and imports no UI package.
package kube

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opsdeck/opsdeck/ops/config"
)

// DefaultTimeout bounds one API request when NewClient is given no timeout.
const DefaultTimeout = 5 * time.Second

// InClusterContext is the context name reported when the in-cluster
// configuration (service account of the pod opsdeck runs in) is used.
const InClusterContext = "in-cluster"

// Client is a connection to one cluster: a clientset, the context it came
// from and the namespaces opsdeck watches there. It is safe for concurrent use.
type Client struct {
	clientset  kubernetes.Interface
	restConfig *rest.Config
	context    string
	host       string
	namespaces []string
	timeout    time.Duration

	// streams reads the logs: no overall timeout (it would cut a followed
	// log), built once so that every stream shares its connections (a
	// config with its own dialer gets a transport of its own each time).
	streamsOnce sync.Once
	streams     kubernetes.Interface
	streamsErr  error
}

// NewClient builds a Client with kubectl's loading rules: cfg.Kubeconfig
// (or KUBECONFIG, or ~/.kube/config) and cfg.Context (or the current context);
// inside a pod with no kubeconfig it uses the in-cluster configuration.
// timeout bounds every request (DefaultTimeout when zero). The namespaces are
// cfg.Namespaces, else the context's namespace, else "default". No request is
// made: an unreachable cluster is reported by the first call.
func NewClient(cfg config.KubeConfig, timeout time.Duration) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = expandHome(cfg.Kubeconfig)
		if _, err := os.Stat(rules.ExplicitPath); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w — fix kubernetes.kubeconfig in the opsdeck config", rules.ExplicitPath, err)
		}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)

	restConfig, err := loader.ClientConfig()
	if err != nil {
		return nil, explainConfigError(err, cfg)
	}

	contextName := cfg.Context
	if raw, rawErr := loader.RawConfig(); rawErr == nil && contextName == "" {
		contextName = raw.CurrentContext
	}
	if contextName == "" {
		contextName = InClusterContext
	}

	namespaces := cleanNamespaces(cfg.Namespaces)
	if len(namespaces) == 0 {
		ns, _, nsErr := loader.Namespace()
		if nsErr != nil || ns == "" {
			ns = "default"
		}
		namespaces = []string{ns}
	}
	return NewClientForConfig(restConfig, contextName, namespaces, timeout)
}

// NewClientForConfig builds a Client from a ready rest.Config (the sandbox's,
// or one built by a caller). The config is copied; timeout bounds every
// request (DefaultTimeout when zero); namespaces default to "default".
// Every API request is a record of the debug trace.
func NewClientForConfig(rc *rest.Config, contextName string, namespaces []string, timeout time.Duration) (*Client, error) {
	if rc == nil {
		return nil, errors.New("kube: nil rest.Config")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rc = rest.CopyConfig(rc)
	rc.Timeout = timeout
	if rc.QPS == 0 {
		rc.QPS = 50
	}
	if rc.Burst == 0 {
		rc.Burst = 100
	}
	if rc.UserAgent == "" {
		rc.UserAgent = "opsdeck"
	}
	rc.Wrap(traceTransport(hostOf(rc.Host)))
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w — check kubernetes.kubeconfig", hostOf(rc.Host), err)
	}
	namespaces = cleanNamespaces(namespaces)
	if len(namespaces) == 0 {
		namespaces = []string{"default"}
	}
	return &Client{
		clientset:  cs,
		restConfig: rc,
		context:    contextName,
		host:       hostOf(rc.Host),
		namespaces: namespaces,
		timeout:    timeout,
	}, nil
}

// Clientset returns the typed clientset; every request is bounded by Timeout.
func (c *Client) Clientset() kubernetes.Interface { return c.clientset }

// RESTConfig returns a copy of the client's rest.Config.
func (c *Client) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// ContextName is the kubeconfig context in use ("in-cluster" inside a pod).
func (c *Client) ContextName() string { return c.context }

// Host is the API server's host[:port], for messages.
func (c *Client) Host() string { return c.host }

// Namespaces are the namespaces watched for pods and events; "" means all.
func (c *Client) Namespaces() []string { return append([]string(nil), c.namespaces...) }

// Timeout is the bound applied to each request.
func (c *Client) Timeout() time.Duration { return c.timeout }

// watchConfig is the rest.Config informers use: no overall HTTP timeout
// (it would cut every watch stream after Timeout) but a dial bounded by it.
// streamClient returns the clientset the log streams share.
func (c *Client) streamClient() (kubernetes.Interface, error) {
	c.streamsOnce.Do(func() { c.streams, c.streamsErr = kubernetes.NewForConfig(c.watchConfig()) })
	return c.streams, c.streamsErr
}

func (c *Client) watchConfig() *rest.Config {
	rc := rest.CopyConfig(c.restConfig)
	rc.Timeout = 0
	dialer := &net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}
	rc.Dial = dialer.DialContext
	return rc
}

func explainConfigError(err error, cfg config.KubeConfig) error {
	switch {
	case clientcmd.IsEmptyConfig(err):
		return fmt.Errorf("no Kubernetes configuration found (no kubeconfig, not running in a pod): %w — set kubernetes.kubeconfig or KUBECONFIG", err)
	case clientcmd.IsContextNotFound(err) || (cfg.Context != "" && strings.Contains(err.Error(), fmt.Sprintf("context %q does not exist", cfg.Context))):
		return fmt.Errorf("kubeconfig context %q not found: %w — fix kubernetes.context (kubectl config get-contexts lists them)", cfg.Context, err)
	default:
		return fmt.Errorf("loading the kubeconfig: %w — check kubernetes.kubeconfig/context", err)
	}
}

func cleanNamespaces(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, ns := range in {
		ns = strings.TrimSpace(ns)
		if ns == "*" {
			ns = ""
		}
		if seen[ns] {
			continue
		}
		seen[ns] = true
		out = append(out, ns)
	}
	// "" (all namespaces) subsumes the others.
	if seen[""] {
		return []string{""}
	}
	return out
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

func hostOf(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		return u.Host
	}
	return server
}
