package serve_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	gossh "golang.org/x/crypto/ssh"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/commands"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/serve"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// A real SSH server on the sandbox, driven by a real SSH client
// (golang.org/x/crypto/ssh) whose screen is a terminal emulator.

var (
	sb                               *sandbox.Sandbox
	srv                              *serve.Server
	addr                             string
	viewerKey, operatorKey, adminKey gossh.Signer
	strangerKey                      gossh.Signer
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	redis.RouteLibraryLogs(nil)
	kube.RouteLibraryLogs(nil)
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		return m.Run()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, 3*time.Minute)
	defer scancel()
	var err error
	if sb, err = sandbox.Start(sctx, sandbox.Options{Scale: 0}); err != nil {
		fmt.Fprintf(os.Stderr, "start the sandbox: %v\nrun `make deps`, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
		return 1
	}
	defer sb.Stop()
	viewerKey, operatorKey, adminKey, strangerKey = newSigner(), newSigner(), newSigner(), newSigner()
	keys := strings.Join([]string{
		authLine("role=viewer", viewerKey, "vic@desk"),
		authLine("role=operator", operatorKey, "olga@desk"),
		authLine("role=admin", adminKey, "ada@laptop"),
	}, "\n")
	kr, err := access.ParseKeys("authorized_keys", []byte(keys))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err = serve.New(ctx, sb.Config, serve.Options{
		Listen: "127.0.0.1:0", HostKeyPath: filepath.Join(sb.Dir, "host_ed25519"), Keys: kr, MaxSessions: 60,
		Commands: commands.InProcess,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := srv.Listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	addr = ln.Addr().String()
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return m.Run()
}

func newSigner() gossh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		panic(err)
	}
	return s
}

func authLine(opts string, s gossh.Signer, comment string) string {
	return opts + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment
}

func requireServer(t *testing.T) {
	t.Helper()
	if srv == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}

func dial(user string, key gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	})
}

// term is one interactive session and the screen it draws on.
type term struct {
	client *gossh.Client
	sess   *gossh.Session
	stdin  io.WriteCloser
	mu     sync.Mutex // guards emu: the copy goroutine writes, the test reads
	emu    *vt.Emulator
	done   chan struct{}
}

// Write feeds the session's output to the screen.
func (tm *term) Write(p []byte) (int, error) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.emu.Write(p)
}

func open(t *testing.T, user string, key gossh.Signer, w, h int) *term {
	t.Helper()
	c, err := dial(user, key)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	tm := &term{client: c, sess: sess, stdin: stdin, emu: vt.NewEmulator(w, h), done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		_, _ = io.Copy(tm, stdout)
	}()
	// The terminal answers the program's queries, as a real one does.
	go func() { _, _ = io.Copy(stdin, tm.emu) }()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tm.close)
	return tm
}

// openPlain opens a session whose output is only searched, not emulated (a
// screen emulator per session would weigh more than the server's sessions),
// waits until the cockpit has drawn its pods table and closes the session.
func openPlain(t *testing.T, user string, key gossh.Signer, w, h int) {
	t.Helper()
	c, err := dial(user, key)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Error(err)
		return
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Error(err)
		return
	}
	stdout, _ := sess.StdoutPipe()
	if err := sess.Shell(); err != nil {
		t.Error(err)
		return
	}
	seen := make(chan struct{})
	go func() {
		var out strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := stdout.Read(buf)
			out.Write(buf[:n])
			if strings.Contains(out.String(), "Pods") {
				close(seen)
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-seen:
	case <-time.After(15 * time.Second):
		t.Errorf("session of %s never drew its pods table", user)
	}
}

// close ends the session the way a client that goes away does. The
// emulator's reply pump stays blocked (closing the emulator races inside
// it); goroutines counts leave out the test's own client side.
func (tm *term) close() {
	_ = tm.sess.Close()
	_ = tm.client.Close()
}

func (tm *term) screen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.emu.String()
}

func (tm *term) resize(w, h int) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.emu.Resize(w, h)
}

func (tm *term) send(keys string) { _, _ = tm.stdin.Write([]byte(keys)) }

// waitFor waits until the screen shows every want, or fails with the screen.
func (tm *term) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := tm.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("screen never showed %q:\n%s", missing, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	requireServer(t)
	if c, err := dial("mallory", strangerKey); err == nil {
		c.Close()
		t.Fatal("a key not in the authorized keys file got in")
	}
}

func TestSessionWithoutTerminalRefused(t *testing.T) {
	requireServer(t)
	c, err := dial("ada", adminKey)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("")
	if err == nil || !strings.Contains(string(out), "Requires an active PTY") {
		t.Fatalf("no-PTY session: err %v, output %q", err, out)
	}
}

