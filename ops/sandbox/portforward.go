package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// portForwardProtocol is the kubelet's port-forward subprotocol.
const portForwardProtocol = "portforward.k8s.io"

// portForwardIdle closes a port-forward session nobody uses, as the
// kubelet's streaming idle timeout does.
const portForwardIdle = 4 * time.Hour

func forwardKey(ns, pod string, port int) string {
	return ns + "/" + pod + "/" + strconv.Itoa(port)
}

// SetPortForward makes the pod's port reach addr (host:port on this
// machine) through the kubelet's port-forward.
func (k *Kubelet) SetPortForward(ns, pod string, port int, addr string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forwards[forwardKey(ns, pod, port)] = addr
}

// RemovePortForward forgets every forward of the pod and cuts the
// port-forward sessions open to it, as when the pod or its node goes
// away: new sessions to it are refused.
func (k *Kubelet) RemovePortForward(ns, pod string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	prefix := ns + "/" + pod + "/"
	for key := range k.forwards {
		if strings.HasPrefix(key, prefix) {
			delete(k.forwards, key)
		}
	}
	k.closeSessionsLocked(ns + "/" + pod)
}

// closeSessionsLocked closes the port-forward sessions of the pod "ns/pod",
// or all of them when pod is empty; k is locked.
func (k *Kubelet) closeSessionsLocked(pod string) {
	for key, conns := range k.streams {
		if pod != "" && key != pod {
			continue
		}
		for c := range conns {
			_ = c.Close()
		}
		delete(k.streams, key)
	}
}

// forwardTarget is the address the pod's port reaches, if registered.
func (k *Kubelet) forwardTarget(ns, pod string, port int) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	addr, ok := k.forwards[forwardKey(ns, pod, port)]
	return addr, ok
}

func (k *Kubelet) hasForwards(ns, pod string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	prefix := ns + "/" + pod + "/"
	for key := range k.forwards {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

// servePortForward is the kubelet's /portForward/{ns}/{pod}: it upgrades
// to SPDY and, for each pair of streams the client opens (an error stream
// and a data stream sharing a requestID and a port), dials the port's
// registered address and copies both ways. A port nobody registered is an
// error on the pair's error stream, as the kubelet reports a refused
// connection inside the pod.
func (k *Kubelet) servePortForward(w http.ResponseWriter, r *http.Request) {
	ns, pod := r.PathValue("ns"), r.PathValue("pod")
	if !k.hasForwards(ns, pod) {
		http.Error(w, fmt.Sprintf("pod %s/%s not found", ns, pod), http.StatusNotFound)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{portForwardProtocol}); err != nil {
		return // Handshake wrote the error
	}
	done := make(chan struct{})
	defer close(done)
	streams := make(chan httpstream.Stream)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, replySent <-chan struct{}) error {
		select {
		case streams <- s:
			return nil
		case <-done:
			return errors.New("port-forward session closed")
		}
	})
	if conn == nil {
		return // the upgrader wrote the error
	}
	defer conn.Close()
	conn.SetIdleTimeout(portForwardIdle)

	key := ns + "/" + pod
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	if k.streams[key] == nil {
		k.streams[key] = map[httpstream.Connection]struct{}{}
	}
	k.streams[key][conn] = struct{}{}
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.streams[key], conn)
		k.mu.Unlock()
	}()

	var pairs sync.WaitGroup
	defer pairs.Wait()
	type pair struct{ data, errs httpstream.Stream }
	pending := map[string]*pair{}
	for {
		var s httpstream.Stream
		select {
		case s = <-streams:
		case <-conn.CloseChan():
			return
		}
		id := s.Headers().Get(corev1.PortForwardRequestIDHeader)
		p := pending[id]
		if p == nil {
			p = &pair{}
			pending[id] = p
		}
		switch s.Headers().Get(corev1.StreamType) {
		case corev1.StreamTypeError:
			p.errs = s
		case corev1.StreamTypeData:
			p.data = s
		default:
			_ = s.Reset()
			continue
		}
		if p.data == nil || p.errs == nil {
			continue
		}
		delete(pending, id)
		pairs.Add(1)
		go func() {
			defer pairs.Done()
			defer conn.RemoveStreams(p.data, p.errs)
			k.forwardPair(ns, pod, p.data, p.errs, conn.CloseChan())
		}()
	}
}

// forwardPair serves one forwarded connection: the data stream to the
// port's address, or the reason it cannot on the error stream.
func (k *Kubelet) forwardPair(ns, pod string, data, errs httpstream.Stream, closed <-chan bool) {
	defer errs.Close()
	defer data.Close()
	fail := func(format string, args ...any) {
		_, _ = fmt.Fprintf(errs, format, args...)
	}
	port, err := strconv.Atoi(data.Headers().Get(corev1.PortHeader))
	if err != nil {
		fail("invalid port %q", data.Headers().Get(corev1.PortHeader))
		return
	}
	addr, ok := k.forwardTarget(ns, pod, port)
	if !ok {
		fail("failed to connect to localhost:%d inside namespace %q pod %q: connection refused", port, ns, pod)
		return
	}
	target, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fail("failed to connect to localhost:%d inside namespace %q pod %q: %v", port, ns, pod, err)
		return
	}
	defer target.Close()
	copied := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(target, data)
		if tc, ok := target.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		copied <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(data, target)
		_ = data.Close()
		copied <- struct{}{}
	}()
	left := 2
	select {
	case <-copied:
		left--
	case <-closed:
	}
	// The session closing or one side ending ends both copies.
	_ = target.Close()
	_ = data.Reset()
	for ; left > 0; left-- {
		<-copied
	}
}
