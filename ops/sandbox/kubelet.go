package sandbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/streaming/pkg/httpstream"
)

// Kubelet is the sandbox's fake kubelet: an HTTPS server on 127.0.0.1 that
// the kube-apiserver proxies pods/log to, as it would to a node's kubelet.
// StartKube starts one and points the API server at it
// (--kubelet-preferred-address-types=InternalIP, --kubelet-port, and a
// client certificate the kubelet requires); SeedKube registers every node
// with InternalIP 127.0.0.1 and the kubelet's port, so nothing but
// loopback is ever contacted.
//
// It serves GET /containerLogs/{namespace}/{pod}/{container} with the
// kubelet's query parameters (follow, previous, sinceSeconds, sinceTime,
// tailLines, timestamps, limitBytes) from the logs a test or the demo
// registers per container: SetLog (fixed lines), Generate (lines written
// at a rate, for follow) and SetPrevious (the log of the container's
// previous, crashed instance). A container it does not know is a 404, as
// the kubelet answers for a pod or container it does not run; previous
// with no previous log is the kubelet's 400.
type Kubelet struct {
	srv  *http.Server
	ln   net.Listener
	port int
	dir  string // the client certificate and key for the API server

	mu       sync.Mutex
	logs     map[string]*containerLog                      // "ns/pod/container"
	forwards map[string]string                             // "ns/pod/port": the local address it reaches
	streams  map[string]map[httpstream.Connection]struct{} // "ns/pod": port-forward sessions open
	gens     sync.WaitGroup
	stop     chan struct{}
	closed   bool
}

// LogLine is one line of a container's log: when it was written and its
// text, without the newline.
type LogLine struct {
	Time time.Time
	Text string
}

// MaxKubeletLines bounds each container's current log in the fake kubelet:
// a generator running for hours keeps only its last lines.
const MaxKubeletLines = 200_000

// containerLog is one container's logs.
type containerLog struct {
	lines    []LogLine
	previous []LogLine
	hasPrev  bool
	dropped  int           // lines trimmed off the front of lines
	changed  chan struct{} // closed and replaced when lines grow
	stopGen  func()        // the generator writing lines, if any
}

// stopGenerator stops the container's generator; c's kubelet is locked.
func (c *containerLog) stopGenerator() {
	if c.stopGen != nil {
		c.stopGen()
		c.stopGen = nil
	}
}

func (c *containerLog) appendLines(lines ...LogLine) {
	c.lines = append(c.lines, lines...)
	if n := len(c.lines); n > 2*MaxKubeletLines {
		c.dropped += n - MaxKubeletLines
		c.lines = append([]LogLine(nil), c.lines[n-MaxKubeletLines:]...)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// startKubelet listens on a free loopback port with a fresh self-signed CA,
// a serving certificate for 127.0.0.1 and a client certificate it demands
// of its callers, written into dir for the API server.
func startKubelet(dir string) (*Kubelet, error) {
	ca, caKey, err := newCert(nil, nil, "opsdeck-sandbox-kubelet-ca", true, nil)
	if err != nil {
		return nil, err
	}
	serving, servingKey, err := newCert(ca, caKey, "127.0.0.1", false, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	client, clientKey, err := newCert(ca, caKey, "kube-apiserver-kubelet-client", false, nil)
	if err != nil {
		return nil, err
	}
	if err := writeCert(filepath.Join(dir, "kubelet-client.crt"), filepath.Join(dir, "kubelet-client.key"), client, clientKey); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	tlsCfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{serving.Raw}, PrivateKey: servingKey, Leaf: serving}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake kubelet: listen on loopback: %w", err)
	}
	k := &Kubelet{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, dir: dir, logs: map[string]*containerLog{}, forwards: map[string]string{}, streams: map[string]map[httpstream.Connection]struct{}{}, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.serveLogs)
	mux.HandleFunc("/portForward/{ns}/{pod}", k.servePortForward)
	k.srv = &http.Server{Handler: mux, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = k.srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	return k, nil
}

// Port is the kubelet's port on 127.0.0.1 (the nodes' kubeletEndpoint).
func (k *Kubelet) Port() int { return k.port }

// Addr is 127.0.0.1:Port.
func (k *Kubelet) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(k.port)) }

