package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

// portForwardProtocol is the port-forward subprotocol (client-go's
// portforward.PortForwardProtocolV1Name).
const portForwardProtocol = "portforward.k8s.io"

// TunnelCheckEvery is how often a Tunnel checks that its pod is still
// there and ready, and retries a lost session.
const TunnelCheckEvery = time.Second

// Tunnel is a port-forward over the API server to a ready pod behind a
// Service: a listener on 127.0.0.1 whose every connection is a stream to
// the pod's port (kubectl port-forward's protocol). When the pod goes away,
// stops being ready or its stream breaks, the Tunnel picks another ready
// pod behind the Service; connections open through the lost pod fail and
// Explain names it. Every dial is bounded by the client's timeout. It is
// safe for concurrent use; Close stops it and everything it started.
type Tunnel struct {
	client  *Client
	ns, svc string
	port    int // the Service's port
	ln      net.Listener
	timeout time.Duration

	dialMu sync.Mutex // one session being established at a time

	mu      sync.Mutex
	sess    *tunnelSession // nil while none is up
	lost    error          // why the last session ended; nil while up
	retry   error          // why re-establishing it failed, if it did
	nextID  int
	locals  map[net.Conn]struct{}
	closed  bool
	done    chan struct{}
	workers sync.WaitGroup
}

// tunnelSession is one SPDY connection to one pod.
type tunnelSession struct {
	conn   httpstream.Connection
	pod    string
	uid    string
	target int // the pod's port
}

// OpenTunnel opens a port-forward to the Service "namespace/name"'s port
// (a port of the Service, mapped to its target port in the pod) through
// a ready pod behind it, listening on 127.0.0.1 at a free port.
func OpenTunnel(ctx context.Context, c *Client, service string, port int) (*Tunnel, error) {
	ns, name, ok := strings.Cut(service, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("port-forward: service %q: want namespace/name", service)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: listen on loopback: %w", service, err)
	}
	t := &Tunnel{client: c, ns: ns, svc: name, port: port, ln: ln, timeout: c.Timeout(),
		locals: map[net.Conn]struct{}{}, done: make(chan struct{})}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	if _, err := t.session(ctx); err != nil {
		_ = ln.Close()
		return nil, err
	}
	t.workers.Add(2)
	go t.accept()
	go t.watch()
	return t, nil
}

// Addr is the tunnel's local address, 127.0.0.1:port.
func (t *Tunnel) Addr() string { return t.ln.Addr().String() }

// Service is the Service the tunnel reaches, "namespace/name".
func (t *Tunnel) Service() string { return t.ns + "/" + t.svc }

// Pod is the name of the pod the tunnel goes to now, or of the last one
// when its session is lost.
func (t *Tunnel) Pod() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != nil {
		return t.sess.pod
	}
	return t.lastPod()
}

// lastPod is the pod the lost error names; t is locked.
func (t *Tunnel) lastPod() string {
	var le *lostError
	if errors.As(t.lost, &le) {
		return le.pod
	}
	return ""
}

// Err is why the tunnel has no session now (naming the pod it lost and,
// if it could not reach another, why), or nil while it is up.
func (t *Tunnel) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != nil || t.lost == nil {
		return nil
	}
	if t.retry != nil {
		return fmt.Errorf("%w (reconnecting: %v)", t.lost, t.retry)
	}
	return t.lost
}

// Explain adds to err, the failure of a connection through the tunnel, the
// loss of the tunnel's pod that caused it, if any: "port-forward to
// stockapp/postgres-0 lost: ...: <err>". Other errors are returned as they are.
func (t *Tunnel) Explain(err error) error {
	if err == nil {
		return nil
	}
	t.mu.Lock()
	lost := t.lost
	t.mu.Unlock()
	if lost == nil || errors.Is(err, lost) {
		return err
	}
	return fmt.Errorf("%w: %w", lost, err)
}

// Close stops the listener, the session and every connection through the
// tunnel, and waits for them.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	err := t.ln.Close()
	if t.sess != nil {
		_ = t.sess.conn.Close()
		t.sess = nil
	}
	for c := range t.locals {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.workers.Wait()
	return err
}

// lostError is a session's end, naming its pod.
type lostError struct {
	pod string
	err error
}

func (e *lostError) Error() string { return "port-forward to " + e.pod + " lost: " + e.err.Error() }
func (e *lostError) Unwrap() error { return e.err }

// drop ends sess, if it is still the current session, because of cause.
func (t *Tunnel) drop(sess *tunnelSession, cause error) {
	t.mu.Lock()
	if t.sess == sess {
		t.sess = nil
		t.lost = &lostError{pod: t.ns + "/" + sess.pod, err: cause}
		t.retry = nil
	}
	t.mu.Unlock()
	_ = sess.conn.Close()
}

