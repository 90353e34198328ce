package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/lockfile"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/redact"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// DirName is the incidents' directory inside the state dir.
const DirName = "incidents"

// Dir returns the incidents' directory inside stateDir.
func Dir(stateDir string) string { return filepath.Join(stateDir, DirName) }

// lockWait bounds how long a change waits for another one to finish.
const lockWait = 5 * time.Second

// ErrNotFound is returned (wrapped) for an incident that does not exist.
var ErrNotFound = errors.New("no such incident")

// ErrNoneOpen is returned (wrapped) when a change names no incident and
// none is open.
var ErrNoneOpen = errors.New("no incident is open")

// ErrAlreadyOpen is returned (wrapped) when an incident is opened while
// another is.
var ErrAlreadyOpen = errors.New("an incident is already open")

// Store keeps the incidents of one environment in the state dir. It is safe
// for concurrent use, by goroutines and by processes.
type Store struct {
	dir     string
	env     access.Env
	audit   *audit.Log
	secrets []string
	// Now is the clock; tests fix it.
	Now func() time.Time
}

// NewStore returns the store of cfg's environment, auditing to log (which
// may be nil only in tests that do not change anything).
func NewStore(cfg *config.Config, log *audit.Log) *Store {
	return &Store{
		dir:     Dir(cfg.StateDir),
		env:     cfg.Env(),
		audit:   log,
		secrets: cfg.Secrets(),
		Now:     time.Now,
	}
}

// Dir is where the store keeps its files.
func (s *Store) Dir() string { return s.dir }

// Redact removes the configuration's secrets from text: every title and
// note goes through it before it is stored.
func (s *Store) Redact(text string) string { return redact.String(text, s.secrets...) }

// reader refuses a context without an identity: incidents are readable by
// every role, but not by nobody.
func reader(ctx context.Context) error {
	if _, ok := access.FromContext(ctx); !ok {
		return fmt.Errorf("reading incidents refused: the request carries no identity (this is a bug in opsdeck: report it): %w", access.ErrNoIdentity)
	}
	return nil
}

// List returns the environment's incidents, newest first.
func (s *Store) List(ctx context.Context) ([]Incident, error) {
	if err := reader(ctx); err != nil {
		return nil, err
	}
	return s.list()
}

func (s *Store) list() ([]Incident, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	var out []Incident
	for _, e := range ents {
		id, ok := fileID(e.Name())
		if !ok {
			continue
		}
		inc, err := s.read(id)
		if err != nil {
			slog.Warn("incident file unreadable", "file", e.Name(), logging.Err(err))
			continue
		}
		if inc.Env == s.env.Name {
			out = append(out, inc)
		}
	}
	slices.SortFunc(out, func(a, b Incident) int { return b.ID - a.ID })
	return out, nil
}

// Get returns incident id; id 0 is the open one.
func (s *Store) Get(ctx context.Context, id int) (Incident, error) {
	if err := reader(ctx); err != nil {
		return Incident{}, err
	}
	return s.resolve(id)
}

// Current returns the environment's open incident, and false when none is.
func (s *Store) Current(ctx context.Context) (Incident, bool, error) {
	if err := reader(ctx); err != nil {
		return Incident{}, false, err
	}
	return s.current()
}

func (s *Store) current() (Incident, bool, error) {
	all, err := s.list()
	if err != nil {
		return Incident{}, false, err
	}
	for _, inc := range all {
		if inc.IsOpen() {
			return inc, true, nil
		}
	}
	return Incident{}, false, nil
}

// resolve reads incident id, or the open one for 0.
func (s *Store) resolve(id int) (Incident, error) {
	if id == 0 {
		inc, ok, err := s.current()
		if err != nil {
			return Incident{}, err
		}
		if !ok {
			return Incident{}, fmt.Errorf("%w in environment %q: name one (`opsdeck incident list`) or open one", ErrNoneOpen, s.env.Name)
		}
		return inc, nil
	}
	inc, err := s.read(id)
	if errors.Is(err, fs.ErrNotExist) {
		return Incident{}, fmt.Errorf("incident %d: %w — `opsdeck incident list` shows them", id, ErrNotFound)
	}
	if err != nil {
		return Incident{}, err
	}
	if inc.Env != s.env.Name {
		return Incident{}, fmt.Errorf("incident %d belongs to environment %q, not %q: %w", id, inc.Env, s.env.Name, ErrNotFound)
	}
	return inc, nil
}

