package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/bundle"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// readBundle opens a bundle and returns its members by name, checking
// each is 0600, and the whole tar decompressed.
func readBundle(t *testing.T, path string) (map[string]string, []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	whole, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decompress %s: %v", path, err)
	}
	members := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(whole))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if h.Mode != 0o600 {
			t.Errorf("%s: mode %o, want 600", h.Name, h.Mode)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		members[h.Name] = string(b)
	}
	return members, whole
}

// sandboxConfig is a copy of the sandbox's config whose state dir is the
// test's, with Redis given by redisURL.
func sandboxConfig(t *testing.T, redisURL string) *config.Config {
	t.Helper()
	cfg, err := config.Load(sb.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = t.TempDir()
	cfg.Redis.URL = redisURL
	return cfg
}

func TestBundleHoldsEveryPartAndNoSecret(t *testing.T) {
	requireSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A Redis with a password of its own (the sandbox's has none).
	rs, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: "redis-Secret-4711"})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Stop()
	cfg := sandboxConfig(t, rs.URL())

	// A secret in the crashed pod's log lines, current and previous.
	const planted = "sk_live_PLANTED_9f8e7d"
	ns, pod := sb.KubeSeed.Namespace, sb.KubeSeed.CrashLoopPod
	now := time.Now()
	k := sb.Kube.Kubelet()
	k.SetLog(ns, pod, "worker", []sandbox.LogLine{
		{Time: now.Add(-time.Minute), Text: "INFO starting worker"},
		{Time: now, Text: "ERROR connect postgres://app:" + sb.Postgres.Password + "@db:5432/stock failed; redis password " + rs.Password + " token " + planted},
	})
	k.SetPrevious(ns, pod, "worker", []sandbox.LogLine{
		{Time: now.Add(-2 * time.Minute), Text: "fatal: unhandled exception, api key " + planted},
	})

	// The planted token is a secret the configuration knows: an S3 key.
	cfg.Backup.S3.SecretKey = planted
	path := filepath.Join(t.TempDir(), "incident.tar.zst")
	actx := accesstest.As(ctx, "olivia", access.Operator)
	t0 := time.Now()
	res, err := bundle.Collect(actx, bundle.Sources{Config: cfg}, bundle.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle of %d bytes, %d parts in %s", res.Size, len(res.Parts), time.Since(t0))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != res.Size {
		t.Fatalf("file mode %v size %d, want 0600 and %d", st.Mode().Perm(), st.Size(), res.Size)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	for _, p := range res.Failed() {
		t.Errorf("part %s failed: %s", p.Name, p.Err)
	}
	members, whole := readBundle(t, path)

	podDir := "kubernetes/pods/" + ns + "/"
	want := map[string]string{
		"MANIFEST":                                   "PART",
		"manifest.json":                              `"parts"`,
		"kubernetes/unhealthy-pods.txt":              pod,
		"kubernetes/warning-events.txt":              "BackOff",
		"kubernetes/nodes.txt":                       sb.KubeSeed.NotReadyNodes[0],
		podDir + pod + "/describe.txt":               "CrashLoopBackOff",
		podDir + pod + "/worker.log":                 "INFO starting worker",
		podDir + pod + "/worker.previous.log":        "fatal: unhandled exception",
		podDir + sb.KubeSeed.PendingPod + "/api.log": "not on a node",
		"postgres/activity.txt":                      "pg_stat_activity",
		"postgres/blocking-tree.txt":                 "pg_blocking_pids",
		"postgres/longest-transactions.txt":          "longest open transactions",
		"postgres/locks.txt":                         "pg_locks",
		"postgres/statements-top20.txt":              "pg_stat_statements",
		"postgres/replication.txt":                   "pg_replication_slots",
		"postgres/archive.txt":                       "pg_stat_archiver",
		"redis/info.txt":                             "redis_version",
		"redis/slowlog.txt":                          "SLOWLOG",
		"redis/latency-latest.txt":                   "LATENCY LATEST",
		"redis/client-list.txt":                      "cmd=client",
		"metrics.csv":                                "series,source,title,unit,time,value",
		"check.txt":                                  "TARGET",
		"check.json":                                 `"schema": "opsdeck.check/v1"`,
		"config.yaml":                                "postgres:",
	}
	for name, text := range want {
		body, ok := members[name]
		if !ok {
			t.Errorf("no member %s", name)
			continue
		}
		if !strings.Contains(body, text) {
			t.Errorf("%s lacks %q:\n%s", name, text, body)
		}
	}
	if !strings.Contains(members["postgres/statements-top20.txt"], "not installed") {
		t.Errorf("statements: %s", members["postgres/statements-top20.txt"])
	}
	var names []string
	for _, p := range res.Parts {
		names = append(names, p.Name)
		if !strings.Contains(members["MANIFEST"], p.Name) {
			t.Errorf("MANIFEST does not list %s", p.Name)
		}
	}
	if !slices.IsSorted(names) || len(members) != len(res.Parts)+2 {
		t.Errorf("parts %v, members %d", names, len(members))
	}
	// No secret anywhere in the decompressed archive.
	for _, secret := range []string{sb.Postgres.Password, sb.Postgres.AppPassword, rs.Password, planted} {
		if bytes.Contains(whole, []byte(secret)) {
			t.Errorf("the bundle holds the secret %q", secret)
		}
	}
	if !strings.Contains(members[podDir+pod+"/worker.log"], "xxxxx") {
		t.Errorf("the log's secrets are not masked:\n%s", members[podDir+pod+"/worker.log"])
	}

	recs, err := audit.Read(audit.PathIn(cfg.StateDir), audit.Filter{})
	if err != nil || len(recs) != 1 || recs[0].Action != string(access.IncidentBundle) || recs[0].Target != path ||
		recs[0].Who != "olivia" || recs[0].Params["size"] != float64(res.Size) {
		t.Fatalf("audit %+v, %v", recs, err)
	}
}

func TestBundleRefused(t *testing.T) {
	cfg := config.Default()
	cfg.StateDir = t.TempDir()
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	_, err := bundle.Collect(accesstest.As(context.Background(), "vera", access.Viewer), bundle.Sources{Config: cfg}, bundle.Options{Path: path})
	if !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("a viewer: %v", err)
	}
	if _, err := bundle.Collect(context.Background(), bundle.Sources{Config: cfg}, bundle.Options{Path: path}); !errors.Is(err, access.ErrNoIdentity) {
		t.Fatalf("no identity: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused bundle was written: %v", err)
	}
	recs, err := audit.Read(audit.PathIn(cfg.StateDir), audit.Filter{})
	if err != nil || len(recs) != 2 || recs[0].Result != audit.ResultRefused {
		t.Fatalf("audit %+v, %v", recs, err)
	}
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestBundleDeadRedisIsALine(t *testing.T) {
	requireSandbox(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	silent := silentListener(t)
	for _, tc := range []struct {
		name, addr, want string
		connect          time.Duration
	}{
		{"stopped", closedAddr, "connection refused", 500 * time.Millisecond},
		{"silent", silent, "no answer from " + silent, 500 * time.Millisecond},
		// A connect timeout longer than the source's: the source's bound cuts it.
		{"silent past the source timeout", silent, "no answer from " + silent, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sandboxConfig(t, "redis://"+tc.addr+"/0")
			cfg.Timeouts.Connect = tc.connect
			path := filepath.Join(t.TempDir(), "b.tar.zst")
			opts := bundle.Options{Path: path, Timeout: 8 * time.Second, SourceTimeout: 3 * time.Second}
			t0 := time.Now()
			res, err := bundle.Collect(accesstest.Admin(context.Background()), bundle.Sources{Config: cfg}, opts)
			took := time.Since(t0)
			if err != nil {
				t.Fatal(err)
			}
			if took > opts.Timeout+2*time.Second {
				t.Errorf("took %s, past the deadline %s", took, opts.Timeout)
			}
			members, _ := readBundle(t, path)
			var failed []string
			for _, p := range res.Failed() {
				failed = append(failed, p.Name)
			}
			for _, part := range []string{"redis/info.txt", "redis/slowlog.txt", "redis/latency-latest.txt", "redis/client-list.txt"} {
				body := members[part]
				if !strings.HasPrefix(body, "redis: ") || !strings.Contains(body, tc.want) || strings.Count(body, "\n") != 1 {
					t.Errorf("%s is not the error line:\n%s", part, body)
				}
				if !slices.Contains(failed, part) {
					t.Errorf("%s not among the failed parts %v", part, failed)
				}
			}
			// The rest is there.
			if !strings.Contains(members["postgres/activity.txt"], "pg_stat_activity") || !strings.Contains(members["kubernetes/unhealthy-pods.txt"], sb.KubeSeed.CrashLoopPod) {
				t.Errorf("the other parts are missing: %v", slices.Sorted(func(yield func(string) bool) {
					for k := range members {
						if !yield(k) {
							return
						}
					}
				}))
			}
			t.Logf("%s Redis: bundle in %s; redis/info.txt: %s", tc.name, took.Round(time.Millisecond), members["redis/info.txt"])
		})
	}
}

// TestBundleBlockingTree: a session waiting for another's lock shows under
// its blocker in the tree, its lock ungranted in locks.txt, the blocker's
// transaction among the longest.
func TestBundleBlockingTree(t *testing.T) {
	requireSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	holder, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	waiter, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close(context.Background())
	if _, err := holder.Exec(ctx, "CREATE TABLE IF NOT EXISTS bundle_blocked (x int)"); err != nil {
		t.Fatal(err)
	}
	var holderPID, waiterPID int
	_ = holder.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&holderPID)
	_ = waiter.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&waiterPID)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE bundle_blocked IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "SELECT count(*) FROM bundle_blocked")
		waited <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int
		_ = holder.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", waiterPID).Scan(&n)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second session never waited for the lock")
		}
	}
	cfg := sandboxConfig(t, sb.Redis.URL())
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	if _, err := bundle.Collect(accesstest.Admin(ctx), bundle.Sources{Config: cfg}, bundle.Options{Path: path}); err != nil {
		t.Fatal(err)
	}
	members, _ := readBundle(t, path)
	tree := members["postgres/blocking-tree.txt"]
	if !strings.Contains(tree, fmt.Sprintf("\n%d ", holderPID)) || !strings.Contains(tree, fmt.Sprintf("\n  %d ", waiterPID)) || !strings.Contains(tree, "SELECT count(*) FROM bundle_blocked") {
		t.Errorf("blocking tree (holder %d, waiter %d):\n%s", holderPID, waiterPID, tree)
	}
	locks := members["postgres/locks.txt"]
	if !strings.Contains(locks, "bundle_blocked") || !strings.Contains(locks, " f ") {
		t.Errorf("locks:\n%s", locks)
	}
	if !strings.Contains(members["postgres/longest-transactions.txt"], strconv.Itoa(holderPID)) {
		t.Errorf("longest transactions:\n%s", members["postgres/longest-transactions.txt"])
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
}
