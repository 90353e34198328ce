package backup

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
)

// checkRaw walks one raw value (type byte first) as the RDB walk does.
func checkRaw(raw []byte) error {
	if len(raw) == 0 {
		return fmt.Errorf("no value")
	}
	p := &rdbParser{r: bufio.NewReader(bytes.NewReader(raw[1:]))}
	return p.value(raw[0])
}

// rdbString is s as an RDB string: its length, then its bytes.
func rdbString(s []byte) []byte {
	return append(rdbLen(len(s)), s...)
}

// span is where a blob's bytes are in a raw value.
type span struct{ from, to int }

// seed is a valid raw value and the spans of its packed blobs.
type seed struct {
	name  string
	raw   []byte
	blobs []span
}

// unpacked re-writes a raw value with its blobs uncompressed and says
// where they are; the rest of a stream (after its nodes) is kept as it is.
func unpacked(t *testing.T, name string, raw []byte) seed {
	t.Helper()
	typ := raw[0]
	br := bytes.NewReader(raw[1:])
	p := &rdbParser{r: bufio.NewReader(br)}
	out := []byte{typ}
	var blobs []span
	blob := func() {
		b, err := p.blob()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, rdbLen(len(b))...)
		blobs = append(blobs, span{len(out), len(out) + len(b)})
		out = append(out, b...)
	}
	count := func() uint64 {
		n, err := p.length()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, rdbLen(int(n))...)
		return n
	}
	switch typ {
	case 9, 10, 11, 12, 13, 16, 17, 20:
		blob()
	case 14:
		for range count() {
			blob()
		}
	case 18:
		for range count() {
			count() // container
			blob()
		}
	case 15, 19, 21:
		for range count() {
			b, err := p.blob() // node key: not a packed blob
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rdbString(b)...)
			blob()
		}
		read := len(raw) - 1 - br.Len() - p.r.Buffered()
		out = append(out, raw[1+read:]...)
	default:
		t.Fatalf("%s: type %d has no blob", name, typ)
	}
	if err := checkRaw(out); err != nil {
		t.Fatalf("%s: the seed does not pass: %v", name, err)
	}
	return seed{name, out, blobs}
}

// seeds are valid values of every packed encoding redis-server 7.0
// loads: from Redis's test files (the encodings 7.0 no longer writes) and
// from DUMP of a server writing them uncompressed.
func seeds(t *testing.T, c *goredis.Client) []seed {
	t.Helper()
	var out []seed
	for _, name := range []string{"encodings.rdb", "hash-zipmap.rdb", "hash-ziplist.rdb", "list-quicklist.rdb", "zset-ziplist.rdb"} {
		_, data := redisAsset(t, name)
		_, err := ReadRDBEntries(bytes.NewReader(data), func(e RDBEntry) error {
			raw := e.Payload[:len(e.Payload)-10]
			if raw[0] >= 9 {
				out = append(out, unpacked(t, name+":"+e.Key, raw))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := accesstest.Admin(t.Context())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.HSet(ctx, "hash", "a", "1", "bb", "-200", "ccc", strings.Repeat("x", 60), "d", "123456789012").Err())
	must(c.ZAdd(ctx, "zset", goredis.Z{Score: 1.5, Member: "a"}, goredis.Z{Score: -3, Member: "b"}, goredis.Z{Score: 1e9, Member: "c"}).Err())
	must(c.SAdd(ctx, "intset", 1, -70000, 5_000_000_000).Err())
	must(c.SAdd(ctx, "intset16", 1, 2, -3).Err())
	must(c.RPush(ctx, "list", "a", 17, -4000, 100000, 1<<40, strings.Repeat("y", 300)).Err())
	for i := range 4 {
		must(c.XAdd(ctx, &goredis.XAddArgs{Stream: "stream", ID: fmt.Sprintf("%d-1", 1000+i), Values: []any{"f", i, "g", "v" + strconv.Itoa(i)}}).Err())
	}
	must(c.XAdd(ctx, &goredis.XAddArgs{Stream: "stream", ID: "2000-1", Values: []any{"other", "fields"}}).Err())
	must(c.XDel(ctx, "stream", "1001-1").Err())
	for _, k := range []string{"hash", "zset", "intset", "intset16", "list", "stream"} {
		d, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, unpacked(t, "dump:"+k, []byte(d[:len(d)-10])))
	}
	return out
}

// Damaged packed values are judged as redis-server judges them with
// sanitize-dump-payload yes: each seed with 1-3 random bytes of one of its
// blobs changed is RESTOREd on such a server and walked here, and the two
// verdicts agree.
func TestValueChecksAgreeWithRedis(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(t.Context())
	srv := strictRedis(t, "")
	c := redisClient(t, srv, 0)
	if err := c.ConfigSet(ctx, "rdbcompression", "no").Err(); err != nil {
		t.Fatal(err)
	}
	all := seeds(t, c)
	rng := rand.New(rand.NewPCG(12, uint64(len(all))))
	const perSeed = 300
	counts := map[string]int{}
	for _, s := range all {
		raws := make([][]byte, 0, perSeed+1)
		raws = append(raws, s.raw)
		for range perSeed {
			m := bytes.Clone(s.raw)
			b := s.blobs[rng.IntN(len(s.blobs))]
			for range 1 + rng.IntN(3) {
				i := b.from + rng.IntN(b.to-b.from)
				switch rng.IntN(3) {
				case 0:
					m[i] = byte(rng.IntN(256))
				case 1:
					m[i] ^= 1 << rng.IntN(8)
				default:
					m[i] += byte(1 + rng.IntN(2))
				}
			}
			raws = append(raws, m)
		}
		cmds, _ := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, raw := range raws {
				p.Do(ctx, "RESTORE", "k"+strconv.Itoa(i), 0, DumpPayload(raw, 10), "REPLACE")
			}
			return nil
		})
		for i, raw := range raws {
			ours := checkRaw(raw)
			theirs := cmds[i].Err()
			if theirs != nil && !strings.Contains(theirs.Error(), "Bad data format") {
				t.Fatalf("%s: RESTORE: %v", s.name, theirs)
			}
			switch {
			case i == 0 && (ours != nil || theirs != nil):
				t.Fatalf("%s: the seed is refused: ours %v, redis %v", s.name, ours, theirs)
			case (ours == nil) != (theirs == nil):
				t.Errorf("%s, mutation %d: ours %v, redis %v\n% x", s.name, i, ours, theirs, raw)
			case ours != nil:
				counts["refused"]++
			default:
				counts["accepted"]++
			}
		}
		c.FlushAll(ctx)
	}
	t.Logf("%d seeds, %d damaged values: %v", len(all), len(all)*perSeed, counts)
	if counts["refused"] < len(all)*perSeed/3 {
		t.Errorf("only %d damaged values refused", counts["refused"])
	}
}