// Open opens an incident at level with title, as the session of ctx. Only
// one incident is open per environment: a second is refused with the open
// one's name, to be noted on or closed first.
func (s *Store) Open(ctx context.Context, level, title string) (Incident, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return Incident{}, err
	}
	title = s.Redact(strings.TrimSpace(title))
	if title == "" {
		return Incident{}, errors.New(`an incident needs a title: what is broken, e.g. "API 5xx after deploy"`)
	}
	if err := s.refuse(ctx, access.IncidentOpen, "incident"); err != nil {
		return Incident{}, err
	}
	var opened Incident
	err = s.locked(ctx, "incident.open", func() error {
		if cur, ok, err := s.current(); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%s (%s %q, opened by %s %s ago) is still open: add a note to it (`opsdeck incident note`) or close it first: %w",
				cur.Name(), cur.Level, cur.Title, cur.OpenedBy, Short(s.Now().Sub(cur.OpenedAt)), ErrAlreadyOpen)
		}
		id, err := s.nextID()
		if err != nil {
			return err
		}
		who := user(ctx)
		now := s.Now()
		opened = Incident{
			ID: id, Env: s.env.Name, Level: lvl, Title: title, OpenedBy: who, OpenedAt: now,
			Entries: []Entry{{At: now, Kind: KindOpen, Who: who, Text: fmt.Sprintf("%s opened: %s", lvl, title)}},
		}
		return s.write(opened)
	})
	s.audited(ctx, "incident.open", opened.Name(), map[string]any{"level": lvl, "title": title}, err)
	return opened, err
}

// Note adds text to incident id (0: the open one) as the session of ctx.
func (s *Store) Note(ctx context.Context, id int, text string) (Incident, error) {
	text = s.Redact(strings.TrimSpace(text))
	if text == "" {
		return Incident{}, errors.New("a note needs text")
	}
	return s.change(ctx, id, access.IncidentNote, map[string]any{"note": text}, func(inc *Incident) error {
		if !inc.IsOpen() {
			return fmt.Errorf("%s is closed: open a new one, or read its postmortem %s", inc.Name(), inc.Postmortem)
		}
		inc.Entries = append(inc.Entries, Entry{At: s.Now(), Kind: KindNote, Who: user(ctx), Text: text})
		return nil
	})
}

// AddBundle records a diagnostic bundle written for incident id (0: the
// open one).
func (s *Store) AddBundle(ctx context.Context, id int, path string, size int64) (Incident, error) {
	return s.change(ctx, id, access.IncidentNote, map[string]any{"bundle": path, "size": size}, func(inc *Incident) error {
		now, who := s.Now(), user(ctx)
		inc.Bundles = append(inc.Bundles, Bundle{Path: path, Size: size, At: now, Who: who})
		inc.Entries = append(inc.Entries, Entry{At: now, Kind: KindBundle, Who: who,
			Text: fmt.Sprintf("diagnostic bundle %s (%s)", path, progress.Bytes(size))})
		return nil
	})
}

// RecordBundle records a written bundle on the open incident, and reports
// whether one was open: a bundle may be written outside an incident.
func (s *Store) RecordBundle(ctx context.Context, path string, size int64) (Incident, bool, error) {
	inc, open, err := s.Current(ctx)
	if err != nil || !open {
		return Incident{}, false, err
	}
	inc, err = s.AddBundle(ctx, inc.ID, path, size)
	return inc, err == nil, err
}

// Record adds the entries a recorder saw to incident id, skipping those
// whose Key is already there. It needs the IncidentNote role: the cockpit's
// recorder acts as a system identity with it.
func (s *Store) Record(ctx context.Context, id int, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := access.Check(ctx, s.env, access.IncidentNote); err != nil {
		return err
	}
	return s.locked(ctx, "incident.record", func() error {
		inc, err := s.resolve(id)
		if err != nil {
			return err
		}
		if !inc.IsOpen() {
			return nil
		}
		n := len(inc.Entries)
		for _, e := range entries {
			if e.Key == "" || !inc.hasKey(e.Key) {
				e.Text = s.Redact(e.Text)
				inc.Entries = append(inc.Entries, e)
			}
		}
		if len(inc.Entries) == n {
			return nil
		}
		return s.write(inc)
	})
}

