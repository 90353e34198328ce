package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/activeterm"
	bm "charm.land/wish/v2/bubbletea"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/cockpit"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
)

// Options configure a Server.
type Options struct {
	Listen         string
	HostKeyPath    string
	Keys           *access.KeyRing
	MaxSessions    int           // default 20
	IdleTimeout    time.Duration // no key pressed for this long ends a session (default 30m)
	Log            *slog.Logger
	SessionStarted func(access.Identity) // for tests; may be nil
	// Commands runs runbook commands inside the server for a session
	// (nil: they can be read, not run).
	Commands cli.Commands
}

// Server serves the cockpit over SSH: one Bubble Tea program per session, on
// one set of data sources shared by all sessions.
type Server struct {
	cfg  *config.Config
	opts Options
	src  *cockpit.Sources
	ssh  *ssh.Server
	log  *slog.Logger

	sessions atomic.Int64
	wg       sync.WaitGroup
	ln       net.Listener
}

type keyCtx struct{}

// New builds a server on cfg. ctx bounds the shared data sources, which
// act — when they act by themselves — as the system identity "serve", a
// viewer; each session acts as its key.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	if opts.Keys == nil || opts.Keys.Len() == 0 {
		return nil, errors.New("serve: no authorized keys — nobody could log in")
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 20
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Log, src: cockpit.NewSources(access.WithIdentity(ctx, access.System("serve", access.Viewer)), cfg, opts.Commands)}
	srv, err := wish.NewServer(
		wish.WithAddress(opts.Listen),
		wish.WithHostKeyPath(opts.HostKeyPath),
		wish.WithPublicKeyAuth(s.authorize),
		wish.WithMiddleware(
			s.runProgram,
			s.limit,
			activeterm.Middleware(),
			s.logSession,
		),
	)
	if err != nil {
		s.src.Close()
		return nil, fmt.Errorf("serve: %w — check --host-key (it is created when missing; its directory must be writable)", err)
	}
	s.ssh = srv
	return s, nil
}

// authorize lets in the keys of the key ring, and remembers which entry
// matched for the session's identity. Every other key is refused.
func (s *Server) authorize(ctx ssh.Context, pub ssh.PublicKey) bool {
	k, ok := s.opts.Keys.Lookup(pub)
	if !ok {
		s.log.Warn("refused an unknown key", "user", ctx.User(), "remote", ctx.RemoteAddr().String())
		return false
	}
	ctx.SetValue(keyCtx{}, k)
	return true
}

// identity is the session's identity: the SSH user with the roles of its
// key, per environment.
func identity(sess ssh.Session) access.Identity {
	k, _ := sess.Context().Value(keyCtx{}).(access.Key)
	id := k.Identity(sess.User())
	id.SSH = &audit.SSH{
		User:           sess.User(),
		KeyFingerprint: k.Fingerprint,
		KeyComment:     k.Comment,
		RemoteAddr:     sess.RemoteAddr().String(),
	}
	return id
}

// logSession logs each session's start and end.
func (s *Server) logSession(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		id := identity(sess)
		start := time.Now()
		s.log.Info("session start", "user", id.User, "role", id.Role().String(), "remote", id.SSH.RemoteAddr, "key", id.SSH.KeyFingerprint)
		next(sess)
		s.log.Info("session end", "user", id.User, "took", time.Since(start).Round(time.Second).String())
	}
}

// limit refuses a session beyond MaxSessions, with a message.
func (s *Server) limit(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if n := s.sessions.Add(1); n > int64(s.opts.MaxSessions) {
			s.sessions.Add(-1)
			wish.Fatalf(sess, "opsdeck: the server is full (%d sessions); try again later\n", s.opts.MaxSessions)
			return
		}
		s.wg.Add(1)
		defer func() {
			s.sessions.Add(-1)
			s.wg.Done()
		}()
		next(sess)
	}
}

// runProgram runs one session's cockpit. Everything the session starts
// lives in the session's context, so nothing outlives the connection.
//
// The order of the teardown matters: when the client goes away, the
// program's input ends first, so its reader delivers what it still holds
// while the program is alive to take it; only then is the program told to
// quit. Cancelling the program first strands that reader for good (one
// goroutine per closed session, the leak a bastion cannot afford).
func (s *Server) runProgram(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		_, windows, ok := sess.Pty()
		if !ok {
			next(sess)
			return
		}
		id := identity(sess)
		ctx, cancel := context.WithCancel(access.WithIdentity(sess.Context(), id))
		defer cancel()
		if s.opts.SessionStarted != nil {
			s.opts.SessionStarted(id)
		}
		model := cockpit.NewSessionModel(ctx, s.cfg, s.src)
		idle := newIdleWatch(s.opts.IdleTimeout)
		opts := append(bm.MakeOptions(sess), tea.WithFilter(idle.filter), tea.WithoutSignalHandler())
		p := tea.NewProgram(model, opts...)

		finished := make(chan struct{})
		go func() {
			for {
				select {
				case <-finished:
					return
				case w := <-windows:
					p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
				case <-sess.Context().Done():
					// The input has ended with the connection; give the
					// reader a moment to hand over what it holds, then quit.
					select {
					case <-finished:
					case <-time.After(teardownGrace):
						p.Quit()
					}
					return
				}
			}
		}()
		go idle.run(ctx, func() {
			s.log.Info("session idle, closing", "user", id.User, "after", s.opts.IdleTimeout.String())
			_, _ = fmt.Fprintf(sess.Stderr(), "\r\nopsdeck: closed after %s without a key press\r\n", s.opts.IdleTimeout)
			p.Quit()
		})
		if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
			s.log.Debug("session program ended", "user", id.User, "err", err)
		}
		close(finished)
		p.Kill()
		next(sess)
	}
}

// teardownGrace is how long a closed session's program may take to notice
// its input ended before it is told to quit.
const teardownGrace = 2 * time.Second

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int { return int(s.sessions.Load()) }

// Sources returns the data sources all sessions share.
func (s *Server) Sources() *cockpit.Sources { return s.src }

// Serve accepts sessions on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.ln = ln
	err := s.ssh.Serve(ln)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Listen opens the configured address.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("serve: listen on %s: %w — is another process using it?", s.opts.Listen, err)
	}
	return ln, nil
}

// Shutdown stops accepting, closes every session, waits for them (bounded by
// ctx) and stops the shared sources.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.ssh.Shutdown(ctx)
	_ = s.ssh.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.src.Close()
	if errors.Is(err, ssh.ErrServerClosed) {
		err = nil
	}
	return err
}

// idleWatch ends a session when no key was pressed for a while.
type idleWatch struct {
	timeout time.Duration
	last    atomic.Int64
}

func newIdleWatch(timeout time.Duration) *idleWatch {
	w := &idleWatch{timeout: timeout}
	w.last.Store(time.Now().UnixNano())
	return w
}

// filter notes every key press; it passes every message through.
func (w *idleWatch) filter(_ tea.Model, msg tea.Msg) tea.Msg {
	switch msg.(type) {
	case tea.KeyPressMsg, tea.MouseMsg, tea.PasteMsg:
		w.last.Store(time.Now().UnixNano())
	}
	return msg
}

// run calls expire once the session has been idle for the timeout, or returns
// when ctx ends.
func (w *idleWatch) run(ctx context.Context, expire func()) {
	tick := time.NewTicker(min(w.timeout/4, time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if time.Since(time.Unix(0, w.last.Load())) >= w.timeout {
				expire()
				return
			}
		}
	}
}
