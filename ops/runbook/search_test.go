package runbook_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
)

func TestSearchFindsAPhraseDeepInARunbook(t *testing.T) {
	lib := builtin(t)
	// Near the end of troubleshooting.md, in the replication section.
	hits := lib.Search("requested WAL segment has already been removed", 5)
	if len(hits) == 0 {
		t.Fatal("no hit")
	}
	h := hits[0]
	if h.Book != "troubleshooting" || h.Section.Anchor != "postgres-replication" {
		t.Fatalf("best hit = %s#%s, want troubleshooting#postgres-replication", h.Book, h.Section.Anchor)
	}
	b, _ := lib.Book(h.Book)
	if h.Line < len(b.Lines())/3 {
		t.Errorf("hit on line %d of %d: the test should search deep in the file", h.Line, len(b.Lines()))
	}
	if !strings.Contains(strings.ToLower(b.Lines()[h.Line]), "requested wal segment") {
		t.Errorf("hit line %d = %q", h.Line, b.Lines()[h.Line])
	}
	if !strings.Contains(h.Snippet, "requested WAL segment") {
		t.Errorf("snippet = %q", h.Snippet)
	}
}

func TestSearch(t *testing.T) {
	lib, err := runbook.Load(fstest.MapFS{
		"a.md": {Data: []byte("# Alpha\n\nIntro about redis.\n\n## Redis memory\n\nEvictions grow when\nmaxmemory is reached.\n\n## Other\n\nmemory of redis mentioned apart.\n")},
		"b.md": {Data: []byte("# Beta\n\n## Notes\n\nNothing here about caches. A very long line that goes on and on about many things before it finally mentions evictions somewhere near its end so that the snippet must be trimmed around it.\n")},
	}, "", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  []string // book#anchor in order
	}{
		{"redis memory", []string{"a#redis-memory", "a#other"}},
		{`"memory of redis"`, []string{"a#other"}},
		{"EVICTIONS", []string{"a#redis-memory", "b#notes"}},
		{"when maxmemory", []string{"a#redis-memory"}}, // a phrase across a line break
		{"redis", []string{"a#redis-memory", "a#alpha", "a#other"}},
		{"nothing-matches-this", nil},
		{"   ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got []string
			for _, h := range lib.Search(tt.query, 0) {
				got = append(got, h.Book+"#"+h.Section.Anchor)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Search(%q) = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
	lib2, _ := runbook.Load(fstest.MapFS{"c.md": {Data: []byte("# C\n\n| **see** | [Restore drill](backup-restore.md#restore-drill) and `opsdeck check` |\n")}}, "", nil)
	if h := lib2.Search("restore drill", 1); len(h) != 1 || h[0].Snippet != "see Restore drill and opsdeck check" {
		t.Errorf("snippet = %+v: Markdown marks and link targets should go", h)
	}
	if hits := lib.Search("redis", 1); len(hits) != 1 {
		t.Errorf("limit 1 gave %d hits", len(hits))
	}
	h := lib.Search("evictions", 0)[1]
	if len([]rune(h.Snippet)) > 82 || !strings.Contains(h.Snippet, "evictions") || !strings.HasPrefix(h.Snippet, "…") {
		t.Errorf("long-line snippet = %q", h.Snippet)
	}
}

func BenchmarkSearch(b *testing.B) {
	lib, err := runbook.Load(runbooks.FS, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		lib.Search("replication slot wal", 20)
	}
}
