package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/opsdeck/opsdeck/ops/proc"
)

// KubeVersion is the Kubernetes version of the sandbox's kube-apiserver and etcd.
const KubeVersion = "v1.37.2"

// KubeContext is the context name in the kubeconfig files the sandbox writes.
const KubeContext = "opsdeck-sandbox"

// KubeBinDir returns the directory holding kube-apiserver and etcd:
// $OPSDECK_KUBEBIN, else <cache>/kubebin/v1.37.2 where <cache> is
// $OPSDECK_CACHE, else $XDG_CACHE_HOME/opsdeck, else ~/.cache/opsdeck (the
// directory scripts/kube-test-bins.sh builds into).
func KubeBinDir() (string, error) {
	dir := os.Getenv("OPSDECK_KUBEBIN")
	if dir == "" {
		cache := os.Getenv("OPSDECK_CACHE")
		if cache == "" {
			base := os.Getenv("XDG_CACHE_HOME")
			if base == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return "", fmt.Errorf("locating the kube test binaries: %w — set OPSDECK_KUBEBIN", err)
				}
				base = filepath.Join(home, ".cache")
			}
			cache = filepath.Join(base, "opsdeck")
		}
		dir = filepath.Join(cache, "kubebin", KubeVersion)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		st, err := os.Stat(filepath.Join(dir, bin))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s not found in %s — run make deps (scripts/kube-test-bins.sh) to build kube-apiserver and etcd %s", bin, dir, KubeVersion)
		}
	}
	return dir, nil
}

// KubeOptions configures StartKube.
type KubeOptions struct {
	// BinDir holds kube-apiserver and etcd (default: KubeBinDir()).
	BinDir string
	// Namespace is the default namespace of the written kubeconfig context
	// (default "stockapp").
	Namespace string
	// StartTimeout bounds the start of each of etcd and kube-apiserver
	// (default 60s, and never beyond ctx's deadline).
	StartTimeout time.Duration
}

// KubeServer is a running kube-apiserver + etcd on loopback (no kubelet,
// scheduler or controllers: objects and their status are what you write),
// with a fake kubelet that serves the pod logs registered on it (Kubelet).
type KubeServer struct {
	env        *envtest.Environment
	cfg        *rest.Config
	dir        string
	kubeconfig string
	namespace  string
	thread     *proc.Thread // etcd's and kube-apiserver's parent thread
	kubelet    *Kubelet

	mu      sync.Mutex
	users   int
	stopped bool
	stopErr error
}

var quietControllerRuntime sync.Once

// StartKube starts etcd and kube-apiserver with envtest and writes an admin
// kubeconfig. A failed or canceled start leaves nothing running. Call Stop.
func StartKube(ctx context.Context, opts KubeOptions) (*KubeServer, error) {
	if opts.BinDir == "" {
		dir, err := KubeBinDir()
		if err != nil {
			return nil, err
		}
		opts.BinDir = dir
	}
	if opts.Namespace == "" {
		opts.Namespace = "stockapp"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		opts.StartTimeout = min(opts.StartTimeout, time.Until(dl))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver: %w", err)
	}
	// controller-runtime complains on stderr when no logger is ever set.
	quietControllerRuntime.Do(func() { ctrllog.SetLogger(logr.Discard()) })

	dir, err := mkTempDir("", "opsdeck-kube-")
	if err != nil {
		return nil, fmt.Errorf("temp dir for the kube sandbox: %w — check TMPDIR", err)
	}
	// Give etcd and kube-apiserver directories inside ours so that removing
	// it cleans up even after a failed start (envtest's retries reuse them).
	etcdDir, certDir, wrapDir, kubeletDir := filepath.Join(dir, "etcd"), filepath.Join(dir, "apiserver"), filepath.Join(dir, "bin"), filepath.Join(dir, "kubelet")
	for _, d := range []string{etcdDir, certDir, wrapDir, kubeletDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			_ = removeDir(dir)
			return nil, fmt.Errorf("creating %s: %w — check TMPDIR", d, err)
		}
	}
	// envtest execs etcd and kube-apiserver itself with a SysProcAttr of its
	// own, so they cannot be given a parent-death signal the way our other
	// servers are, and a kill -9 of opsdeck used to leave them running.
	// Instead envtest runs wrappers (ops/proc.Wrap) that set the signal and
	// exec the real binaries, and it runs on a thread of its own (the
	// kernel's "parent" is the forking thread) that we keep until both are
	// gone. Starting them ourselves would mean redoing envtest's
	// certificates, flags and users; this keeps envtest and changes only
	// the paths it execs.
	var paths [2]string
	for i, bin := range []string{"etcd", "kube-apiserver"} {
		if paths[i], err = proc.Wrap(wrapDir, filepath.Join(opts.BinDir, bin)); err != nil {
			_ = removeDir(dir)
			return nil, err
		}
	}
	// The fake kubelet every node points at (kubelet.go): the API server
	// reaches it by the nodes' InternalIP (127.0.0.1) and their
	// kubeletEndpoint port, --kubelet-port for a node without one, and
	// presents the client certificate the kubelet demands. No
	// --kubelet-certificate-authority: the API server does not verify a
	// kubelet's serving certificate, so a test may register a node of its
	// own kubelet (an httptest server) beside it.
	kubelet, err := startKubelet(kubeletDir)
	if err != nil {
		_ = removeDir(dir)
		return nil, err
	}
	apiServer := &envtest.APIServer{CertDir: certDir, Path: paths[1]}
	clientCert, clientKey := kubelet.ClientCertFiles()
	apiServer.Configure().
		Set("kubelet-preferred-address-types", "InternalIP").
		Set("kubelet-port", strconv.Itoa(kubelet.Port())).
		Set("kubelet-client-certificate", clientCert).
		Set("kubelet-client-key", clientKey).
		Set("kubelet-timeout", "10s")
	env := &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			Etcd:      &envtest.Etcd{DataDir: etcdDir, Path: paths[0]},
			APIServer: apiServer,
		},
		BinaryAssetsDirectory:    opts.BinDir,
		ControlPlaneStartTimeout: opts.StartTimeout,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	thread := proc.NewThread()
	// envtest.Start takes no context: run it aside and clean up if ctx ends first.
	type result struct {
		cfg *rest.Config
		err error
	}
	done := make(chan result, 1)
	go thread.Do(func() {
		cfg, err := env.Start()
		done <- result{cfg, err}
	})
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		// Kill what envtest starts (its retries included) until it gives up.
		tick := time.NewTicker(100 * time.Millisecond)
		for waiting := true; waiting; {
			killKubeProcesses(dir)
			select {
			case res = <-done:
				waiting = false
			case <-tick.C:
			}
		}
		tick.Stop()
		if res.err == nil {
			res.err = ctx.Err()
		}
	}
	s := &KubeServer{env: env, dir: dir, namespace: opts.Namespace, thread: thread, kubelet: kubelet}
	if res.err != nil {
		_ = kubelet.Stop()
		_ = env.Stop()
		killKubeProcesses(dir)
		thread.Release()
		_ = removeDir(dir)
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w — run make deps (scripts/kube-test-bins.sh) if the binaries are missing or stale", opts.BinDir, res.err)
	}
	s.cfg = rest.CopyConfig(res.cfg)
	s.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(s.kubeconfig, s.cfg, "admin", opts.Namespace); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// KubeconfigPath is the admin kubeconfig (context KubeContext).
