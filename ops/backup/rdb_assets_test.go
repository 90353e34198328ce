package backup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// redisAssets are the valid RDB files of Redis's own tests
// (testdata/redis-assets, see its README): every one loads into
// redis-server 7.0.
var redisAssets = []string{
	"encodings.rdb",
	"hash-zipmap.rdb",
	"hash-ziplist.rdb",
	"list-quicklist.rdb",
	"zset-ziplist.rdb",
	"scriptbackup.rdb",
}

func redisAsset(t *testing.T, name string) (path string, data []byte) {
	t.Helper()
	path = filepath.Join("testdata", "redis-assets", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// strictRedis starts an empty redis-server, or one that loaded rdb, that
// answers DEBUG and sanitizes every RESTORE payload deeply.
func strictRedis(t *testing.T, rdb string) *sandbox.RedisServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 30*time.Second)
	defer cancel()
	srv, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{
		RDB:    rdb,
		Config: []string{"enable-debug-command yes", "sanitize-dump-payload yes"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// debugDigest is DEBUG DIGEST: a hash of every key, value and expiry of
// every database (forty zeros for an empty server).
func debugDigest(t *testing.T, srv *sandbox.RedisServer) string {
	t.Helper()
	d, err := redisClient(t, srv, 0).Do(accesstest.Admin(t.Context()), "DEBUG", "DIGEST").Text()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRedisAssetsReplayDigest: each valid RDB of Redis's tests, loaded by
// redis-server itself, and the same file replayed by opsdeck's restore
// path (ReadRDBEntries, RESTORE of each DumpPayload) into an empty server
// give the same DEBUG DIGEST.
func TestRedisAssetsReplayDigest(t *testing.T) {
	needSandbox(t)
	const empty = "0000000000000000000000000000000000000000"
	for _, name := range redisAssets {
		t.Run(name, func(t *testing.T) {
			path, data := redisAsset(t, name)
			if _, err := ParseRDB(bytes.NewReader(data)); err != nil {
				t.Fatalf("ParseRDB: %v", err)
			}
			var entries []RDBEntry
			sum, err := ReadRDBEntries(bytes.NewReader(data), func(e RDBEntry) error {
				entries = append(entries, e)
				return nil
			})
			if err != nil {
				t.Fatalf("ReadRDBEntries: %v", err)
			}
			loaded := debugDigest(t, strictRedis(t, path))
			dst := strictRedis(t, "")
			restoreEntries(t, dst, entries)
			replayed := debugDigest(t, dst)
			t.Logf("RDB version %d, %d keys, digest %s", sum.Version, len(entries), loaded)
			if replayed != loaded {
				t.Fatalf("replayed digest %s, redis-server loading the file: %s", replayed, loaded)
			}
			if (loaded == empty) != (len(entries) == 0) {
				t.Fatalf("%d entries, digest %s", len(entries), loaded)
			}
		})
	}
}