// session is the current session, established (to a ready pod) if there
// is none.
func (t *Tunnel) session(ctx context.Context) (*tunnelSession, error) {
	t.dialMu.Lock()
	defer t.dialMu.Unlock()
	t.mu.Lock()
	sess, closed := t.sess, t.closed
	t.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("port-forward to %s: closed", t.Service())
	case sess != nil:
		return sess, nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	sess, err := t.establish(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.retry = err
		if t.lost != nil {
			return nil, fmt.Errorf("%w (reconnecting: %v)", t.lost, err)
		}
		return nil, err
	}
	if t.closed {
		_ = sess.conn.Close()
		return nil, fmt.Errorf("port-forward to %s: closed", t.Service())
	}
	t.sess, t.lost, t.retry = sess, nil, nil
	return sess, nil
}

// establish picks a ready pod behind the Service and opens a session to it.
func (t *Tunnel) establish(ctx context.Context) (*tunnelSession, error) {
	cs := t.client.Clientset()
	svc, err := cs.CoreV1().Services(t.ns).Get(ctx, t.svc, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", t.Service(), Explain(err))
	}
	pods, err := t.readyPods(ctx, svc)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", t.Service(), Explain(err))
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("port-forward to %s: no ready pod behind the Service", t.Service())
	}
	var errs []error
	for _, pod := range pods {
		target, err := targetPort(svc, pod, t.port)
		if err != nil {
			return nil, fmt.Errorf("port-forward to %s: %w", t.Service(), err)
		}
		conn, err := t.dial(ctx, pod.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("port-forward to %s/%s: %w", t.ns, pod.Name, err))
			continue
		}
		return &tunnelSession{conn: conn, pod: pod.Name, uid: string(pod.UID), target: target}, nil
	}
	return nil, errors.Join(errs...)
}

// readyPods are the Service's ready pods, from its EndpointSlices, else
// from its selector; sorted by name.
func (t *Tunnel) readyPods(ctx context.Context, svc *corev1.Service) ([]*corev1.Pod, error) {
	cs := t.client.Clientset()
	var names []string
	slices_, err := cs.DiscoveryV1().EndpointSlices(t.ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + t.svc})
	if err != nil {
		return nil, err
	}
	for _, s := range slices_.Items {
		for _, ep := range s.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
				names = append(names, ep.TargetRef.Name)
			}
		}
	}
	var candidates []*corev1.Pod
	if len(names) > 0 {
		for _, n := range names {
			p, err := cs.CoreV1().Pods(t.ns).Get(ctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue // a stale slice
			}
			if err != nil {
				return nil, err
			}
			candidates = append(candidates, p)
		}
	} else if len(svc.Spec.Selector) > 0 {
		list, err := cs.CoreV1().Pods(t.ns).List(ctx, metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			candidates = append(candidates, &list.Items[i])
		}
	}
	var ready []*corev1.Pod
	for _, p := range candidates {
		if podReady(p) {
			ready = append(ready, p)
		}
	}
	slices.SortFunc(ready, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(ready, func(a, b *corev1.Pod) bool { return a.Name == b.Name }), nil
}

// podReady: running on a node, not being deleted, its Ready condition true.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort is the pod's port the Service's port maps to: its targetPort,
// a number or a container port's name; port itself when the Service does
// not list it.
func targetPort(svc *corev1.Service, pod *corev1.Pod, port int) (int, error) {
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) != port {
			continue
		}
		switch {
		case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
			for _, c := range pod.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal {
						return int(cp.ContainerPort), nil
					}
				}
			}
			return 0, fmt.Errorf("pod %s has no port named %q (the Service's target port)", pod.Name, sp.TargetPort.StrVal)
		case sp.TargetPort.IntValue() > 0:
			return sp.TargetPort.IntValue(), nil
		}
		return port, nil
	}
	return port, nil
}