func TestViewerSeesTheClusterAndNoActions(t *testing.T) {
	requireServer(t)
	tm := open(t, "vic", viewerKey, 120, 40)
	tm.waitFor(t, "CrashLoopBackOff", "NotReady", "vic viewer", "READ-ONLY")
	tm.send("3")
	tm.waitFor(t, "read-only: actions hidden")
}

func TestAdminSeesActions(t *testing.T) {
	requireServer(t)
	tm := open(t, "ada", adminKey, 120, 40)
	tm.waitFor(t, "CrashLoopBackOff", "ada admin")
	if strings.Contains(tm.screen(), "READ-ONLY") {
		t.Fatalf("admin session is read-only:\n%s", tm.screen())
	}
	tm.send("3")
	time.Sleep(time.Second)
	if s := tm.screen(); strings.Contains(s, "actions hidden") {
		t.Fatalf("admin sees actions hidden:\n%s", s)
	}
}

func TestSessionFollowsResize(t *testing.T) {
	requireServer(t)
	tm := open(t, "olga", operatorKey, 80, 24)
	tm.waitFor(t, "Pods")
	tm.resize(140, 30)
	if err := tm.sess.WindowChange(30, 140); err != nil {
		t.Fatal(err)
	}
	// At 140 columns the pods table has room for its REASON column.
	tm.waitFor(t, "REASON")
}

func TestAnotherSessionSeesARunningTask(t *testing.T) {
	requireServer(t)
	watcher := open(t, "vic", viewerKey, 140, 30)
	watcher.waitFor(t, "Pods")
	ctx := access.WithIdentity(context.Background(), access.Identity{User: "ada", Roles: map[string]access.Role{access.AllEnvs: access.Admin}})
	done := srv.Sources().Tasks.Start(ctx, "backup full")
	watcher.waitFor(t, "backup full by ada")
	done()
}

// TestSessionsLeaveNothingBehind opens and closes 50 sessions; goroutines and
// heap must come back to where they were.
func TestSessionsLeaveNothingBehind(t *testing.T) {
	requireServer(t)
	settle := func() (int, uint64) {
		var ms runtime.MemStats
		for range 20 {
			runtime.GC()
			time.Sleep(100 * time.Millisecond)
			if srv.Sessions() == 0 {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return serverGoroutines(), ms.HeapInuse
	}
	// Warm up: the first session connects the shared informers.
	tm := open(t, "ada", adminKey, 100, 30)
	tm.waitFor(t, "Pods")
	tm.close()
	g0, h0 := settle()

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []gossh.Signer{viewerKey, operatorKey, adminKey}[i%3]
			openPlain(t, fmt.Sprintf("user%d", i), key, 100, 30)
		}()
		if i%10 == 9 {
			wg.Wait()
		}
	}
	wg.Wait()
	g1, h1 := settle()
	if srv.Sessions() != 0 {
		t.Fatalf("%d sessions still open", srv.Sessions())
	}
	if g1 > g0+5 {
		t.Fatalf("goroutines: %d before, %d after 50 sessions\n%s", g0, g1, strings.Join(serverStacks(), "\n\n"))
	}
	if h1 > h0+16<<20 {
		t.Fatalf("heap in use: %d MB before, %d MB after 50 sessions", h0>>20, h1>>20)
	}
	t.Logf("goroutines %d → %d, heap %d → %d MB", g0, g1, h0>>20, h1>>20)
}

// serverStacks returns the stacks of the goroutines that are not the test's
// own SSH clients and terminals.
func serverStacks() []string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "serve_test.") || strings.Contains(g, "crypto/ssh.(*Client)") ||
			strings.Contains(g, "crypto/ssh.(*handshakeTransport)") && !strings.Contains(g, "charm.land/ssh") && strings.Contains(g, "clientHandshake") {
			continue
		}
		out = append(out, g)
	}
	return out
}

func serverGoroutines() int { return len(serverStacks()) }

// TestEveryRoleReadsAPodsLog: the Health tab's log view works in a served
// session of every role (reading logs is read-only): the session's
// identity reaches the stream, which refuses a request without one.
func TestEveryRoleReadsAPodsLog(t *testing.T) {
	requireServer(t)
	for _, u := range []struct {
		name string
		key  gossh.Signer
	}{{"vic", viewerKey}, {"olga", operatorKey}, {"ada", adminKey}} {
		t.Run(u.name, func(t *testing.T) {
			tm := open(t, u.name, u.key, 120, 40)
			tm.waitFor(t, "redis-0")
			tm.send("/redis-0\r")
			tm.waitFor(t, "1 of ")
			tm.send("l")
			tm.waitFor(t, "Logs redis-0", "● following")
			tm.send("\x1b")
			tm.waitFor(t, "Nodes")
		})
	}
}
