package backup

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// rdbWithExpiries builds an RDB of version 10: db 0 with a key that
// expired in 2001 (seconds opcode), a key expiring at future (ms opcode),
// a key without expiry whose name is LZF-compressed ("abcabcabcabc"), and
// db 2 with a list.
func rdbWithExpiries(future time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("REDIS0010")
	b.Write([]byte{0xFE, 0})
	b.WriteByte(0xFD)
	binary.Write(&b, binary.LittleEndian, uint32(1_000_000_000))
	b.Write([]byte{0, 3, 'o', 'l', 'd', 1, 'x'})
	b.WriteByte(0xFC)
	binary.Write(&b, binary.LittleEndian, uint64(future.UnixMilli()))
	b.Write([]byte{0, 3, 'n', 'e', 'w', 0xC1, 0x39, 0x30}) // int16 12345
	// LZF key: compressed 7 bytes, 12 unpacked; literal "abc", back reference of 9 at distance 3.
	b.Write([]byte{0, 0xC3, 7, 12, 2, 'a', 'b', 'c', 0xE0, 0, 2, 1, 'v'})
	b.Write([]byte{0xFE, 2, 1, 1, 'a', 2, 1, 'a', 1, 'b'}) // a list of two
	b.WriteByte(0xFF)
	var crc [8]byte
	binary.LittleEndian.PutUint64(crc[:], crcJones(0, b.Bytes()))
	b.Write(crc[:])
	return b.Bytes()
}

