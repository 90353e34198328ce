package logs

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Options tune a Miner. The zero value of each field takes its default.
type Options struct {
	// Depth is how many leading tokens route a line through the tree
	// below its token count (default 3). Lines whose first Depth tokens
	// differ never share a template, unless a token holds a digit or a
	// placeholder (routed as <*>) or a node is full (see MaxChildren).
	Depth int
	// Similarity is the least share of equal tokens, among the positions
	// the tree did not already compare, for a line to join a template
	// (default 0.5; between 0 and 1).
	Similarity float64
	// MaxChildren caps the children of a tree node (default 100); tokens
	// met when a node is full are routed as <*>.
	MaxChildren int
	// MaxTemplates caps the templates kept (default 1000). Making one more
	// evicts the least recently seen: the one whose last line came first
	// in the order of Add calls (not by the lines' timestamps). Its counts
	// are lost; a later line of its kind starts a new template.
	MaxTemplates int
	// MaxLineBytes cuts longer lines before they are read (default 2048).
	MaxLineBytes int
	// MaxTokens caps a line's tokens (default 64): a longer line keeps the
	// first MaxTokens-1 and a last <*>.
	MaxTokens int
	// MaxSources caps the workloads and the pods remembered per template
	// (default 16 of each); later ones are not listed.
	MaxSources int
	// Redact, when set, is applied to every counted line (after its level
	// and timestamps are read, before it is masked) and to samples, so
	// neither a template nor a sample holds what it removes. Pass the
	// configuration's secrets through ops/redact:
	//
	//	Redact: func(s string) string { return redact.String(s, secrets...) }
	Redact func(string) string
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Depth, 3)
	def(&o.MaxChildren, 100)
	def(&o.MaxTemplates, 1000)
	def(&o.MaxLineBytes, 2048)
	def(&o.MaxTokens, 64)
	def(&o.MaxSources, 16)
	if o.MaxChildren < 2 {
		o.MaxChildren = 2
	}
	if o.MaxTokens < 2 {
		o.MaxTokens = 2
	}
	if o.Similarity <= 0 || o.Similarity > 1 {
		o.Similarity = 0.5
	}
	return o
}

// Source is where a line came from.
type Source struct {
	Workload string // e.g. "deploy/api"; empty when unknown
	Pod      string // e.g. "api-7c9f8d-x2kq"; empty when unknown
}

// Template is one kind of error or warning line.
type Template struct {
	// ID is the first 16 hex digits of the SHA-256 of Text: the same text
	// has the same ID in every run and process. A template that gains a
	// wildcard gets a new ID (see SameKind for how a Store still knows it).
	ID string `json:"id"`
	// Text is the masked tokens joined by single spaces.
	Text  string `json:"text"`
	Level Level  `json:"level"` // the highest level of its lines
	Count int64  `json:"count"`
	// FirstSeen and LastSeen are the earliest and latest times of its
	// lines: a line's own timestamp when it has one, else the time passed
	// to Add.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Sample is its first line, cut at MaxLineBytes and redacted.
	Sample string `json:"sample"`
	// Workloads and Pods are the sources of its lines, sorted, at most
	// MaxSources of each.
	Workloads []string `json:"workloads,omitempty"`
	Pods      []string `json:"pods,omitempty"`
}

// TemplateID returns the ID of a template's text.
func TemplateID(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:8])
}

// Stats counts what a Miner has read.
type Stats struct {
	Lines     int64 // every line passed to Add
	Counted   int64 // the error and warning lines among them
	Templates int   // templates kept now
	Evicted   int64 // templates evicted by MaxTemplates
}

// Miner groups error and warning lines into templates. It is safe for
// concurrent use; the templates depend on the order of the lines, so feed
// it from one goroutine (or in a fixed order) for reproducible results.
type Miner struct {
	mu    sync.Mutex
	opts  Options
	roots map[int]*node // by token count
	// recent is the list of clusters, most recently seen first.
	head, tail *cluster
	n          int
	seq        uint64
	stats      Stats
	tz         tokenizer
}

