package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// LogRequest says whose logs to read and how.
type LogRequest struct {
	// Namespace of the pod or Deployment (default: the client's first).
	Namespace string
	// Target is a pod's name or deploy/NAME (deployment/NAME), whose pods
	// its selector picks.
	Target string
	// Container to read; empty means the pod's only container, or the one
	// its kubectl.kubernetes.io/default-container annotation names.
	Container string
	// Previous reads the log of the container's previous instance (after a
	// crash or restart).
	Previous bool
	// Since keeps lines newer than this (0: all).
	Since time.Duration
	// Tail keeps this many last lines of each container's log (<0: all).
	Tail int64
	// Follow keeps streaming new lines until ctx ends.
	Follow bool
	// Keep is the ring's length (DefaultLogLines when 0).
	Keep int
	// OnLine, when set, is told every line as it is read (redacted), from
	// the streams' goroutines at once: a reader that needs every line, not
	// the ring's last ones (the error-template miner).
	OnLine func(LogLine)
	// Secrets are masked in every line, beside the DSN and password=
	// patterns redact.String masks anyway.
	Secrets []string
	// Timeout bounds the lookups, each stream's connection and first
	// answer, and without Follow a silence in a stream (default: the
	// client's timeout, at least 10 s for the streams).
	Timeout time.Duration
}

// LogSource is one container whose log a LogStream reads.
type LogSource struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
}

// LogTargetError says why a LogRequest names no container to read: a pod
// or Deployment that does not exist, a container that is not in the pod,
// several containers and none chosen. It is the command line's mistake.
type LogTargetError struct {
	Msg string
	// Containers are the pod's containers, when one must be chosen.
	Containers []string
	// NotFound is set when the pod or Deployment does not exist.
	NotFound bool
}

func (e *LogTargetError) Error() string { return e.Msg }

// ErrNoPreviousLog is what reading a previous log of a container that
// never restarted fails with (the kubelet's 400).
var ErrNoPreviousLog = errors.New("no previous log")

// ResolveLogSources turns req's target into the containers to read: the
// pod's, or those of the Deployment's pods that are scheduled (the ones a
// kubelet runs), sorted by pod name. Every lookup is bounded.
func (c *Client) ResolveLogSources(ctx context.Context, req LogRequest) ([]LogSource, error) {
	ns := req.Namespace
	if ns == "" {
		ns = c.namespaces[0]
	}
	if ns == "" {
		ns = "default"
	}
	timeout := c.timeout
	if req.Timeout > 0 {
		timeout = req.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pods := c.clientset.CoreV1().Pods(ns)
	kind, name, ok := strings.Cut(req.Target, "/")
	if !ok {
		kind, name = "pod", req.Target
	}
	if name == "" {
		return nil, &LogTargetError{Msg: "no pod named: give POD or deploy/NAME"}
	}
	var list []corev1.Pod
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, &LogTargetError{NotFound: true, Msg: fmt.Sprintf("pod %q not found in namespace %q — check the name and the namespace (-n; the Health tab lists the pods), or give deploy/NAME", name, ns)}
		}
		if err != nil {
			return nil, logsError(err, "get", "pods", ns)
		}
		list = []corev1.Pod{*pod}
	case "deploy", "deployment", "deployments":
		d, err := c.clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, &LogTargetError{NotFound: true, Msg: fmt.Sprintf("deployment %q not found in namespace %q — check the name and the namespace (-n)", name, ns)}
		}
		if err != nil {
			return nil, logsError(err, "get", "deployments", ns)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() {
			return nil, fmt.Errorf("deployment %s/%s: selector %v cannot pick its pods: %v", ns, name, d.Spec.Selector, err)
		}
		pl, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, logsError(err, "list", "pods", ns)
		}
		for _, p := range pl.Items {
			if p.Spec.NodeName != "" {
				list = append(list, p)
			}
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("deployment %s/%s has no pod on a node (%d pods match %s) — no kubelet holds a log of it", ns, name, len(pl.Items), sel)
		}
		slices.SortFunc(list, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	default:
		return nil, &LogTargetError{Msg: fmt.Sprintf("%q: give a pod's name or deploy/NAME", req.Target)}
	}
	out := make([]LogSource, 0, len(list))
	for i := range list {
		container, err := pickContainer(&list[i], req.Container)
		if err != nil {
			return nil, err
		}
		out = append(out, LogSource{Namespace: ns, Pod: list[i].Name, Container: container})
	}
	return out, nil
}

