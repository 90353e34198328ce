package logs

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/jsonbound"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// StoreFileName is the store's name inside the state dir.
const StoreFileName = "error-templates.json"

// StorePath returns the store's path inside stateDir; every reader and
// writer of the store uses it.
func StorePath(stateDir string) string { return filepath.Join(stateDir, StoreFileName) }

// MaxKnown caps the templates a Store keeps per scope; recording more drops
// the ones last seen longest ago.
const MaxKnown = 5000

// storeVersion is the file's format version.
const storeVersion = 1

// Known is a template a Store remembers from earlier runs.
type Known struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	Level     Level     `json:"level"`
	Count     int64     `json:"count"` // lines over every recorded run
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Store is the templates of earlier runs, per scope (the caller's key: an
// environment, "env/workload", …), kept in one JSON file. The intended use
// is Load, Diff, Record, Save; a Store is not safe for concurrent use, and
// two processes saving the same file keep the last one's.
type Store struct {
	path   string
	scopes map[string]*scope
}

type scope struct {
	Saved     time.Time `json:"saved"` // when a run was last recorded
	Templates []Known   `json:"templates"`
}

type storeFile struct {
	Version int               `json:"version"`
	Scopes  map[string]*scope `json:"scopes"`
}

// ErrUnreadableStore is what LoadStore's errors wrap: the file is there
// but cannot be read or is not a store.
var ErrUnreadableStore = errors.New("cannot read the error templates")

// LoadStore reads the store at path; a missing file is an empty store.
func LoadStore(path string) (*Store, error) {
	s := &Store{path: path, scopes: map[string]*scope{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadableStore, err)
	}
	if err := s.decode(data); err != nil {
		return nil, fmt.Errorf("%w %s: %w — remove the file to start over (every template will be new once)", ErrUnreadableStore, path, err)
	}
	return s, nil
}

func (s *Store) decode(data []byte) error {
	var f storeFile
	if err := jsonbound.Unmarshal(data, &f); err != nil {
		return err
	}
	if f.Version != storeVersion {
		return fmt.Errorf("format version %d, this opsdeck reads %d", f.Version, storeVersion)
	}
	for k, sc := range f.Scopes {
		if sc != nil {
			s.scopes[k] = sc
		}
	}
	return nil
}

// Save writes the store atomically (0600).
func (s *Store) Save() error {
	data, err := s.encode()
	if err != nil {
		return err
	}
	if err := safefile.Write(s.path, data, 0o600); err != nil {
		return fmt.Errorf("save the error templates: %w", err)
	}
	return nil
}

func (s *Store) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(storeFile{Version: storeVersion, Scopes: s.scopes}); err != nil {
		return nil, fmt.Errorf("encode the error templates: %w", err)
	}
	return buf.Bytes(), nil
}

// Known returns the templates remembered for a scope, most lines first.
func (s *Store) Known(scopeKey string) []Known {
	sc := s.scopes[scopeKey]
	if sc == nil {
		return nil
	}
	out := slices.Clone(sc.Templates)
	slices.SortStableFunc(out, func(a, b Known) int { return cmp.Compare(b.Count, a.Count) })
	return out
}