func TestReadRDBEntries(t *testing.T) {
	future := time.Now().Add(time.Hour)
	data := rdbWithExpiries(future)
	var got []RDBEntry
	s, err := ReadRDBEntries(bytes.NewReader(data), func(e RDBEntry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Keys[0] != 3 || s.Keys[2] != 1 || s.Expires[0] != 2 || s.Version != 10 {
		t.Fatalf("summary = %+v", s)
	}
	want := []struct {
		db       int
		key      string
		raw      []byte
		expireAt int64
		expired  bool
	}{
		{0, "old", []byte{0, 1, 'x'}, 1_000_000_000_000, true},
		{0, "new", []byte{0, 0xC1, 0x39, 0x30}, future.UnixMilli(), false},
		{0, "abcabcabcabc", []byte{0, 1, 'v'}, 0, false},
		{2, "a", []byte{1, 2, 1, 'a', 1, 'b'}, 0, false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		e := got[i]
		if e.DB != w.db || e.Key != w.key || e.ExpireAt != w.expireAt || e.Expired(time.Now()) != w.expired {
			t.Errorf("entry %d = db %d %q expire %d, want db %d %q expire %d", i, e.DB, e.Key, e.ExpireAt, w.db, w.key, w.expireAt)
		}
		n := len(w.raw)
		if !bytes.Equal(e.Payload[:n], w.raw) || len(e.Payload) != n+10 {
			t.Errorf("%q: payload % x, want % x + trailer", e.Key, e.Payload, w.raw)
			continue
		}
		if v, ok := DumpVersion(e.Payload); !ok || v != 10 {
			t.Errorf("%q: version %d", e.Key, v)
		}
		if crc := binary.LittleEndian.Uint64(e.Payload[n+2:]); crc != crcJones(0, e.Payload[:n+2]) {
			t.Errorf("%q: crc %x", e.Key, crc)
		}
	}
	// The summary is ParseRDB's.
	if p, err := ParseRDB(bytes.NewReader(data)); err != nil || !slices.Equal(mapPairs(p.Keys), mapPairs(s.Keys)) {
		t.Fatalf("ParseRDB: %v %+v", err, p)
	}

	// The callback's error stops the walk as it is; damage wraps ErrRDB.
	stop := errors.New("stop")
	calls := 0
	if _, err := ReadRDBEntries(bytes.NewReader(data), func(RDBEntry) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("callback error: %v after %d calls", err, calls)
	}
	bad := bytes.Clone(data)
	bad[len(bad)-12] ^= 0xFF // inside the list
	if _, err := ReadRDBEntries(bytes.NewReader(bad), func(RDBEntry) error { return nil }); !errors.Is(err, ErrRDB) {
		t.Fatalf("damaged: %v", err)
	}
}

func mapPairs(m map[int]int64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%d=%d", k, v))
	}
	slices.Sort(out)
	return out
}

func TestLZFDecompressRejectsBadInput(t *testing.T) {
	for _, in := range [][]byte{
		{5, 'a'},          // literal past the end
		{0, 'a', 0x20, 5}, // reference before the start
		{0, 'a', 0xE0},    // truncated reference
	} {
		if _, err := lzfDecompress(in, 12); err == nil {
			t.Errorf("% x: no error", in)
		}
	}
	if out, err := lzfDecompress([]byte{2, 'a', 'b', 'c', 0xE0, 0, 2}, 12); err != nil || string(out) != "abcabcabcabc" {
		t.Fatalf("%q %v", out, err)
	}
}

// freshRedis starts an empty redis-server for one test.
func freshRedis(t *testing.T) *sandbox.RedisServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 30*time.Second)
	defer cancel()
	srv, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

func redisClient(t *testing.T, srv *sandbox.RedisServer, db int) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: srv.Password, DB: db, ReadTimeout: 10 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// snapshotEntries takes an RDB of srv over SYNC and returns its entries.
func snapshotEntries(t *testing.T, srv *sandbox.RedisServer) ([]RDBEntry, RDBSummary) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := SnapshotRDB(accesstest.Admin(t.Context()), srv.URL(), &buf, RDBOptions{}); err != nil {
		t.Fatal(err)
	}
	var entries []RDBEntry
	s, err := ReadRDBEntries(&buf, func(e RDBEntry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries, s
}

// restoreEntries replays entries into dst with RESTORE ... REPLACE ABSTTL.
func restoreEntries(t *testing.T, dst *sandbox.RedisServer, entries []RDBEntry) {
	t.Helper()
	c := redisClient(t, dst, 0)
	conn := c.Conn()
	defer conn.Close()
	for _, e := range entries {
		if err := conn.Select(accesstest.Admin(t.Context()), e.DB).Err(); err != nil {
			t.Fatal(err)
		}
		if err := conn.Do(accesstest.Admin(t.Context()), "RESTORE", e.Key, e.ExpireAt, e.Payload, "REPLACE", "ABSTTL").Err(); err != nil {
			t.Fatalf("RESTORE %q: %v", e.Key, err)
		}
	}
}

// valueOf is a key's type and content (sandbox.RedisValue); the key must
// exist.
func valueOf(ctx context.Context, t *testing.T, c *goredis.Client, key string) string {
	t.Helper()
	v, err := sandbox.RedisValue(ctx, c, key)
	if err != nil || v == "none" {
		t.Fatalf("%q: %q %v", key, v, err)
	}
	return v
}

func TestRDBEntriesMatchDump(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(t.Context())
	src := freshRedis(t)
	c := redisClient(t, src, 0)
	big := make([]any, 0, 600)
	for i := range 300 {
		big = append(big, "f"+strconv.Itoa(i), strings.Repeat("v", i%40))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, "str:int", 12345, 0).Err())
	must(c.Set(ctx, "str:raw", "hello", 0).Err())
	must(c.Set(ctx, "str:lzf", strings.Repeat("abcdefgh", 500), 0).Err())
	must(c.Set(ctx, "key:"+strings.Repeat("long-compressible-name-", 5), "v", 0).Err())
	must(c.Set(ctx, "str:ttl", "soon", time.Hour).Err())
	must(c.RPush(ctx, "list:small", "a", "b", "c").Err())
	must(c.RPush(ctx, "list:big", big...).Err())
	must(c.SAdd(ctx, "set:int", 1, 2, 3).Err())
	must(c.SAdd(ctx, "set:str", "a", "b", "c").Err())
	must(c.ZAdd(ctx, "zset:small", goredis.Z{Score: 1.5, Member: "a"}, goredis.Z{Score: 2, Member: "b"}).Err())
	for i := range 200 {
		must(c.ZAdd(ctx, "zset:big", goredis.Z{Score: float64(i) / 3, Member: strings.Repeat("m", 70) + strconv.Itoa(i)}).Err())
	}
	must(c.HSet(ctx, "hash:small", "a", "1", "b", "2").Err())
	must(c.HSet(ctx, "hash:big", big...).Err())
	must(c.PExpire(ctx, "hash:big", 2*time.Hour).Err())
	for i := range 20 {
		must(c.XAdd(ctx, &goredis.XAddArgs{Stream: "stream", Values: []any{"i", i}}).Err())
	}
	must(c.XGroupCreate(ctx, "stream", "workers", "0").Err())
	must(c.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "workers", Consumer: "w1", Streams: []string{"stream", ">"}, Count: 5}).Err())
	c3 := redisClient(t, src, 3)
	must(c3.Set(ctx, "other", "db3", 0).Err())

	entries, sum := snapshotEntries(t, src)
	if sum.Keys[0] != 14 || sum.Keys[3] != 1 {
		t.Fatalf("keys = %v", sum.Keys)
	}
	dst := freshRedis(t)
	restoreEntries(t, dst, entries)
	sameBytes := 0
	for _, e := range entries {
		sc := c
		if e.DB == 3 {
			sc = c3
		}
		// A hash table's order may differ between two walks: those are
		// compared by content only.
		if enc := sc.ObjectEncoding(ctx, e.Key).Val(); enc != "hashtable" {
			if dump := sc.Dump(ctx, e.Key).Val(); dump != string(e.Payload) {
				t.Errorf("%q (%s): payload differs from DUMP:\n% x\n% x", e.Key, enc, e.Payload, dump)
			}
			sameBytes++
		}
		dc := redisClient(t, dst, e.DB)
		if a, b := valueOf(ctx, t, sc, e.Key), valueOf(ctx, t, dc, e.Key); a != b {
			t.Errorf("%q restored as %.200s, want %.200s", e.Key, b, a)
		}
		ta, tb := sc.PTTL(ctx, e.Key).Val(), dc.PTTL(ctx, e.Key).Val()
		if (ta > 0) != (tb > 0) || ta-tb > time.Minute || tb-ta > time.Minute {
			t.Errorf("%q: ttl %v, restored %v", e.Key, ta, tb)
		}
		if (e.ExpireAt > 0) != (ta > 0) {
			t.Errorf("%q: entry expiry %d, server ttl %v", e.Key, e.ExpireAt, ta)
		}
	}
	if len(entries) != 15 || sameBytes < 10 {
		t.Errorf("%d entries, %d compared with DUMP byte for byte", len(entries), sameBytes)
	}
}

func TestRDBEntriesSeededRoundTrip(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(t.Context())
	src := sb.Redis
	entries, sum := snapshotEntries(t, src)
	dst := freshRedis(t)
	restoreEntries(t, dst, entries)
	compared := 0
	for db, n := range sum.Keys {
		sc, dc := redisClient(t, src, db), redisClient(t, dst, db)
		if got := dc.DBSize(ctx).Val(); got != n {
			t.Errorf("db %d: %d keys restored, the RDB has %d", db, got, n)
		}
		iter := sc.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			if a, b := valueOf(ctx, t, sc, k), valueOf(ctx, t, dc, k); a != b {
				t.Errorf("db %d %q restored as %.200s, want %.200s", db, k, b, a)
			}
			ta, tb := sc.PTTL(ctx, k).Val(), dc.PTTL(ctx, k).Val()
			if (ta > 0) != (tb > 0) || ta-tb > time.Minute || tb-ta > time.Minute {
				t.Errorf("db %d %q: ttl %v, restored %v", db, k, ta, tb)
			}
			compared++
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if compared < 300 || compared != len(entries) {
		t.Errorf("compared %d keys of %d entries", compared, len(entries))
	}
}