// node is a node of the prefix tree; a leaf holds clusters.
type node struct {
	parent   *node
	key      string
	children map[string]*node
	clusters []*cluster
}

// cluster is a template being mined.
type cluster struct {
	tokens     []string
	level      Level
	count      int64
	first      time.Time
	last       time.Time
	sample     string
	workloads  []string
	pods       []string
	leaf       *node
	created    uint64
	prev, next *cluster
}

// NewMiner returns an empty Miner.
func NewMiner(opts Options) *Miner {
	return &Miner{opts: opts.withDefaults(), roots: map[int]*node{}}
}

// Add reads one line from src, read at the time at, and reports whether it
// was counted (an error or a warning). A line's own leading timestamp, when
// it has one, is its time; at is used otherwise (and gives klog's year).
func (m *Miner) Add(src Source, line string, at time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Lines++
	if len(line) > m.opts.MaxLineBytes {
		cut := m.opts.MaxLineBytes
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut]
	}
	p, ok := parse(line, at)
	if !ok {
		return false
	}
	m.stats.Counted++
	text := p.text
	if m.opts.Redact != nil {
		text = m.opts.Redact(text)
	}
	toks := m.tz.tokenize(text, m.opts.MaxTokens)
	seen := at
	if p.hasAt {
		seen = p.at
	}
	c := m.match(toks)
	if c == nil {
		c = m.create(toks, line)
		c.first, c.last = seen, seen
	} else {
		for i, t := range c.tokens {
			if t != toks[i] && t != Wildcard {
				c.tokens[i] = Wildcard
			}
		}
		if seen.Before(c.first) {
			c.first = seen
		}
		if seen.After(c.last) {
			c.last = seen
		}
		m.unlink(c)
	}
	m.pushFront(c)
	c.count++
	c.level = max(c.level, p.level)
	c.workloads = addSorted(c.workloads, src.Workload, m.opts.MaxSources)
	c.pods = addSorted(c.pods, src.Pod, m.opts.MaxSources)
	return true
}

// match returns the cluster the tokens join, or nil.
func (m *Miner) match(toks []string) *cluster {
	leaf := m.route(toks, false)
	if leaf == nil {
		return nil
	}
	depth := min(m.opts.Depth, len(toks))
	var best *cluster
	bestSim, bestWild := -1.0, -1
	for _, c := range leaf.clusters {
		sim, wild := similarity(c.tokens, toks, depth)
		if sim > bestSim || (sim == bestSim && wild > bestWild) {
			best, bestSim, bestWild = c, sim, wild
		}
	}
	if best == nil || bestSim < m.opts.Similarity {
		return nil
	}
	return best
}

// similarity compares a template with a line of the same length. The first
// depth positions routed the line here: equal ones are not counted, a
// differing one (the line went through a <*> node) counts as a mismatch.
// Among the rest, a token equal to the template's constant token matches; a
// template's <*> does not, but the template with more of them wins a tie.
func similarity(tmpl, toks []string, depth int) (float64, int) {
	same, total, wild := 0, 0, 0
	for i, t := range tmpl {
		if t == Wildcard {
			wild++
		}
		if i < depth {
			if t != toks[i] {
				total++
			}
			continue
		}
		total++
		if t != Wildcard && t == toks[i] {
			same++
		}
	}
	if total == 0 {
		return 1, wild
	}
	return float64(same) / float64(total), wild
}

// routeKey is the child a token goes to: tokens with a digit or a
// placeholder go to <*>.
func routeKey(t string) string {
	if strings.ContainsAny(t, "0123456789<") {
		return Wildcard
	}
	return t
}

