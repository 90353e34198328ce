package backup

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
)

// TestDigestRDBMatchesDebugDigest: a redis-server 7.0 filled with every
// type in its small (listpack, intset) and large encodings, in several
// databases, with TTLs, awkward scores and integer-looking strings, is
// snapshotted over SYNC as a backup does; DigestRDB of that stream gives
// the server's own DEBUG DIGEST, each database's digest is the server's
// DEBUG DIGEST once the other databases are flushed, and each key's value
// digest is its DEBUG DIGEST-VALUE.
func TestDigestRDBMatchesDebugDigest(t *testing.T) {
	ctx := accesstest.Admin(t.Context())
	srv := strictRedis(t, "")
	for _, db := range []int{0, 3, 15} {
		c := redisClient(t, srv, db)
		p := c.Pipeline()
		pre := fmt.Sprintf("db%d:", db)
		p.Set(ctx, pre+"s", "plain text", 0)
		p.Set(ctx, pre+"int", "-12345", 0)
		p.Set(ctx, pre+"big", "9223372036854775807", 0)
		p.Set(ctx, pre+"long", strings.Repeat("compressible ", 200), 0) // LZF in the RDB
		p.Set(ctx, pre+"ttl", "expires", time.Hour)
		p.Set(ctx, "", "empty name", 0)
		p.RPush(ctx, pre+"list", "a", "1", "-7", "b", "", "300000")
		for i := range 2000 {
			p.RPush(ctx, pre+"biglist", fmt.Sprintf("element-%d", i), i)
		}
		p.SAdd(ctx, pre+"intset", 1, 2, -3, 70000, 5000000000)
		p.SAdd(ctx, pre+"set", "x", "y", "z", "10")
		for i := range 300 {
			p.SAdd(ctx, pre+"bigset", fmt.Sprintf("m%d", i))
		}
		p.ZAdd(ctx, pre+"zset", zm(0.1, "a"), zm(1.5, "b"), zm(-3, "c"), zm(math.Inf(1), "d"), zm(math.Inf(-1), "e"), zm(1e21, "f"), zm(1e-5, "g"), zm(12, "13"))
		for i := range 300 {
			p.ZAdd(ctx, pre+"bigzset", zm(float64(i)/7, fmt.Sprintf("m%d", i)))
		}
		p.HSet(ctx, pre+"hash", "f1", "v1", "n", "42", "neg", "-1", "e", "")
		for i := range 600 {
			p.HSet(ctx, pre+"bighash", fmt.Sprintf("f%d", i), strings.Repeat("v", i%90))
		}
		p.Expire(ctx, pre+"hash", time.Hour)
		for i := range 250 { // several nodes (stream-node-max-entries 100)
			p.XAdd(ctx, &goredis.XAddArgs{Stream: pre + "stream", ID: fmt.Sprintf("%d-%d", 1700000000000+i/3, i%3), Values: []any{"px", i, "sym", "ACME"}})
		}
		p.XAdd(ctx, &goredis.XAddArgs{Stream: pre + "stream", ID: "1800000000000-0", Values: []any{"other", "fields", "n", -5}})
		p.XDel(ctx, pre+"stream", "1700000000001-1", "1700000000010-0")
		p.XGroupCreate(ctx, pre+"stream", "workers", "0")
		p.XAdd(ctx, &goredis.XAddArgs{Stream: pre + "empty", ID: "5-1", Values: []any{"a", "b"}})
		p.XDel(ctx, pre+"empty", "5-1")
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := debugDigest(t, srv)
	var buf bytes.Buffer
	if _, err := SnapshotRDB(ctx, srv.URL(), &buf, RDBOptions{}); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	got, sum, err := DigestRDB(bytes.NewReader(buf.Bytes()), func(db int, key []byte, d string) {
		values[fmt.Sprintf("%d/%s", db, key)] = d
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RDB version %d, keys %v, digest %s", sum.Version, got.Keys, got.Dataset)
	if got.Dataset != want {
		t.Fatalf("DigestRDB %s, DEBUG DIGEST %s", got.Dataset, want)
	}
	if len(got.Unsupported) > 0 || len(got.DBs) != 3 {
		t.Fatalf("%+v", got)
	}
	for k, d := range values {
		var db int
		var key string
		fmt.Sscanf(k, "%d/", &db)
		key = k[strings.Index(k, "/")+1:]
		v, err := redisClient(t, srv, db).Do(ctx, "DEBUG", "DIGEST-VALUE", key).StringSlice()
		if err != nil || len(v) != 1 || v[0] != d {
			t.Errorf("%s: DIGEST-VALUE %v %v, DigestRDB %s", k, v, err, d)
		}
	}
	// A database alone: 0 and 3 flushed, 15 left.
	for _, other := range []int{0, 3} {
		if err := redisClient(t, srv, other).FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if d := debugDigest(t, srv); d != got.DBs[15] {
		t.Errorf("database 15 alone: DEBUG DIGEST %s, DigestRDB %s", d, got.DBs[15])
	}
}

func zm(score float64, member string) goredis.Z { return goredis.Z{Score: score, Member: member} }

// TestDigestRDBOfRedisAssets: the valid RDB files of Redis's own tests
// (old encodings: ziplists, quicklists, zipmaps) digest as redis-server
// loading them says; a zipmap hash is named as not digested.
func TestDigestRDBOfRedisAssets(t *testing.T) {
	for _, name := range redisAssets {
		t.Run(name, func(t *testing.T) {
			path, data := redisAsset(t, name)
			got, _, err := DigestRDB(bytes.NewReader(data), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Unsupported) > 0 {
				t.Logf("not digested: %v", got.Unsupported)
				if name != "hash-zipmap.rdb" {
					t.Errorf("%s: %v not digested", name, got.Unsupported)
				}
				return
			}
			if want := debugDigest(t, strictRedis(t, path)); got.Dataset != want {
				t.Errorf("DigestRDB %s, redis-server loading the file: %s", got.Dataset, want)
			}
		})
	}
}

// TestDeepVerifyNamesTheDatabaseWithAChangedValue: a set whose stored
// snapshot has one value changed (same keys, stored with its true
// checksum, so a plain verify passes) fails deep verify, naming the
// database whose DEBUG DIGEST is not the one recorded at backup time.
func TestDeepVerifyNamesTheDatabaseWithAChangedValue(t *testing.T) {
	ctx := accesstest.Admin(t.Context())
	srv := strictRedis(t, "")
	c := redisClient(t, srv, 2)
	c.Set(ctx, "price:ACME", "100", 0)
	c.Set(ctx, "price:INIT", "7", 0)
	redisClient(t, srv, 0).Set(ctx, "other", "x", 0)
	snap := func() []byte {
		var buf bytes.Buffer
		if _, err := SnapshotRDB(ctx, srv.URL(), &buf, RDBOptions{}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	orig := snap()
	d, sum, err := DigestRDB(bytes.NewReader(orig), nil)
	if err != nil {
		t.Fatal(err)
	}
	facts := &RedisFacts{RDBVersion: sum.Version, Keys: sum.Keys, Expires: sum.Expires, Digest: &d}
	c.Set(ctx, "price:ACME", "101", 0)
	changed := snap()

	e, id := storeRDB(t, orig, facts)
	if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{id}, Deep: true}); err != nil {
		t.Fatalf("the unchanged snapshot: %v", err)
	}
	e, id = storeRDB(t, changed, facts)
	res, err := e.Verify(ctx, VerifyOptions{IDs: []string{id}, Deep: true})
	if err == nil || len(res) != 1 || res[0].OK {
		t.Fatalf("deep verify passed: %v %+v", err, res)
	}
	msg := strings.Join(res[0].Problems, "; ")
	if !strings.Contains(msg, "db2's digest is") || strings.Contains(msg, "db0") || !strings.Contains(msg, `db2 key "price:ACME"`) || strings.Contains(msg, "price:INIT") {
		t.Fatalf("problems: %s", msg)
	}
}

// TestDigestBucketsNameTheKeys: a key changed, one removed and one added
// among 200 are named by the buckets the set recorded; a bucket's keys
// fold exactly (a key's bucket of n is its bucket of 1024 mod n).
func TestDigestBucketsNameTheKeys(t *testing.T) {
	for keys, want := range map[int64]int{0: 1, 1: 4, 2: 8, 3: 16, 200: 1024, 5000: 1024, 1 << 20: 1024} {
		if n := bucketCount(keys); n != want {
			t.Errorf("bucketCount(%d) = %d, want %d", keys, n, want)
		}
	}
	for _, k := range []string{"", "a", "price:ACME", "user:42"} {
		for n := 1; n <= maxDigestBuckets; n *= 2 {
			if keyBucket([]byte(k), n) != keyBucket([]byte(k), maxDigestBuckets)%n {
				t.Fatalf("%q: bucket of %d is not the fold of 1024's", k, n)
			}
		}
	}
	ctx := accesstest.Admin(t.Context())
	srv := strictRedis(t, "")
	c := redisClient(t, srv, 1)
	p := c.Pipeline()
	for i := range 200 {
		p.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	snap := func() []byte {
		var buf bytes.Buffer
		if _, err := SnapshotRDB(ctx, srv.URL(), &buf, RDBOptions{}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	rec, _, err := DigestRDB(bytes.NewReader(snap()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := decodeBuckets(rec.Buckets[1]); len(b) != 1024 {
		t.Fatalf("%d buckets for 200 keys", len(b))
	}
	_, _, same, err := DigestRDBAgainst(bytes.NewReader(snap()), &rec, 20)
	if err != nil || len(same) != 0 {
		t.Fatalf("the same data: %v %v", same, err)
	}
	c.Set(ctx, "k17", "changed", 0)
	c.Del(ctx, "k150")
	c.Set(ctx, "new", "x", 0)
	got, _, named, err := DigestRDBAgainst(bytes.NewReader(snap()), &rec, 20)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(named, "; ")
	t.Log(text)
	if got.DBs[1] == rec.DBs[1] || len(named) != 3 || !strings.Contains(text, `"k17"`) || !strings.Contains(text, `"new"`) {
		t.Fatalf("named %q", named)
	}
	if _, _, few, _ := DigestRDBAgainst(bytes.NewReader(snap()), &rec, 1); len(few) != 2 || few[1] != "… and more" {
		t.Fatalf("limit 1: %q", few)
	}
}
