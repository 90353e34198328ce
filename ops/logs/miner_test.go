package logs

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/redact"
)

func redactor(s string) string { return redact.String(s, dbPassword) }

func mine(t testing.TB, opts Options, lines []entry) *Miner {
	t.Helper()
	m := NewMiner(opts)
	for _, e := range lines {
		m.Add(e.src, e.line, e.at)
	}
	return m
}

func TestMineCorpus(t *testing.T) {
	lines := corpus(1, 2400, 100)
	m := mine(t, Options{Redact: redactor}, lines)
	got := m.Templates()
	want := map[string]int64{}
	for _, tp := range corpusTemplates(100) {
		want[tp.Text] = tp.Count
	}
	for _, tp := range got {
		t.Logf("%5d %-5s %s", tp.Count, tp.Level, tp.Text)
	}
	if len(got) != len(want) {
		t.Errorf("%d templates, want %d", len(got), len(want))
	}
	for _, tp := range got {
		if n, ok := want[tp.Text]; !ok {
			t.Errorf("unexpected template %q (%d)", tp.Text, tp.Count)
		} else if tp.Count != n {
			t.Errorf("%q: count %d, want %d", tp.Text, tp.Count, n)
		}
	}
	st := m.Stats()
	t.Logf("%d lines, %d counted", st.Lines, st.Counted)
	if st.Lines != int64(len(lines)) || st.Templates != len(want) || st.Evicted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestTemplateDetails checks what a template tells beside its text: times,
// sample, sources, level and ID.
func TestTemplateDetails(t *testing.T) {
	m := NewMiner(Options{Redact: redactor})
	read := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	add := func(src Source, line string) { m.Add(src, line, read) }
	add(worker, "2025-03-14T09:31:00Z ERROR worker could not connect to postgres://stock:"+dbPassword+"@db:5432/s: refused")
	add(worker, "2025-03-14T09:30:00Z ERROR worker could not connect to postgres://stock:"+dbPassword+"@db:5433/s: refused")
	add(api, "2025-03-14T09:32:00+01:00 ERROR worker could not connect to postgres://stock:"+dbPassword+"@db:5434/s: refused")
	add(api2, "ERROR worker could not connect to postgres://stock:"+dbPassword+"@db:5435/s: refused")
	add(api2, "password=hunter2 WARN something odd")
	ts := m.Templates()
	if len(ts) != 2 {
		t.Fatalf("templates %+v", ts)
	}
	tp := ts[0]
	if tp.Count != 4 || tp.Level != LevelError {
		t.Errorf("count %d level %v", tp.Count, tp.Level)
	}
	if want := time.Date(2025, 3, 14, 8, 32, 0, 0, time.UTC); !tp.FirstSeen.Equal(want) {
		t.Errorf("first seen %v, want %v (the line with a zone)", tp.FirstSeen, want)
	}
	if !tp.LastSeen.Equal(read) {
		t.Errorf("last seen %v, want %v (the line without a time)", tp.LastSeen, read)
	}
	if want := "2025-03-14T09:31:00Z ERROR worker could not connect to postgres://stock:xxxxx@db:5432/s: refused"; tp.Sample != want {
		t.Errorf("sample %q, want %q", tp.Sample, want)
	}
	if got := strings.Join(tp.Workloads, ","); got != "deploy/api,deploy/worker" {
		t.Errorf("workloads %s", got)
	}
	if got := strings.Join(tp.Pods, ","); got != api2.Pod+","+api.Pod+","+worker.Pod {
		t.Errorf("pods %s", got)
	}
	if tp.ID != TemplateID(tp.Text) || len(tp.ID) != 16 {
		t.Errorf("id %q", tp.ID)
	}
	if ts[1].Level != LevelWarn || strings.Contains(ts[1].Text+ts[1].Sample, "hunter2") {
		t.Errorf("second template %+v", ts[1])
	}
}

// TestPostgresLogLine: PostgreSQL's own lines (log_line_prefix '%m [%p] ')
// lose their time and zone name to the timestamp, not to the template.
func TestPostgresLogLine(t *testing.T) {
	m := NewMiner(Options{})
	read := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	m.Add(Source{}, "2025-03-14 09:30:00.505 UTC [9091] ERROR:  canceling statement due to statement timeout", read)
	m.Add(Source{}, "2025-03-14 09:31:00.007 UTC [9112] ERROR:  canceling statement due to statement timeout", read)
	ts := m.Templates()
	if len(ts) != 1 || ts[0].Count != 2 || strings.Contains(ts[0].Text, "UTC") || !strings.HasPrefix(ts[0].Text, "[<num>] ERROR:") {
		t.Fatalf("templates %+v", ts)
	}
	if want := time.Date(2025, 3, 14, 9, 30, 0, 505e6, time.UTC); !ts[0].FirstSeen.Equal(want) {
		t.Errorf("first seen %v, want %v", ts[0].FirstSeen, want)
	}
}

// TestRedactedCorpus: the DSN's password is in no template nor sample.
func TestRedactedCorpus(t *testing.T) {
	m := mine(t, Options{Redact: redactor}, corpus(1, 200, 100))
	for _, tp := range m.Templates() {
		if strings.Contains(tp.Text, dbPassword) || strings.Contains(tp.Sample, dbPassword) {
			t.Errorf("password in %+v", tp)
		}
	}
	// Without a redactor the password shows: the test would notice.
	m = mine(t, Options{}, corpus(1, 200, 100))
	found := false
	for _, tp := range m.Templates() {
		found = found || strings.Contains(tp.Sample, dbPassword)
	}
	if !found {
		t.Error("the corpus has no password to redact")
	}
}

// TestEvictLeastRecentlySeen: with a cap of 3 templates, a fourth evicts
// the one whose last line came first, and a later line of that kind starts
// over.
func TestEvictLeastRecentlySeen(t *testing.T) {
	m := NewMiner(Options{MaxTemplates: 3})
	at := corpusStart
	add := func(line string) {
		at = at.Add(time.Second)
		m.Add(Source{}, line, at)
	}
	add("ERROR alpha failed")
	add("ERROR beta failed")
	add("ERROR gamma failed")
	add("ERROR alpha failed") // alpha is now the most recent; beta the least
	add("ERROR delta failed") // evicts beta
	texts := func() string {
		var s []string
		for _, tp := range m.Templates() {
			s = append(s, fmt.Sprintf("%s=%d", tp.Text, tp.Count))
		}
		return strings.Join(s, ", ")
	}
	if got, want := texts(), "ERROR alpha failed=2, ERROR gamma failed=1, ERROR delta failed=1"; got != want {
		t.Errorf("after the eviction: %s, want %s", got, want)
	}
	add("ERROR beta failed") // evicts gamma; beta starts over at 1
	if got, want := texts(), "ERROR alpha failed=2, ERROR delta failed=1, ERROR beta failed=1"; got != want {
		t.Errorf("after beta came back: %s, want %s", got, want)
	}
	if st := m.Stats(); st.Evicted != 2 || st.Templates != 3 {
		t.Errorf("stats %+v", st)
	}
	// The tree holds no node of an evicted template.
	if n := countNodes(m); n != 1+1+3*2 {
		t.Errorf("%d tree nodes, want 8 (the root for 3 tokens, ERROR, and two nodes per template)", n)
	}
	// The corpus under a cap of 4 keeps 4 templates, the most recent ones.
	m = mine(t, Options{MaxTemplates: 4}, corpus(1, 0, 100))
	if st := m.Stats(); st.Templates != 4 || st.Evicted == 0 {
		t.Errorf("capped corpus: %+v", st)
	}
}

func countNodes(m *Miner) int {
	var walk func(n *node) int
	walk = func(n *node) int {
		c := 1
		for _, ch := range n.children {
			c += walk(ch)
		}
		return c
	}
	total := 0
	for _, r := range m.roots {
		total += walk(r)
	}
	return total
}

// TestDeterministic: the same lines give the same templates; lines over
// the limits are cut.
func TestDeterministic(t *testing.T) {
	lines := corpus(7, 1000, 100)
	a := mine(t, Options{}, lines).Templates()
	b := mine(t, Options{}, lines).Templates()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("two runs over the same lines differ")
	}
	m := NewMiner(Options{MaxLineBytes: 40, MaxTokens: 4})
	m.Add(Source{}, "ERROR "+strings.Repeat("word ", 100), corpusStart)
	tp := m.Templates()[0]
	if tp.Text != "ERROR word word <*>" || len(tp.Sample) != 40 {
		t.Errorf("long line: %q, sample %q", tp.Text, tp.Sample)
	}
}