// lpEntry is a listpack or ziplist entry for the builders: a string, or
// a small integer (0..12) when an int.
type lpEntry any

// buildListpack encodes entries (strings under 64 bytes, integers 0..127)
// with count in the header (-1: the number of entries).
func buildListpack(count int, entries ...lpEntry) []byte {
	lp := make([]byte, lpHeader)
	for _, e := range entries {
		var enc []byte
		switch v := e.(type) {
		case int:
			enc = []byte{byte(v)}
		case string:
			enc = append([]byte{0x80 | byte(len(v))}, v...)
		}
		lp = append(append(lp, enc...), byte(len(enc)))
	}
	lp = append(lp, lpEnd)
	if count < 0 {
		count = len(entries)
	}
	binary.LittleEndian.PutUint32(lp, uint32(len(lp)))
	binary.LittleEndian.PutUint16(lp[4:], uint16(count))
	return lp
}

// buildZiplist encodes entries (strings under 64 bytes, integers 0..12).
func buildZiplist(entries ...lpEntry) []byte {
	zl := make([]byte, zlHeader)
	tail, prev := zlHeader, 0
	for _, e := range entries {
		tail = len(zl)
		start := len(zl)
		zl = append(zl, byte(prev))
		switch v := e.(type) {
		case int:
			zl = append(zl, 0xF1+byte(v))
		case string:
			zl = append(append(zl, byte(len(v))), v...)
		}
		prev = len(zl) - start
	}
	zl = append(zl, zlEnd)
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint32(zl[4:], uint32(tail))
	binary.LittleEndian.PutUint16(zl[8:], uint16(len(entries)))
	return zl
}

