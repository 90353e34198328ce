package backup

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
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

// storedRDB is the Redis component with a backup that stores data as
// the snapshot: through the store, with its true sha256, checked by the
// Redis component's own deep check.
type storedRDB struct {
	redisComponent
	data  []byte
	facts *RedisFacts
}

func (s storedRDB) Backup(ctx context.Context, run *ComponentRun) error {
	run.Record.Redis = s.facts
	return run.WriteFile(ctx, "redis.rdb", "rdb", nil, func(w io.Writer) error {
		_, err := w.Write(s.data)
		return err
	})
}

// storeRDB takes a Redis backup whose snapshot is data into a fresh
// store and returns the engine and the set's id.
func storeRDB(t *testing.T, data []byte, facts *RedisFacts) (*Engine, string) {
	t.Helper()
	i := slices.IndexFunc(registered, func(c ComponentType) bool { return c.Name() == Redis })
	saved := registered[i]
	registered[i] = storedRDB{data: data, facts: facts}
	t.Cleanup(func() { registered[i] = saved })
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Backup.Dir = filepath.Join(dir, "store")
	cfg.StateDir = filepath.Join(dir, "state")
	e := newEngine(t, cfg)
	res, err := e.Backup(accesstest.Admin(t.Context()), Options{Kind: Redis})
	if err != nil {
		t.Fatal(err)
	}
	return e, res.Manifest.ID
}

// A set whose stored RDB is corrupt_ziplist.rdb — the bytes are what was
// stored, so a plain verify passes — is refused by deep verify, naming the
// key and the damage, and never recorded verified-deep; the valid files of
// Redis's tests stored the same way pass it.
func TestDeepVerifyRefusesCorruptZiplist(t *testing.T) {
	ctx := accesstest.Admin(t.Context())
	_, data := redisAsset(t, "corrupt_ziplist.rdb")
	// The facts a walk that skips values finds: only the values can tell.
	e, id := storeRDB(t, data, &RedisFacts{RDBVersion: 7, Keys: map[int]int64{0: 54}})
	if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{id}}); err != nil {
		t.Fatalf("plain verify: %v", err)
	}
	res, err := e.Verify(ctx, VerifyOptions{IDs: []string{id}, Deep: true})
	if err == nil || len(res) != 1 || res[0].OK {
		t.Fatalf("deep verify passed: %v %+v", err, res)
	}
	msg := strings.Join(res[0].Problems, "; ")
	for _, want := range []string{`key "key:000000000091"`, "ziplist"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	t.Logf("deep verify: %s", msg)
	s, err := Get(ctx, e.Store, id)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifyState() != VerifyFailed {
		t.Errorf("verify state %s, want %s", s.VerifyState(), VerifyFailed)
	}

	for _, name := range redisAssets {
		_, data := redisAsset(t, name)
		sum, err := ParseRDB(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e, id := storeRDB(t, data, &RedisFacts{RDBVersion: sum.Version, Keys: sum.Keys, Expires: sum.Expires})
		if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{id}, Deep: true}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if s, _ := Get(ctx, e.Store, id); s.VerifyState() != VerifyDeepOK {
			t.Errorf("%s: verify state %s", name, s.VerifyState())
		}
	}
}