// ClientCertFiles are the certificate and key the API server presents to
// the kubelet (--kubelet-client-certificate, --kubelet-client-key).
func (k *Kubelet) ClientCertFiles() (cert, key string) {
	return filepath.Join(k.dir, "kubelet-client.crt"), filepath.Join(k.dir, "kubelet-client.key")
}

func logKey(ns, pod, container string) string { return ns + "/" + pod + "/" + container }

// entry returns the container's log, creating it.
func (k *Kubelet) entry(ns, pod, container string) *containerLog {
	key := logKey(ns, pod, container)
	c := k.logs[key]
	if c == nil {
		c = &containerLog{changed: make(chan struct{})}
		k.logs[key] = c
	}
	return c
}

// SetLog makes lines the container's current log, replacing any, and
// stops its generator.
func (k *Kubelet) SetLog(ns, pod, container string, lines []LogLine) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.entry(ns, pod, container)
	c.stopGenerator()
	c.dropped += len(c.lines)
	c.lines = nil
	c.appendLines(lines...)
}

// AppendLog adds lines to the container's current log; followers see them.
func (k *Kubelet) AppendLog(ns, pod, container string, lines ...LogLine) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entry(ns, pod, container).appendLines(lines...)
}

// SetPrevious makes lines the log of the container's previous instance
// (what `logs --previous` shows after a crash).
func (k *Kubelet) SetPrevious(ns, pod, container string, lines []LogLine) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.entry(ns, pod, container)
	c.previous, c.hasPrev = append([]LogLine(nil), lines...), true
}

// Forget removes every log of the pod and stops its generators: the
// kubelet no longer knows it.
func (k *Kubelet) Forget(ns, pod string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	prefix := ns + "/" + pod + "/"
	for key, c := range k.logs {
		if strings.HasPrefix(key, prefix) {
			c.stopGenerator()
			delete(k.logs, key)
		}
	}
}

// Generate appends perSecond lines a second to the container's log, each
// line(i, now) for i = 0, 1, ..., until the returned stop is called, ctx
// ends, the kubelet stops, or SetLog, Forget or another Generate of the
// container replaces it. The lines come in batches, every 10 ms at
// 100 lines a second or more, else every line or every second.
func (k *Kubelet) Generate(ctx context.Context, ns, pod, container string, perSecond float64, line func(i int, now time.Time) string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		cancel()
		return func() {}
	}
	c := k.entry(ns, pod, container)
	c.stopGenerator()
	c.stopGen = cancel
	k.gens.Add(1)
	k.mu.Unlock()
	go func() {
		defer k.gens.Done()
		period := 10 * time.Millisecond
		if perSecond > 0 {
			period = min(max(period, time.Duration(float64(time.Second)/perSecond)), time.Second)
		}
		tick := time.NewTicker(period)
		defer tick.Stop()
		start, written := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-k.stop:
				return
			case now := <-tick.C:
				due := int(now.Sub(start).Seconds() * perSecond)
				if due <= written {
					continue
				}
				batch := make([]LogLine, 0, due-written)
				for ; written < due; written++ {
					batch = append(batch, LogLine{Time: now, Text: line(written, now)})
				}
				k.mu.Lock()
				if ctx.Err() == nil { // not replaced meanwhile
					k.entry(ns, pod, container).appendLines(batch...)
				}
				k.mu.Unlock()
			}
		}
	}()
	return cancel
}

// Stop stops the server, its generators and its followers.
func (k *Kubelet) Stop() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	close(k.stop)
	k.closeSessionsLocked("")
	k.mu.Unlock()
	k.gens.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := k.srv.Shutdown(ctx); err != nil {
		return errors.Join(fmt.Errorf("fake kubelet: %w", err), k.srv.Close())
	}
	return nil
}

// logQuery is the kubelet's PodLogOptions as it reads them from the query.
type logQuery struct {
	follow, previous, timestamps bool
	since                        time.Time // zero: from the start
	tail                         int       // -1: all
	limit                        int64     // 0: no limit
}