func buildIntset(enc int, vals ...int64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(enc))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vals)))
	for _, v := range vals {
		switch enc {
		case 2:
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		default:
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	return b
}

// buildZipmap encodes field, value pairs (under 254 bytes) with count
// in the header.
func buildZipmap(count int, kv ...string) []byte {
	zm := []byte{byte(count)}
	for i := 0; i < len(kv); i += 2 {
		zm = append(append(zm, byte(len(kv[i]))), kv[i]...)
		zm = append(append(zm, byte(len(kv[i+1])), 0), kv[i+1]...)
	}
	return append(zm, 0xFF)
}

// Hand-made values, each judged here as redis-server judges it (RESTORE
// with sanitize-dump-payload yes), with the message saying what is wrong.
func TestValueChecksCases(t *testing.T) {
	one := func(typ byte, blob []byte) []byte { return append([]byte{typ}, rdbString(blob)...) }
	badTail := buildZiplist("a", "b")
	badTail[4]++
	badZlCount := buildZiplist("a", "b")
	badZlCount[8] = 3
	badEnc := buildZiplist("a", "b")
	badEnc[zlHeader+1] = 0xC1
	badPrev := buildZiplist("a", "bb", "c")
	badPrev[zlHeader+3] = 1
	badBack := buildListpack(-1, "a", "1")
	badBack[lpHeader+2] = 3
	badTotal := buildListpack(-1, "a", "1")
	badTotal[0]++
	lpEarlyEnd := buildListpack(-1, "a", "1")
	lpEarlyEnd[lpHeader] = lpEnd
	cases := []struct {
		name string
		raw  []byte
		want string // "" for valid
	}{
		{"hash listpack", one(16, buildListpack(-1, "a", "1", "b", 2)), ""},
		{"hash listpack, count unknown", one(16, buildListpack(0xFFFF, "a", "1")), ""},
		{"hash listpack, field twice", one(16, buildListpack(-1, "a", "1", "a", "2")), `duplicate field "a"`},
		{"hash listpack, 1 as an integer and a string", one(16, buildListpack(-1, 1, "x", "1", "y")), `duplicate field "1"`},
		{"hash listpack, wrong count", one(16, buildListpack(3, "a", "1")), "header counts 3 entries, it holds 2"},
		{"hash listpack, wrong total", one(16, badTotal), "header says"},
		{"hash listpack, bad back-length", one(16, badBack), "back-length"},
		{"hash listpack, end marker first", one(16, lpEarlyEnd), "end marker at byte 6"},
		{"hash listpack, empty", one(16, buildListpack(-1)), "empty"},
		{"zset listpack, odd", one(17, buildListpack(-1, "a", "1", "b")), "a field without its value"},
		{"set intset", one(11, buildIntset(2, -3, 1, 2)), ""},
		{"set intset, out of order", one(11, buildIntset(2, 3, 1)), "not above"},
		{"set intset, twice", one(11, buildIntset(8, 1, 1)), "not above"},
		{"set intset, empty", one(11, buildIntset(4)), "intset is empty"},
		{"set intset, bad encoding", one(11, buildIntset(3, 1)), "encoding 3"},
		{"hash ziplist", one(13, buildZiplist("f", "1", "g", 2)), ""},
		{"hash ziplist, field twice", one(13, buildZiplist("f", "1", "f", 2)), `duplicate field "f"`},
		{"list ziplist, tail offset", one(10, badTail), "tail offset"},
		{"list ziplist, wrong count", one(10, badZlCount), "header counts 3 entries, it holds 2"},
		{"list ziplist, bad encoding", one(10, badEnc), "bad encoding 0xc1"},
		{"list ziplist, previous-entry length", one(10, badPrev), "previous-entry length 1, the previous entry has 3 bytes"},
		{"list ziplist, empty", one(10, buildZiplist()), "empty"},
		{"hash zipmap", one(9, buildZipmap(2, "f", "1", "g", "2")), ""},
		{"hash zipmap, field twice", one(9, buildZipmap(2, "f", "1", "f", "2")), `duplicate field "f"`},
		{"hash zipmap, wrong count", one(9, buildZipmap(3, "f", "1", "g", "2")), "header counts 3 entries, it holds 2"},
		{"quicklist2", append([]byte{18, 2, 2}, append(rdbString(buildListpack(-1, "a")), append([]byte{1}, rdbString([]byte("plain"))...)...)...), ""},
		{"quicklist2, empty node only", append([]byte{18, 1, 2}, rdbString(buildListpack(-1))...), "empty"},
		{"quicklist2, an empty node", append([]byte{18, 2, 2}, append(rdbString(buildListpack(-1)), append([]byte{2}, rdbString(buildListpack(-1, "a"))...)...)...), ""},
		{"quicklist2, container 3", append([]byte{18, 1, 3}, rdbString(buildListpack(-1, "a"))...), "container 3"},
		{"quicklist, ziplist node", append([]byte{14, 1}, rdbString(buildZiplist("a", 3))...), ""},
	}
	var c *goredis.Client
	if sb != nil {
		c = redisClient(t, strictRedis(t, ""), 0)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRaw(tc.raw)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if c == nil {
				return
			}
			theirs := c.Do(accesstest.Admin(t.Context()), "RESTORE", "k", 0, DumpPayload(tc.raw, 10), "REPLACE").Err()
			if (theirs == nil) != (err == nil) {
				t.Fatalf("ours %v, redis-server %v", err, theirs)
			}
		})
	}
}
