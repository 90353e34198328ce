package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// KeyspaceOptions tune AnalyzeKeyspace.
type KeyspaceOptions struct {
	// DBs are the databases to scan; empty: every database INFO lists.
	DBs []int
	// Match is SCAN's MATCH pattern; empty: every key.
	Match string
	// Separator splits key names into prefix segments (default ":").
	Separator string
	// PrefixDepth is how many leading segments make a prefix (default 2).
	PrefixDepth int
	// MemorySamples is MEMORY USAGE's SAMPLES; 0 samples every element.
	MemorySamples int
	// MaxOpsPerSec caps the commands sent per second; 0: no cap.
	MaxOpsPerSec int
	// ScanCount is SCAN's COUNT hint (default 1000; lowered so that one
	// round trip stays near 100 ms of the ops budget).
	ScanCount int
	// TopKeys is how many of the biggest keys are kept per type (default 10).
	TopKeys int
	// MaxPrefixes bounds the prefix table; further prefixes are counted
	// under OtherPrefix (default 10000).
	MaxPrefixes int
	// Resume continues an interrupted analysis from its Cursor, adding to
	// its totals; its separator, depth and samples are kept.
	Resume *KeyspaceAnalysis
	// Progress, when set, is told after every round trip.
	Progress func(KeyspaceProgress)
}