// route walks the tree for toks; with create, missing nodes are made.
func (m *Miner) route(toks []string, create bool) *node {
	cur := m.roots[len(toks)]
	if cur == nil {
		if !create {
			return nil
		}
		cur = &node{key: "", children: map[string]*node{}}
		m.roots[len(toks)] = cur
	}
	for i := range min(m.opts.Depth, len(toks)) {
		key := routeKey(toks[i])
		next := cur.children[key]
		if next == nil && key != Wildcard && (!create || len(cur.children) >= m.opts.MaxChildren-1) {
			key = Wildcard
			next = cur.children[key]
		}
		if next == nil {
			if !create {
				return nil
			}
			next = &node{parent: cur, key: key, children: map[string]*node{}}
			cur.children[key] = next
		}
		cur = next
	}
	return cur
}

// create makes a cluster for toks, evicting the least recently seen one
// when the cap is reached.
func (m *Miner) create(toks []string, line string) *cluster {
	if m.n >= m.opts.MaxTemplates && m.tail != nil {
		m.evict(m.tail)
	}
	sample := line
	if m.opts.Redact != nil {
		sample = m.opts.Redact(sample)
	}
	m.seq++
	c := &cluster{tokens: slices.Clone(toks), sample: strings.Clone(sample), created: m.seq}
	c.leaf = m.route(toks, true)
	c.leaf.clusters = append(c.leaf.clusters, c)
	m.n++
	return c
}

// evict removes c and the tree nodes left empty.
func (m *Miner) evict(c *cluster) {
	m.unlink(c)
	m.n--
	m.stats.Evicted++
	leaf := c.leaf
	if i := slices.Index(leaf.clusters, c); i >= 0 {
		leaf.clusters = slices.Delete(leaf.clusters, i, i+1)
	}
	for n := leaf; n != nil && len(n.clusters) == 0 && len(n.children) == 0; n = n.parent {
		if n.parent == nil {
			for k, root := range m.roots {
				if root == n {
					delete(m.roots, k)
				}
			}
			break
		}
		delete(n.parent.children, n.key)
	}
}

func (m *Miner) unlink(c *cluster) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		m.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		m.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

func (m *Miner) pushFront(c *cluster) {
	c.next = m.head
	if m.head != nil {
		m.head.prev = c
	}
	m.head = c
	if m.tail == nil {
		m.tail = c
	}
}

// addSorted inserts v into the sorted set s unless it is empty, present or
// s is full.
func addSorted(s []string, v string, limit int) []string {
	if v == "" {
		return s
	}
	i, found := slices.BinarySearch(s, v)
	if found || len(s) >= limit {
		return s
	}
	return slices.Insert(s, i, strings.Clone(v))
}

// Stats returns what the miner has read so far.
func (m *Miner) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Templates = m.n
	return s
}

// Templates returns the templates, most frequent first (then by first
// seen, then by text). Clusters in different leaves that ended with the
// same text are reported as one template.
func (m *Miner) Templates() []Template {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cs []*cluster
	for c := m.head; c != nil; c = c.next {
		cs = append(cs, c)
	}
	// Creation order, so that merged duplicates keep the first sample.
	slices.SortFunc(cs, func(a, b *cluster) int { return cmp.Compare(a.created, b.created) })
	byText := map[string]int{}
	var out []Template
	for _, c := range cs {
		text := strings.Join(c.tokens, " ")
		if i, ok := byText[text]; ok {
			t := &out[i]
			t.Count += c.count
			t.Level = max(t.Level, c.level)
			if c.first.Before(t.FirstSeen) {
				t.FirstSeen = c.first
			}
			if c.last.After(t.LastSeen) {
				t.LastSeen = c.last
			}
			for _, w := range c.workloads {
				t.Workloads = addSorted(t.Workloads, w, m.opts.MaxSources)
			}
			for _, p := range c.pods {
				t.Pods = addSorted(t.Pods, p, m.opts.MaxSources)
			}
			continue
		}
		byText[text] = len(out)
		out = append(out, Template{
			ID: TemplateID(text), Text: text, Level: c.level, Count: c.count,
			FirstSeen: c.first, LastSeen: c.last, Sample: c.sample,
			Workloads: slices.Clone(c.workloads), Pods: slices.Clone(c.pods),
		})
	}
	slices.SortStableFunc(out, func(a, b Template) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Text, b.Text)
	})
	return out
}