// pickContainer is the container of pod to read: want when the pod has
// it, else its only one or its default-container annotation's.
func pickContainer(pod *corev1.Pod, want string) (string, error) {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	var main []string
	for _, c := range pod.Spec.Containers {
		main = append(main, c.Name)
	}
	names = append(names, main...)
	if want != "" {
		if slices.Contains(names, want) {
			return want, nil
		}
		return "", &LogTargetError{Containers: main, Msg: fmt.Sprintf("pod %s has no container %q: its containers are %s", pod.Name, want, strings.Join(main, ", "))}
	}
	if len(main) == 1 {
		return main[0], nil
	}
	if d := pod.Annotations["kubectl.kubernetes.io/default-container"]; d != "" && slices.Contains(main, d) {
		return d, nil
	}
	return "", &LogTargetError{Containers: main, Msg: fmt.Sprintf("pod %s has %d containers (%s): choose one with --container", pod.Name, len(main), strings.Join(main, ", "))}
}

// logsError explains a failed request of the logs: a 403 names the verb
// and resource to ask for.
func logsError(err error, verb, resource, ns string) error {
	if !apierrors.IsForbidden(err) {
		return Explain(err)
	}
	user := "you"
	if m := forbiddenRE.FindStringSubmatch(shortStatus(err)); m != nil {
		user, verb, resource = fmt.Sprintf("user %q", m[1]), m[2], m[3]
		if m[4] != "" {
			ns = m[4]
		}
	}
	return &classifiedError{kind: KindForbidden, err: err,
		msg: fmt.Sprintf("%s cannot %s %s in namespace %q — ask for RBAC %s on %s there (reading logs needs get on pods and pods/log, and get on deployments for deploy/NAME)",
			user, verb, resource, ns, verb, resource)}
}

// LogStream reads the logs of one or more containers into a LogRing, off
// the caller's goroutine: one goroutine per container, each line redacted.
// It ends when every log is read (or, following, when ctx ends).
type LogStream struct {
	Sources []LogSource
	ring    *LogRing
	updates chan struct{}
	done    chan struct{}

	mu      sync.Mutex
	errs    []error
	skipped []string
}

// Skipped names the containers of a deploy/NAME --previous that have no
// previous log (they never restarted): the others' are read.
func (s *LogStream) Skipped() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.skipped...)
}

// Ring holds the lines read so far (the last Keep of them).
func (s *LogStream) Ring() *LogRing { return s.ring }

// Updates receives a value when lines were added since the last receive.
func (s *LogStream) Updates() <-chan struct{} { return s.updates }

// Done is closed when every container's stream has ended.
func (s *LogStream) Done() <-chan struct{} { return s.done }

// Err is why streams failed, once Done is closed (nil when all ended
// well, or because ctx ended while following).
func (s *LogStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// Wait waits for Done and returns Err.
func (s *LogStream) Wait() error {
	<-s.done
	return s.Err()
}

// StreamLogs resolves req's target and streams its containers' logs into a
// ring of req.Keep lines. Reading logs changes nothing, so any role may,
// read-only mode included; the context must still carry an identity
// (access.ErrNoIdentity otherwise). It returns once the target is
// resolved; the lines arrive in the background.
func (c *Client) StreamLogs(ctx context.Context, req LogRequest) (*LogStream, error) {
	if _, ok := access.FromContext(ctx); !ok {
		return nil, fmt.Errorf("logs of %s refused: the request carries no identity: %w", req.Target, access.ErrNoIdentity)
	}
	sources, err := c.ResolveLogSources(ctx, req)
	if err != nil {
		return nil, err
	}
	return c.streamSources(ctx, req, sources), nil
}

func (c *Client) streamSources(ctx context.Context, req LogRequest, sources []LogSource) *LogStream {
	s := &LogStream{Sources: sources, ring: NewLogRing(req.Keep), updates: make(chan struct{}, 1), done: make(chan struct{})}
	timeout := max(c.timeout, 10*time.Second)
	if req.Timeout > 0 {
		timeout = req.Timeout
	}
	// No overall HTTP timeout (it would cut a followed stream): the dial
	// is bounded by the client's timeout, the answer by timeout here.
	cs, err := c.streamClient()
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("kubernetes client for logs: %w", err))
		close(s.done)
		return s
	}
	var wg sync.WaitGroup
	var noPrevious []error
	for _, src := range sources {
		wg.Go(func() {
			err := c.streamOne(ctx, cs, req, src, timeout, s)
			s.mu.Lock()
			defer s.mu.Unlock()
			switch {
			case err == nil:
			case len(sources) > 1 && errors.Is(err, ErrNoPreviousLog):
				noPrevious = append(noPrevious, err)
				s.skipped = append(s.skipped, src.Pod+"/"+src.Container)
			default:
				s.errs = append(s.errs, err)
			}
		})
	}
	go func() {
		wg.Wait()
		s.mu.Lock()
		if len(noPrevious) == len(sources) { // none has restarted
			s.errs = append(s.errs, noPrevious...)
		}
		slices.Sort(s.skipped)
		s.mu.Unlock()
		close(s.done)
	}()
	return s
}