// KeyspaceProgress is how far an analysis has come.
type KeyspaceProgress struct {
	DB int `json:"db"`
	// Scanned counts the keys looked at so far (across databases); Total
	// adds up DBSIZE of the databases scanned, read when the scan started.
	Scanned int64 `json:"scanned"`
	Total   int64 `json:"total"`
	// Ops counts the commands sent so far.
	Ops     int64         `json:"ops"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Fraction is Scanned / Total in 0..1 (SCAN may return a key twice, and
// keys come and go, so it is an estimate).
func (p KeyspaceProgress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return min(float64(p.Scanned)/float64(p.Total), 1)
}

// OtherPrefix collects the keys of prefixes past MaxPrefixes.
const OtherPrefix = "(other)"

// NoPrefix collects keys without a separator.
const NoPrefix = "(no prefix)"

// KeyspaceAnalysis is the result of a keyspace scan: memory and key counts
// by type, prefix and TTL, the biggest keys, and where to resume when the
// scan was interrupted. It is plain data (JSON), so a checkpoint can be
// saved and given back as KeyspaceOptions.Resume.
type KeyspaceAnalysis struct {
	StartedAt time.Time     `json:"started_at"`
	Took      time.Duration `json:"took_ns"`
	// Separator, PrefixDepth and MemorySamples are the options in force.
	Separator     string `json:"separator"`
	PrefixDepth   int    `json:"prefix_depth"`
	MemorySamples int    `json:"memory_samples"`
	Match         string `json:"match,omitempty"`
	// DBs are the databases scanned, in order, with DBSIZE at the start.
	DBs []KeyspaceDBScan `json:"dbs"`
	// Cursor is where to resume; nil once every database was scanned.
	Cursor *ScanCursor `json:"cursor,omitempty"`

	// Keys counts the keys analysed (SCAN can return a key twice, rarely).
	Keys int64 `json:"keys"`
	// Bytes adds up MEMORY USAGE of the keys.
	Bytes int64 `json:"bytes"`
	// Vanished counts keys that expired or were deleted between SCAN and
	// the look at them.
	Vanished int64                 `json:"vanished"`
	ByType   map[string]*TypeStats `json:"by_type"`
	Prefixes map[string]*Bucket    `json:"prefixes"`
	TTL      TTLBuckets            `json:"ttl"`
	// NoTTLTop are the biggest keys without an expiry.
	NoTTLTop []KeyInfo `json:"no_ttl_top"`
	// MemoryUnavailable says why MEMORY USAGE could not be used ("" when
	// it could); then Bytes and every size are 0.
	MemoryUnavailable string `json:"memory_unavailable,omitempty"`
	// Ops counts the commands sent.
	Ops int64 `json:"ops"`
}

// Complete reports whether every database was scanned to its end.
func (a *KeyspaceAnalysis) Complete() bool { return a.Cursor == nil }

// KeyspaceDBScan is one database of the scan.
type KeyspaceDBScan struct {
	DB int `json:"db"`
	// Size is DBSIZE when the scan of this database started.
	Size    int64 `json:"size"`
	Scanned int64 `json:"scanned"`
}

// ScanCursor is where a scan stopped: the index into DBs and SCAN's cursor.
type ScanCursor struct {
	Index  int    `json:"index"`
	DB     int    `json:"db"`
	Cursor uint64 `json:"cursor"`
}

// String is "db<N> cursor <C>".
func (c ScanCursor) String() string { return fmt.Sprintf("db%d cursor %d", c.DB, c.Cursor) }

// Bucket counts keys and their memory.
type Bucket struct {
	Keys  int64 `json:"keys"`
	Bytes int64 `json:"bytes"`
	// NoTTL counts the bucket's keys without an expiry.
	NoTTL int64 `json:"no_ttl"`
}

func (b *Bucket) add(bytes int64, noTTL bool) {
	b.Keys++
	b.Bytes += bytes
	if noTTL {
		b.NoTTL++
	}
}

// TypeStats are one type's totals and its biggest keys.
type TypeStats struct {
	Bucket
	// Top are the biggest keys by memory, biggest first.
	Top []KeyInfo `json:"top"`
}

// TTLBuckets count keys by time to live.
type TTLBuckets struct {
	None     Bucket `json:"none"`
	UnderHr  Bucket `json:"under_1h"`
	UnderDay Bucket `json:"under_1d"`
	UnderWk  Bucket `json:"under_1w"`
	Longer   Bucket `json:"longer"`
}

// Named returns the buckets with their labels, shortest TTL last.
func (t *TTLBuckets) Named() []struct {
	Label string
	*Bucket
} {
	return []struct {
		Label string
		*Bucket
	}{{"no TTL", &t.None}, {"< 1 hour", &t.UnderHr}, {"< 1 day", &t.UnderDay}, {"< 1 week", &t.UnderWk}, {"longer", &t.Longer}}
}

func (t *TTLBuckets) bucket(ttl time.Duration) *Bucket {
	switch {
	case ttl < 0:
		return &t.None
	case ttl < time.Hour:
		return &t.UnderHr
	case ttl < 24*time.Hour:
		return &t.UnderDay
	case ttl < 7*24*time.Hour:
		return &t.UnderWk
	}
	return &t.Longer
}

// KeyInfo is one key as the analysis saw it.
type KeyInfo struct {
	DB    int    `json:"db"`
	Key   string `json:"key"`
	Type  string `json:"type"`
	Bytes int64  `json:"bytes"`
	// TTL is the time to live, -1 for none.
	TTL time.Duration `json:"ttl_ns"`
	// Length is the element count (STRLEN for strings), read after the
	// scan for the biggest keys only; -1 when not read.
	Length int64 `json:"length"`
}

// finish adds the elapsed time to the analysis and passes err through.
func finish(a *KeyspaceAnalysis, start time.Time, err error) error {
	a.Took += time.Since(start)
	return err
}

// prepareAnalysis fills the defaults and starts a new analysis (DBSIZE of
// every database to scan) or takes up the one to resume.
func prepareAnalysis(ctx context.Context, client *goredis.Client, o *KeyspaceOptions) (*KeyspaceAnalysis, error) {
	t := targetOf(client.Options())
	if o.ScanCount <= 0 {
		o.ScanCount = 1000
	}
	if o.TopKeys <= 0 {
		o.TopKeys = 10
	}
	if o.MaxPrefixes <= 0 {
		o.MaxPrefixes = 10000
	}
	if o.Resume != nil {
		a := o.Resume
		if a.Cursor == nil {
			return nil, errors.New("the analysis to resume is already complete")
		}
		if a.Cursor.Index < 0 || a.Cursor.Index >= len(a.DBs) || a.DBs[a.Cursor.Index].DB != a.Cursor.DB {
			return nil, fmt.Errorf("the checkpoint's cursor %s does not match its databases — start a new analysis", a.Cursor)
		}
		o.Match = a.Match
		if a.ByType == nil {
			a.ByType = map[string]*TypeStats{}
		}
		if a.Prefixes == nil {
			a.Prefixes = map[string]*Bucket{}
		}
		return a, nil
	}
	if o.Separator == "" {
		o.Separator = ":"
	}
	if o.PrefixDepth <= 0 {
		o.PrefixDepth = 2
	}
	info, err := client.Info(ctx, "server", "keyspace").Result()
	if err != nil {
		return nil, wrapErr(err, t)
	}
	parsed := ParseInfo(info)
	if mode, _ := parsed.Get("server", "redis_mode"); mode == "cluster" {
		return nil, fmt.Errorf("redis at %s runs in cluster mode: analyse each master on its own (its URL with no database)", t.addr)
	}
	dbs := slices.Clone(o.DBs)
	if len(dbs) == 0 {
		for _, k := range parsed.Keyspace() {
			dbs = append(dbs, k.DB)
		}
	}
	slices.Sort(dbs)
	dbs = slices.Compact(dbs)
	a := &KeyspaceAnalysis{
		StartedAt: time.Now().UTC(), Separator: o.Separator, PrefixDepth: o.PrefixDepth,
		MemorySamples: o.MemorySamples, Match: o.Match,
		ByType: map[string]*TypeStats{}, Prefixes: map[string]*Bucket{},
	}
	conn := client.EphemeralConn()
	defer conn.Close()
	for _, db := range dbs {
		if err := conn.Select(ctx, db).Err(); err != nil {
			return nil, fmt.Errorf("select database %d: %w", db, wrapErr(err, t))
		}
		n, err := conn.DBSize(ctx).Result()
		if err != nil {
			return nil, wrapErr(err, t)
		}
		a.DBs = append(a.DBs, KeyspaceDBScan{DB: db, Size: n})
	}
	if len(a.DBs) > 0 {
		a.Cursor = &ScanCursor{Index: 0, DB: a.DBs[0].DB}
	}
	return a, nil
}

// add counts one key.
func (a *KeyspaceAnalysis) add(k KeyInfo, top, maxPrefixes int) {
	noTTL := k.TTL < 0
	a.Keys++
	a.Bytes += k.Bytes
	ts := a.ByType[k.Type]
	if ts == nil {
		ts = &TypeStats{}
		a.ByType[k.Type] = ts
	}
	ts.add(k.Bytes, noTTL)
	ts.Top = keepTop(ts.Top, k, top)
	prefix := KeyPrefix(k.Key, a.Separator, a.PrefixDepth)
	b := a.Prefixes[prefix]
	if b == nil {
		if len(a.Prefixes) >= maxPrefixes {
			prefix = OtherPrefix
			b = a.Prefixes[prefix]
		}
		if b == nil {
			b = &Bucket{}
			a.Prefixes[strings.Clone(prefix)] = b // not the key's memory
		}
	}
	b.add(k.Bytes, noTTL)
	a.TTL.bucket(k.TTL).add(k.Bytes, noTTL)
	if noTTL {
		a.NoTTLTop = keepTop(a.NoTTLTop, k, top)
	}
}

// keepTop inserts k into the list of the n biggest keys, biggest first.
func keepTop(list []KeyInfo, k KeyInfo, n int) []KeyInfo {
	if len(list) >= n && k.Bytes <= list[len(list)-1].Bytes {
		return list
	}
	i, _ := slices.BinarySearchFunc(list, k.Bytes, func(e KeyInfo, b int64) int {
		switch {
		case e.Bytes > b:
			return -1
		case e.Bytes < b:
			return 1
		}
		return 0
	})
	for i < len(list) && list[i].Bytes == k.Bytes {
		i++
	}
	list = slices.Insert(list, i, k)
	if len(list) > n {
		list = list[:n]
	}
	return list
}

// KeyPrefix is the key's first depth segments, not counting its last one,
// joined by sep; segments that look like ids (numbers, hex, UUIDs,
// addresses) become "*", so user:42:watchlist and user:7:watchlist share
// "user:*". A key without sep has NoPrefix.
func KeyPrefix(key, sep string, depth int) string {
	if sep == "" || !strings.Contains(key, sep) {
		return NoPrefix
	}
	// Find where the prefix ends; most keys have no id segment in it, and
	// then the prefix is a slice of the key (no allocation per key).
	end, ids := 0, false
	rest := key
	for n := 0; n < depth; n++ {
		i := strings.Index(rest, sep)
		if i < 0 {
			break // the last segment is the key's own name
		}
		if isIDSegment(rest[:i]) {
			ids = true
		}
		if n > 0 {
			end += len(sep)
		}
		end += i
		rest = rest[i+len(sep):]
	}
	if !ids {
		return key[:end]
	}
	var b strings.Builder
	rest = key[:end]
	for n := 0; ; n++ {
		seg, more, found := strings.Cut(rest, sep)
		if n > 0 {
			b.WriteString(sep)
		}
		if isIDSegment(seg) {
			b.WriteByte('*')
		} else {
			b.WriteString(seg)
		}
		if !found {
			break
		}
		rest = more
	}
	return b.String()
}

// isIDSegment reports whether a key segment looks like an identifier rather
// than a name: a number, a long hex string or UUID, or an IP address.
func isIDSegment(s string) bool {
	if s == "" {
		return false
	}
	digits, hex, other := 0, 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F'):
			hex++
		case r == '-' || r == '.' || r == ':':
		default:
			other++
		}
	}
	switch {
	case other > 0:
		return false
	case hex == 0:
		return digits > 0 // 42, 2024-01-02, 10.0.0.1
	}
	return digits+hex >= 8 && digits > 0 // deadbeef01, UUIDs
}

// readLengths reads the element counts of the biggest keys.
func readLengths(ctx context.Context, conn *goredis.Conn, a *KeyspaceAnalysis) error {
	type ref struct{ k *KeyInfo }
	byDB := map[int][]ref{}
	for _, ts := range a.ByType {
		for i := range ts.Top {
			byDB[ts.Top[i].DB] = append(byDB[ts.Top[i].DB], ref{&ts.Top[i]})
		}
	}
	for i := range a.NoTTLTop {
		byDB[a.NoTTLTop[i].DB] = append(byDB[a.NoTTLTop[i].DB], ref{&a.NoTTLTop[i]})
	}
	for db, refs := range byDB {
		if err := conn.Select(ctx, db).Err(); err != nil {
			return err
		}
		cmds := make([]*goredis.IntCmd, len(refs))
		_, err := conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, r := range refs {
				switch r.k.Type {
				case "string":
					cmds[i] = p.StrLen(ctx, r.k.Key)
				case "list":
					cmds[i] = p.LLen(ctx, r.k.Key)
				case "set":
					cmds[i] = p.SCard(ctx, r.k.Key)
				case "zset":
					cmds[i] = p.ZCard(ctx, r.k.Key)
				case "hash":
					cmds[i] = p.HLen(ctx, r.k.Key)
				case "stream":
					cmds[i] = p.XLen(ctx, r.k.Key)
				}
			}
			return nil
		})
		a.Ops += int64(len(refs))
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		for i, r := range refs {
			if cmds[i] != nil {
				if n, err := cmds[i].Result(); err == nil {
					r.k.Length = n
				}
			}
		}
	}
	return nil
}

// pacer holds a command rate under max per second. It is safe for
// concurrent use.
type pacer struct {
	max   int
	start time.Time
	mu    sync.Mutex
	ops   int64
}

// wait accounts for n more commands and sleeps until sending them keeps
// the rate under the cap.
func (p *pacer) wait(ctx context.Context, n int) error {
	if p.max <= 0 {
		return ctx.Err()
	}
	p.mu.Lock()
	due := p.start.Add(time.Duration(float64(p.ops) / float64(p.max) * float64(time.Second)))
	p.ops += int64(n)
	p.mu.Unlock()
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