func (s *KubeServer) KubeconfigPath() string { return s.kubeconfig }

// Config returns a copy of the admin rest.Config.
func (s *KubeServer) Config() *rest.Config { return rest.CopyConfig(s.cfg) }

// Host is the API server URL (https://127.0.0.1:port).
func (s *KubeServer) Host() string { return s.cfg.Host }

// Kubelet is the fake kubelet the API server proxies pods/log to: register
// a container's log on it before asking for it.
func (s *KubeServer) Kubelet() *Kubelet { return s.kubelet }

// AddUser provisions a user authenticated by client certificate, with no
// RBAC bindings (every request is forbidden until you bind a role), and
// writes a kubeconfig for it. It returns the kubeconfig's path.
func (s *KubeServer) AddUser(name string, groups []string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return "", errors.New("kube sandbox: AddUser after Stop")
	}
	u, err := s.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("adding kube user %q: %w", name, err)
	}
	s.users++
	path := filepath.Join(s.dir, fmt.Sprintf("kubeconfig-%d-user", s.users))
	if err := writeKubeconfig(path, u.Config(), name, s.namespace); err != nil {
		return "", err
	}
	return path, nil
}

// Stop stops kube-apiserver and etcd and removes their directories and the
// kubeconfigs. It is idempotent and returns the first call's error.
func (s *KubeServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	var errs []error
	if err := s.kubelet.Stop(); err != nil {
		errs = append(errs, err)
	}
	if err := s.env.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("stopping kube-apiserver/etcd: %w", err))
	}
	killKubeProcesses(s.dir)
	s.thread.Release()
	if err := removeDir(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", s.dir, err))
	}
	s.stopErr = errors.Join(errs...)
	return s.stopErr
}

// writeKubeconfig writes a one-context kubeconfig for cfg's credentials.
func writeKubeconfig(path string, cfg *rest.Config, user, namespace string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[KubeContext] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts[KubeContext] = &clientcmdapi.Context{
		Cluster:   KubeContext,
		AuthInfo:  user,
		Namespace: namespace,
	}
	kc.CurrentContext = KubeContext
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// killKubeProcesses kills the etcd and kube-apiserver processes whose
// arguments point into dir, our private directory, and waits for them to
// go. envtest forgets a kube-apiserver whose start timed out (and retries
// with a new one); this makes sure none outlives the sandbox. Linux only
// (/proc); a no-op elsewhere.
func killKubeProcesses(dir string) {
	if dir == "" {
		return
	}
	pids := serversIn(dir, []string{"kube-apiserver", "etcd"})
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(pids, 5*time.Second)
}