// Scopes returns the store's scope keys, sorted.
func (s *Store) Scopes() []string {
	out := make([]string, 0, len(s.scopes))
	for k := range s.scopes {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Saved returns when a run was last recorded for a scope (zero if never).
func (s *Store) Saved(scopeKey string) time.Time {
	if sc := s.scopes[scopeKey]; sc != nil {
		return sc.Saved
	}
	return time.Time{}
}

// Diff returns the templates of ts that are new for the scope: no
// remembered template is of the same kind ([SameKind]). They keep their
// order in ts. Every template of a scope never recorded is new.
func (s *Store) Diff(scopeKey string, ts []Template) []Template {
	idx := s.index(scopeKey)
	var fresh []Template
	for _, t := range ts {
		if idx.find(t.Text) < 0 {
			fresh = append(fresh, t)
		}
	}
	return fresh
}

// Record remembers the templates of a run for the scope, at the time at.
// A template of the same kind as a remembered one is merged into it: the
// text keeps the tokens both have and <*> where they differ (so its ID
// changes when it gains one), the counts add up, the times widen. Others
// are added. Above MaxKnown the templates last seen longest ago are
// dropped. Save writes the result.
func (s *Store) Record(scopeKey string, ts []Template, at time.Time) {
	sc := s.scopes[scopeKey]
	if sc == nil {
		sc = &scope{}
		s.scopes[scopeKey] = sc
	}
	idx := s.index(scopeKey)
	for _, t := range ts {
		if i := idx.find(t.Text); i >= 0 {
			k := &sc.Templates[i]
			k.Text = mergeText(k.Text, t.Text)
			k.ID = TemplateID(k.Text)
			idx.toks[i] = strings.Split(k.Text, " ")
			k.Count += t.Count
			k.Level = max(k.Level, t.Level)
			if t.FirstSeen.Before(k.FirstSeen) {
				k.FirstSeen = t.FirstSeen
			}
			if t.LastSeen.After(k.LastSeen) {
				k.LastSeen = t.LastSeen
			}
			continue
		}
		sc.Templates = append(sc.Templates, Known{
			ID: t.ID, Text: t.Text, Level: t.Level, Count: t.Count,
			FirstSeen: t.FirstSeen, LastSeen: t.LastSeen,
		})
		idx.add(t.Text)
	}
	if len(sc.Templates) > MaxKnown {
		slices.SortStableFunc(sc.Templates, func(a, b Known) int { return b.LastSeen.Compare(a.LastSeen) })
		sc.Templates = slices.Clip(sc.Templates[:MaxKnown])
	}
	sc.Saved = at
}

// knownIndex holds a scope's remembered texts split into tokens, by count.
type knownIndex struct {
	toks  [][]string
	byLen map[int][]int
}

func (s *Store) index(scopeKey string) *knownIndex {
	idx := &knownIndex{byLen: map[int][]int{}}
	if sc := s.scopes[scopeKey]; sc != nil {
		for _, k := range sc.Templates {
			idx.add(k.Text)
		}
	}
	return idx
}

func (idx *knownIndex) add(text string) {
	t := strings.Split(text, " ")
	idx.byLen[len(t)] = append(idx.byLen[len(t)], len(idx.toks))
	idx.toks = append(idx.toks, t)
}

// find returns the index of the first remembered template of text's kind,
// or -1.
func (idx *knownIndex) find(text string) int {
	t := strings.Split(text, " ")
	for _, i := range idx.byLen[len(t)] {
		if sameKind(idx.toks[i], t) {
			return i
		}
	}
	return -1
}

// SameKind reports whether two template texts are of the same kind, the
// rule by which a Store knows a template of an earlier run although its
// text changed: Drain turns a position into <*> as soon as two lines
// differ there, so the same kind of error comes out more or less
// wildcarded depending on the lines a run saw. Two texts are of the same
// kind when they have as many tokens, every position where neither has
// <*> holds the same token in both, and such shared constant tokens make
// at least half of the positions — so a text wildcarded further (or less)
// than a known one is known, while one that is mostly <*> ("ERROR <*> <*>
// <*>") does not match everything of its length. Placeholders are
// constants here: <num> and <dur> differ.
func SameKind(a, b string) bool {
	return a == b || sameKind(strings.Split(a, " "), strings.Split(b, " "))
}

func sameKind(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	shared := 0
	for i, x := range a {
		y := b[i]
		switch {
		case x == y && x != Wildcard:
			shared++
		case x == Wildcard || y == Wildcard:
		default:
			return false
		}
	}
	return 2*shared >= len(a)
}

// mergeText is a and b, of the same kind, with <*> where they differ.
func mergeText(a, b string) string {
	if a == b {
		return a
	}
	x, y := strings.Split(a, " "), strings.Split(b, " ")
	for i := range x {
		if x[i] != y[i] {
			x[i] = Wildcard
		}
	}
	return strings.Join(x, " ")
}
