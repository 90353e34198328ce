package audit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/version"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// Log appends records to an audit file. It is safe for concurrent use, and
// several processes may append to the same file: each record is written with
// a single write(2) on a file opened with O_APPEND, then fsynced.
//
// A nil *Log is valid and records nothing, for callers that run without an
// audit log (tests, read-only tools).
type Log struct {
	f   *file
	who string
	ssh *SSH
}

// file is the shared, mutex-guarded part of a Log and its identity views.
type file struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	secrets []string
	closed  bool
	// broken, when set, is why the log could not be opened: every write
	// returns it.
	broken error
}

// Open opens (creating it if needed) the audit log at path for appending.
// The file is created 0600 and missing directories 0700; an existing file
// with looser permissions is tightened to 0600.
func Open(path string) (*Log, error) {
	if path == "" {
		return nil, errors.New("audit: log path is empty — set state_dir in the config")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: create directory for %s: %w — check permissions or set state_dir", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w — check its permissions", path, err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: %s is readable by others and cannot be made private: %w — chmod 600 it", path, err)
		}
	}
	return &Log{f: &file{f: f, path: path}, who: CurrentUser()}, nil
}

// Unavailable returns a Log for path that could not be opened: every write
// fails with err, and Err returns it, so the actions that need a record are
// refused with the reason while reading goes on.
func Unavailable(path string, err error) *Log {
	return &Log{f: &file{path: path, broken: err, closed: true}, who: CurrentUser()}
}

// Err returns why the log cannot be written: the error it was opened with
// (Unavailable), an error for a nil Log, or nil.
func (l *Log) Err() error {
	switch {
	case l == nil:
		return errors.New("audit: no audit log is open")
	case l.f.broken != nil:
		return l.f.broken
	}
	return nil
}

// Path returns the file the log writes to ("" for a nil Log).
func (l *Log) Path() string {
	if l == nil {
		return ""
	}
	return l.f.path
}

// WithWho returns a view of l that records who as the acting user. Views
// share the underlying file; closing one closes all.
func (l *Log) WithWho(who string) *Log {
	if l == nil {
		return nil
	}
	c := *l
	c.who = who
	return &c
}

// WithSSH returns a view of l whose records carry the SSH identity s, for
// actions taken in an `opsdeck serve` session. Views share the file.
func (l *Log) WithSSH(s SSH) *Log {
	if l == nil {
		return nil
	}
	c := *l
	c.ssh = &s
	return &c
}

// AddSecrets registers values (passwords from the config) that must never
// appear in recorded error text. It applies to l and all its views.
func (l *Log) AddSecrets(secrets ...string) {
	if l == nil {
		return
	}
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			l.f.secrets = append(l.f.secrets, s)
		}
	}
}

// Close closes the file. Further writes fail.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	if l.f.closed {
		return nil
	}
	l.f.closed = true
	return l.f.f.Close()
}

// Begin starts recording an action on target. Params are redacted with
// [redact.Params] straight away, so the caller may reuse the map. Call
// [Entry.End] when the action finishes, whatever its outcome.
func (l *Log) Begin(action, target string, params map[string]any) *Entry {
	return &Entry{
		log:     l,
		rec:     Record{Action: action, Target: target, Params: redact.Params(params), Start: time.Now()},
		secrets: redact.Secrets(params),
	}
}

// Refuse records an action that was not attempted, with reason as its error
// (for example ErrReadOnly, or a failed confirmation). It returns the write
// error, if any.
func (l *Log) Refuse(action, target string, reason error) error {
	if reason == nil {
		reason = ErrRefused
	}
	e := l.Begin(action, target, nil)
	e.refused = true
	return e.End(reason)
}

// Entry is an action in progress.
type Entry struct {
	log     *Log
	rec     Record
	secrets []string
	refused bool
	once    sync.Once
}

// SetParam adds or replaces a parameter once the action knows it (the
// size of what it wrote), redacted as Begin's are. Call it before End.
func (e *Entry) SetParam(key string, value any) {
	if e == nil {
		return
	}
	p := redact.Params(map[string]any{key: value})
	if e.rec.Params == nil {
		e.rec.Params = map[string]any{}
	}
	e.rec.Params[key] = p[key]
	e.secrets = append(e.secrets, redact.Secrets(map[string]any{key: value})...)
}

// End completes the entry with the action's outcome (nil for success) and
// appends its record. It returns only the audit write's error; the action's
// own err is the caller's to return. Calling End twice records once and
// reports an error the second time.
func (e *Entry) End(err error) error {
	if e == nil {
		return nil
	}
	first := false
	e.once.Do(func() { first = true })
	if !first {
		return errors.New("audit: entry ended twice — call End once per Begin")
	}
	if e.log == nil {
		return nil
	}
	r := e.rec
	r.End = time.Now()
	r.DurationMS = r.End.Sub(r.Start).Milliseconds()
	r.Result = resultOf(err)
	if e.refused {
		r.Result = ResultRefused
	}
	r.Who = e.log.who
	r.SSH = e.log.ssh
	r.OpsdeckVersion = version.String()
	id, idErr := newID(r.Start)
	if idErr != nil {
		return idErr
	}
	r.ID = id
	return e.log.f.append(&r, err, e.secrets)
}

// append redacts and writes one record as a single line.
func (f *file) append(r *Record, actionErr error, secrets []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken != nil {
		return fmt.Errorf("the record for %s was not written: %w", r.Action, f.broken)
	}
	if f.closed {
		return errors.New("audit: log is closed — the record for " + r.Action + " was not written")
	}
	if actionErr != nil {
		all := append(append([]string(nil), f.secrets...), secrets...)
		r.Error = redact.String(actionErr.Error(), all...)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode record for %s: %w", r.Action, err)
	}
	line = append(line, '\n')
	if _, err := f.f.Write(line); err != nil {
		return fmt.Errorf("audit: write %s: %w — check free space and permissions", f.path, err)
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("audit: sync %s: %w", f.path, err)
	}
	return nil
}

// newID returns a time-ordered unique id: start time in UTC plus 6 random bytes.
func newID(t time.Time) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("audit: generate record id: %w", err)
	}
	return t.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:]), nil
}

// FileName is the audit log's name inside the state dir.
const FileName = "audit.log"

// PathIn returns the audit log's path inside stateDir; every writer and
// reader of the log uses it.
func PathIn(stateDir string) string { return filepath.Join(stateDir, FileName) }