// streamOne reads one container's log into s's ring.
func (c *Client) streamOne(ctx context.Context, cs kubernetes.Interface, req LogRequest, src LogSource, timeout time.Duration, s *LogStream) error {
	opts := &corev1.PodLogOptions{Container: src.Container, Previous: req.Previous, Follow: req.Follow}
	if req.Since > 0 {
		secs := int64((req.Since + time.Second - 1) / time.Second)
		opts.SinceSeconds = &secs
	}
	if req.Tail >= 0 {
		opts.TailLines = &req.Tail
	}
	what := fmt.Sprintf("logs of %s/%s", src.Pod, src.Container)
	if req.Previous {
		what = "previous " + what
	}
	// The stream's own context: canceled when the first answer or, not
	// following, the next bytes take longer than timeout.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var expired atomic.Bool
	watchdog := time.AfterFunc(timeout, func() { expired.Store(true); cancel() })
	defer watchdog.Stop()
	rc, err := cs.CoreV1().Pods(src.Namespace).GetLogs(src.Pod, opts).Stream(sctx)
	if err != nil {
		if !watchdog.Stop() {
			return fmt.Errorf("%s: no answer within %s — the API server or the kubelet on the pod's node is slow or unreachable: %w", what, timeout, context.DeadlineExceeded)
		}
		if ctx.Err() != nil {
			return nil
		}
		return streamError(err, what, src)
	}
	defer rc.Close()
	if req.Follow {
		watchdog.Stop() // following: silence is normal; ctx ends it
	} else {
		watchdog.Reset(timeout)
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	for {
		line, err := readLine(br)
		if line != "" || err == nil {
			if !req.Follow {
				watchdog.Reset(timeout)
			}
			l := LogLine{Pod: src.Pod, Container: src.Container, Text: redact.String(line, req.Secrets...)}
			s.ring.Add(l)
			if req.OnLine != nil {
				req.OnLine(l)
			}
			select {
			case s.updates <- struct{}{}:
			default:
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // the caller stopped following
			}
			if expired.Load() {
				return fmt.Errorf("%s: silent for %s — the stream was cut: %w", what, timeout, context.DeadlineExceeded)
			}
			return fmt.Errorf("%s: reading the stream: %w", what, err)
		}
	}
}

// readLine reads one line without its newline, keeping at most
// MaxLogLineBytes of it (the rest is skipped).
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b) < MaxLogLineBytes {
			b = append(b, chunk[:min(len(chunk), MaxLogLineBytes-len(b))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil || len(b) > 0 {
			b = []byte(strings.TrimRight(string(b), "\r\n"))
		}
		if err == io.EOF && len(b) == 0 {
			return "", io.EOF
		}
		return string(b), err
	}
}

// streamError explains a failed log request.
func streamError(err error, what string, src LogSource) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code == 400 && strings.Contains(strings.ToLower(err.Error()), "previous terminated container") {
		return fmt.Errorf("%s: container %s of pod %s has not restarted — drop --previous: %w", what, src.Container, src.Pod, ErrNoPreviousLog)
	}
	if errors.As(err, &status) && status.Status().Code == 400 && strings.Contains(err.Error(), "does not have a host") {
		return fmt.Errorf("%s: the pod is not on a node yet (Pending), so it has no log", what)
	}
	if apierrors.IsNotFound(err) {
		return &classifiedError{kind: KindNotFound, err: err, msg: fmt.Sprintf("%s: the kubelet has no such log (404: %s) — the pod or container may be gone or not started", what, shortStatus(err))}
	}
	if apierrors.IsForbidden(err) {
		return logsError(err, "get", "pods/log", src.Namespace)
	}
	return fmt.Errorf("%s: %w", what, Explain(err))
}