func parseLogQuery(r *http.Request, now time.Time) (logQuery, error) {
	q := r.URL.Query()
	lq := logQuery{tail: -1}
	var err error
	flag := func(name string) bool {
		v := q.Get(name)
		if v == "" {
			return false
		}
		b, e := strconv.ParseBool(v)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		return b
	}
	lq.follow, lq.previous, lq.timestamps = flag("follow"), flag("previous"), flag("timestamps")
	if v := q.Get("sinceSeconds"); v != "" {
		n, e := strconv.ParseInt(v, 10, 64)
		if e != nil || n < 1 {
			return lq, fmt.Errorf("sinceSeconds %q: must be a positive integer", v)
		}
		lq.since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, e := time.Parse(time.RFC3339, v)
		if e != nil {
			return lq, fmt.Errorf("sinceTime %q: %w", v, e)
		}
		lq.since = t
	}
	for _, name := range []string{"tailLines", "tail"} {
		if v := q.Get(name); v != "" && v != "all" {
			n, e := strconv.Atoi(v)
			if e != nil || n < 0 {
				return lq, fmt.Errorf("%s %q: must be a non-negative integer", name, v)
			}
			lq.tail = n
		}
	}
	if v := q.Get("limitBytes"); v != "" {
		n, e := strconv.ParseInt(v, 10, 64)
		if e != nil || n < 1 {
			return lq, fmt.Errorf("limitBytes %q: must be a positive integer", v)
		}
		lq.limit = n
	}
	return lq, err
}

// serveLogs is the kubelet's GET /containerLogs/{ns}/{pod}/{container}.
func (k *Kubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	lq, err := parseLogQuery(r, time.Now())
	if err != nil {
		http.Error(w, `{"message": "Unable to decode query."}`+" ("+err.Error()+")", http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	c := k.logs[logKey(ns, pod, container)]
	var lines []LogLine
	var changed chan struct{}
	seen := 0 // lines of the current log sent, counting the dropped ones
	hasPrev := false
	if c != nil {
		hasPrev = c.hasPrev
		lines, changed, seen = c.lines, c.changed, c.dropped+len(c.lines)
		if lq.previous {
			lines = c.previous
		}
	}
	k.mu.Unlock()
	switch {
	case c == nil:
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", container, pod), http.StatusNotFound)
		return
	case lq.previous && !hasPrev:
		http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod), http.StatusBadRequest)
		return
	}
	// tailLines counts from the end of the log, then sinceTime drops older
	// lines: the kubelet's order.
	if lq.tail >= 0 && lq.tail < len(lines) {
		lines = lines[len(lines)-lq.tail:]
	}
	w.Header().Set("Content-Type", "text/plain")
	fl, _ := w.(http.Flusher)
	out := &limitWriter{w: w, left: lq.limit}
	write := func(batch []LogLine) bool {
		var b []byte
		for _, l := range batch {
			if !lq.since.IsZero() && l.Time.Before(lq.since) {
				continue
			}
			if lq.timestamps {
				b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
				b = append(b, ' ')
			}
			b = append(append(b, l.Text...), '\n')
		}
		if len(b) == 0 {
			return true
		}
		ok := out.write(b)
		if fl != nil {
			fl.Flush()
		}
		return ok
	}
	if !write(lines) || !lq.follow || lq.previous {
		return
	}
	// Follow: wait for new lines until the caller goes or the kubelet stops.
	for {
		select {
		case <-r.Context().Done():
			return
		case <-k.stop:
			return
		case <-changed:
		}
		k.mu.Lock()
		all, dropped := c.lines, c.dropped
		changed = c.changed
		k.mu.Unlock()
		if !write(all[max(0, seen-dropped):]) {
			return
		}
		seen = dropped + len(all)
	}
}

// limitWriter stops after left bytes (0: no limit), cutting the last line
// as the kubelet's limitBytes does.
type limitWriter struct {
	w    http.ResponseWriter
	left int64
	used int64
}

func (l *limitWriter) write(b []byte) bool {
	if l.left > 0 {
		room := l.left - l.used
		if room <= 0 {
			return false
		}
		if int64(len(b)) > room {
			b = b[:room]
		}
	}
	n, err := l.w.Write(b)
	l.used += int64(n)
	return err == nil && (l.left == 0 || l.used < l.left)
}

// newCert makes an ECDSA certificate signed by parent (self-signed when
// parent is nil), valid for a day.
func newCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool, ips []net.IP) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("fake kubelet: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("fake kubelet: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"opsdeck sandbox"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		IPAddresses:  ips,
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("fake kubelet: certificate %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("fake kubelet: certificate %s: %w", cn, err)
	}
	return cert, key, nil
}

func writeCert(certPath, keyPath string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("fake kubelet: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		return fmt.Errorf("fake kubelet: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("fake kubelet: %w", err)
	}
	return nil
}
