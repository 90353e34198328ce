package logs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// quotaKind is an error the first run never saw.
var quotaKind = kind{worker, 7, func(ts time.Time, r *rand.Rand) []string {
	return []string{fmt.Sprintf("%s ERROR worker market data quota exceeded for key %s, retry in %ds",
		stamp(ts), hexID(r, 16), 10+r.IntN(50))}
}}

// TestNewSincePreviousRun: a first run records the corpus's templates; a
// second run over other lines of the same kinds (other ids, fewer lines, so
// some templates come out less wildcarded) plus one new kind reports
// exactly that one as new, in this process and in the next.
func TestNewSincePreviousRun(t *testing.T) {
	dir := t.TempDir()
	path := StorePath(dir)
	run := func(lines []entry, at time.Time) []Template {
		t.Helper()
		st, err := LoadStore(path)
		if err != nil {
			t.Fatal(err)
		}
		ts := mine(t, Options{Redact: redactor}, lines).Templates()
		fresh := st.Diff("prod/stock", ts)
		st.Record("prod/stock", ts, at)
		if err := st.Save(); err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	first := run(corpus(1, 2400, 100), corpusStart.Add(time.Hour))
	if len(first) != len(corpusTemplates(100)) {
		t.Errorf("first run: %d new, want all %d", len(first), len(corpusTemplates(100)))
	}
	// Scale 2: one or two lines of each kind, so "indicator rsi failed
	// for <*>" comes out with a symbol in place of the <*>.
	second := corpus(2, 300, 2, quotaKind)
	fresh := run(second, corpusStart.Add(2*time.Hour))
	var texts []string
	for _, tp := range fresh {
		texts = append(texts, tp.Text)
	}
	want := "ERROR worker market data quota exceeded for key <hex>, retry in <dur>"
	if len(fresh) != 1 || fresh[0].Text != want || fresh[0].Count != 7 {
		t.Errorf("second run: new %q, want only %q (7 lines)", texts, want)
	}
	// The second run did see a less wildcarded template.
	specific := false
	for _, tp := range mine(t, Options{}, second).Templates() {
		specific = specific || strings.HasPrefix(tp.Text, "ERROR analysis indicator rsi failed for ") && !strings.HasSuffix(tp.Text, Wildcard)
	}
	if !specific {
		t.Error("the second run's corpus does not exercise a less wildcarded template")
	}
	// A third run of the same lines: nothing new; the store was saved.
	if fresh := run(second, corpusStart.Add(3*time.Hour)); len(fresh) != 0 {
		t.Errorf("third run: %d new", len(fresh))
	}
	st, err := LoadStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Known("prod/stock")); n != len(corpusTemplates(100))+1 {
		t.Errorf("%d templates known, want %d", n, len(corpusTemplates(100))+1)
	}
	if got := st.Saved("prod/stock"); !got.Equal(corpusStart.Add(3 * time.Hour)) {
		t.Errorf("saved %v", got)
	}
	// Scopes are apart: another scope knows nothing.
	if n := len(st.Diff("staging/stock", mine(t, Options{}, second).Templates())); n == 0 {
		t.Error("another scope knew the templates")
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), dbPassword) {
		t.Error("the store holds the password")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v", fi.Mode())
	}
}

func TestSameKind(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"ERROR db timeout after <dur>", "ERROR db timeout after <dur>", true},
		{"ERROR db timeout on shard-1", "ERROR db timeout on <*>", true}, // further wildcarded
		{"ERROR db timeout on <*>", "ERROR db timeout on shard-1", true}, // less
		{"ERROR db <*> on shard-1", "ERROR db timeout on <*>", true},     // each on one side
		{"ERROR db timeout after <dur>", "ERROR db timeout after <num>", false},
		{"ERROR db timeout after <dur>", "ERROR db timeout after <dur> again", false},
		{"ERROR db timeout", "ERROR cache timeout", false},
		{"ERROR <*> <*> <*>", "ERROR db timeout now", false}, // mostly wildcards: not everything
		{"ERROR <*>", "ERROR timeout", true},                 // one constant of two is half
	} {
		if got := SameKind(tc.a, tc.b); got != tc.want {
			t.Errorf("SameKind(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// TestRecordMerges: a known template meeting a further wildcarded one of
// its kind takes the wildcard, and its counts and times add up.
func TestRecordMerges(t *testing.T) {
	st, err := LoadStore(filepath.Join(t.TempDir(), "x", StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	t1, t2 := corpusStart, corpusStart.Add(time.Hour)
	st.Record("env", []Template{{ID: TemplateID("E a b c"), Text: "E a b c", Level: LevelWarn, Count: 2, FirstSeen: t1, LastSeen: t1}}, t1)
	st.Record("env", []Template{{ID: TemplateID("E a <*> c"), Text: "E a <*> c", Level: LevelError, Count: 3, FirstSeen: t2, LastSeen: t2}}, t2)
	k := st.Known("env")
	if len(k) != 1 {
		t.Fatalf("known %+v", k)
	}
	if want := (Known{ID: TemplateID("E a <*> c"), Text: "E a <*> c", Level: LevelError, Count: 5, FirstSeen: t1, LastSeen: t2}); k[0] != want {
		t.Errorf("merged %+v, want %+v", k[0], want)
	}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := LoadStore(st.path)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Known("env"); len(got) != 1 || got[0] != k[0] {
		t.Errorf("after a reload %+v", got)
	}
}

func TestLoadStoreErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"garbage": "not json",
		"version": `{"version": 99, "scopes": {}}`,
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := LoadStore(path); err == nil || !strings.Contains(err.Error(), "remove the file") {
			t.Errorf("%s: %v", name, err)
		}
	}
	st, err := LoadStore(filepath.Join(dir, "missing"))
	if err != nil || len(st.Known("any")) != 0 {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzLoadStore: the store file is read with the bound of every reader of
// bytes opsdeck does not write in the same breath.
func FuzzLoadStore(f *testing.F) {
	st := &Store{scopes: map[string]*scope{}}
	st.Record("prod/api", mine(f, Options{}, corpus(1, 0, 10)).Templates(), corpusStart)
	data, err := st.encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte(`{"version":1,"scopes":{"a":null,"b":{"templates":[{}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var err error
		s := &Store{scopes: map[string]*scope{}}
		fuzzcheck.Run(t, len(data), func() { err = s.decode(data) })
		if err != nil {
			return
		}
		for k := range s.scopes {
			s.Diff(k, []Template{{Text: "ERROR a b"}})
			s.Record(k, []Template{{Text: "ERROR a b"}}, corpusStart)
		}
		if _, err := s.encode(); err != nil {
			t.Fatal(err)
		}
	})
}