// dial opens the pod's port-forward stream connection, within ctx.
func (t *Tunnel) dial(ctx context.Context, pod string) (httpstream.Connection, error) {
	rt, upgrader, err := spdy.RoundTripperFor(t.client.RESTConfig())
	if err != nil {
		return nil, err
	}
	u := t.client.Clientset().CoreV1().RESTClient().Post().
		Resource("pods").Namespace(t.ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	type result struct {
		conn  httpstream.Connection
		proto string
		err   error
	}
	res := make(chan result, 1)
	go func() {
		conn, proto, err := dialer.Dial(portForwardProtocol)
		res <- result{conn, proto, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return nil, explainPortForwardError(r.err)
		}
		if r.proto != portForwardProtocol {
			_ = r.conn.Close()
			return nil, fmt.Errorf("the API server answered protocol %q, not %q", r.proto, portForwardProtocol)
		}
		return r.conn, nil
	case <-ctx.Done():
		go func() { // the dial ends by itself; close what it brings
			if r := <-res; r.conn != nil {
				_ = r.conn.Close()
			}
		}()
		return nil, fmt.Errorf("no answer within %s: %w", t.timeout, ctx.Err())
	}
}

// explainPortForwardError shortens the upgrade's error.
func explainPortForwardError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "forbidden") || strings.Contains(msg, "Forbidden") {
		return fmt.Errorf("%w (the identity needs create on pods/portforward)", err)
	}
	return err
}

// watch checks the current session's pod every TunnelCheckEvery, drops the
// session when the pod is gone, being deleted, not ready or replaced, or
// when its connection closes, and re-establishes a lost one.
func (t *Tunnel) watch() {
	defer t.workers.Done()
	tick := time.NewTicker(TunnelCheckEvery)
	defer tick.Stop()
	for {
		t.mu.Lock()
		sess := t.sess
		t.mu.Unlock()
		var closed <-chan bool
		if sess != nil {
			closed = sess.conn.CloseChan()
		}
		select {
		case <-t.done:
			return
		case <-closed:
			t.drop(sess, errors.New("the stream to the pod closed"))
			continue
		case <-tick.C:
		}
		if sess == nil {
			_, _ = t.sessionUntilDone()
			continue
		}
		if cause := t.checkPod(sess); cause != nil {
			t.drop(sess, cause)
		}
	}
}

// sessionUntilDone is session, given up when the tunnel closes.
func (t *Tunnel) sessionUntilDone() (*tunnelSession, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-t.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return t.session(ctx)
}

// checkPod is why sess's pod can no longer serve it, or nil.
func (t *Tunnel) checkPod(sess *tunnelSession) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	p, err := t.client.Clientset().CoreV1().Pods(t.ns).Get(ctx, sess.pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return errors.New("the pod was deleted")
	case err != nil:
		return nil // the API server's hiccup: the stream itself tells
	case string(p.UID) != sess.uid:
		return errors.New("the pod was replaced")
	case !podReady(p):
		return errors.New("the pod is no longer ready")
	}
	return nil
}

// accept serves the tunnel's local connections.
func (t *Tunnel) accept() {
	defer t.workers.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return // closed
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = c.Close()
			return
		}
		t.locals[c] = struct{}{}
		t.workers.Add(1)
		t.mu.Unlock()
		go func() {
			defer t.workers.Done()
			defer func() {
				t.mu.Lock()
				delete(t.locals, c)
				t.mu.Unlock()
				_ = c.Close()
			}()
			t.forward(c)
		}()
	}
}

// forward copies one local connection to and from a stream to the pod.
func (t *Tunnel) forward(c net.Conn) {
	sess, err := t.sessionUntilDone()
	if err != nil {
		return // Err tells why
	}
	t.mu.Lock()
	id := t.nextID
	t.nextID++
	t.mu.Unlock()
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(sess.target))
	headers.Set(corev1.PortForwardRequestIDHeader, strconv.Itoa(id))
	errStream, err := sess.conn.CreateStream(headers)
	if err != nil {
		t.drop(sess, fmt.Errorf("open a stream: %w", err))
		return
	}
	_ = errStream.Close() // nothing to send on it
	defer sess.conn.RemoveStreams(errStream)
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := sess.conn.CreateStream(headers)
	if err != nil {
		t.drop(sess, fmt.Errorf("open a stream: %w", err))
		return
	}
	defer sess.conn.RemoveStreams(data)

	remote := make(chan error, 1)
	go func() { // the pod's reasons, if any
		msg, err := io.ReadAll(errStream)
		switch {
		case err != nil:
			remote <- err
		case len(msg) > 0:
			remote <- errors.New(string(msg))
		default:
			remote <- nil
		}
	}()
	fromPod := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, data)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(fromPod)
	}()
	toPod := make(chan struct{})
	go func() {
		_, _ = io.Copy(data, c)
		_ = data.Close()
		close(toPod)
	}()
	select {
	case <-fromPod:
	case <-sess.conn.CloseChan():
	}
	_ = data.Reset()
	_ = c.Close()
	<-fromPod
	<-toPod
	select {
	case err := <-remote:
		if err != nil {
			t.drop(sess, err)
		}
	case <-sess.conn.CloseChan():
		_ = errStream.Reset()
		<-remote
	}
}