// Close closes incident id (0: the open one) with summary and writes its
// postmortem skeleton from timeline (built by the caller, which holds the
// clients; nil for none) into the state dir. Closing someone else's
// incident needs the admin role.
func (s *Store) Close(ctx context.Context, id int, summary string, timeline func(Incident) []Entry) (Incident, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	action := access.IncidentClose
	if inc.OpenedBy != user(ctx) {
		action = access.IncidentCloseAny
	}
	summary = s.Redact(strings.TrimSpace(summary))
	return s.change(ctx, inc.ID, action, map[string]any{"summary": summary}, func(inc *Incident) error {
		if !inc.IsOpen() {
			return fmt.Errorf("%s was already closed by %s at %s", inc.Name(), inc.ClosedBy, inc.ClosedAt.Format(time.RFC3339))
		}
		now, who := s.Now(), user(ctx)
		inc.ClosedAt, inc.ClosedBy, inc.Summary = now, who, summary
		inc.Entries = append(inc.Entries, Entry{At: now, Kind: KindClose, Who: who,
			Text: fmt.Sprintf("closed after %s", Short(inc.Elapsed(now)))})
		var tl []Entry
		if timeline != nil {
			tl = timeline(*inc)
		} else {
			tl = inc.Entries
		}
		path := filepath.Join(s.dir, fmt.Sprintf("postmortem-%d.md", inc.ID))
		if err := safefile.Write(path, []byte(Postmortem(*inc, tl)), 0o600); err != nil {
			return fmt.Errorf("write the postmortem skeleton: %w", err)
		}
		inc.Postmortem = path
		return nil
	})
}

// change applies fn to incident id under the lock, after checking that the
// session may run action, and audits it.
func (s *Store) change(ctx context.Context, id int, action access.Action, params map[string]any, fn func(*Incident) error) (Incident, error) {
	target := "incident"
	if id != 0 {
		target = fmt.Sprintf("incident %d", id)
	}
	if err := s.refuse(ctx, action, target); err != nil {
		return Incident{}, err
	}
	var out Incident
	err := s.locked(ctx, string(action), func() error {
		inc, err := s.resolve(id)
		if err != nil {
			return err
		}
		target = inc.Name()
		if err := fn(&inc); err != nil {
			return err
		}
		out = inc
		return s.write(inc)
	})
	s.audited(ctx, string(action), target, params, err)
	return out, err
}

// refuse checks the session's role for action, recording a refusal.
func (s *Store) refuse(ctx context.Context, action access.Action, target string) error {
	if err := s.audit.Err(); err != nil {
		return fmt.Errorf("%s refused: the audit log cannot be written: %w", action, err)
	}
	err := access.Check(ctx, s.env, action)
	if err != nil {
		if aerr := access.Audit(ctx, s.audit).Refuse(string(action), target, err); aerr != nil {
			slog.Warn("audit write failed", logging.Err(aerr))
		}
	}
	return err
}

// audited records a change that was attempted.
func (s *Store) audited(ctx context.Context, action, target string, params map[string]any, err error) {
	e := access.Audit(ctx, s.audit).Begin(action, target, params)
	if aerr := e.End(err); aerr != nil {
		slog.Warn("audit write failed", logging.Err(aerr))
	}
}

// locked runs fn holding the store's lock, waiting up to lockWait for
// another change to finish.
func (s *Store) locked(ctx context.Context, action string, fn func() error) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w — check the state dir's permissions and free space", s.dir, err)
	}
	path := filepath.Join(s.dir, ".lock")
	deadline := time.Now().Add(lockWait)
	for {
		l, err := lockfile.Acquire(path, lockfile.Exclusive, lockfile.Self(action, access.Who(ctx)))
		if err == nil {
			defer func() { _ = l.Release() }()
			return fn()
		}
		var le *lockfile.LockedError
		if !errors.As(err, &le) || time.Now().After(deadline) {
			if le != nil {
				return fmt.Errorf("the incidents are being changed: %s; %s", le.Held(), le.Advice())
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Store) path(id int) string { return filepath.Join(s.dir, strconv.Itoa(id)+".json") }

func fileID(name string) (int, bool) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(base)
	return id, err == nil && id > 0
}

func (s *Store) read(id int) (Incident, error) {
	data, err := os.ReadFile(s.path(id))
	if err != nil {
		return Incident{}, err
	}
	var inc Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		return Incident{}, fmt.Errorf("incident %d: %s is damaged: %w — move it aside to go on", id, s.path(id), err)
	}
	return inc, nil
}

func (s *Store) write(inc Incident) error {
	data, err := json.MarshalIndent(inc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", inc.Name(), err)
	}
	if err := safefile.Write(s.path(inc.ID), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w — check the state dir's free space", inc.Name(), err)
	}
	return nil
}

// nextID is one more than the highest ID of any environment's incident.
func (s *Store) nextID() (int, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("read incidents: %w", err)
	}
	high := 0
	for _, e := range ents {
		if id, ok := fileID(e.Name()); ok && id > high {
			high = id
		}
	}
	return high + 1, nil
}

// user is the user of ctx's identity.
func user(ctx context.Context) string {
	id, _ := access.FromContext(ctx)
	return id.User
}
