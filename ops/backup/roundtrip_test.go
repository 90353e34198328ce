package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/runner"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// extract writes a file's content to a temp file and returns its path.
func extract(t *testing.T, e *Engine, m *Manifest, component string, ids []age.Identity) string {
	t.Helper()
	c, ok := m.Component(component)
	if !ok || len(c.Files) != 1 {
		t.Fatalf("set %s has no %s file: %+v", m.ID, component, m.Components)
	}
	fr, err := OpenFile(accesstest.Admin(context.Background()), e.Store, m.ID, c.Files[0], ids)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	path := filepath.Join(t.TempDir(), component)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, fr); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chmod(path, 0o644)
	os.Chmod(filepath.Dir(path), 0o755)
	return path
}

func TestDatabaseRoundTrip(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	e := newEngine(t, testConfig(t))
	res, err := e.Backup(ctx, Options{Kind: Database})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified {
		t.Fatal("not verified after the run")
	}
	c, _ := res.Manifest.Component(Database)
	if c.Postgres.Database != sandbox.PostgresDatabase || !strings.HasPrefix(c.Postgres.ServerVersion, "15") || len(c.Postgres.Tables) < len(sandbox.PostgresSeedTables) {
		t.Fatalf("facts = %+v", c.Postgres)
	}
	for _, tc := range c.Postgres.Tables {
		if want, ok := sb.PostgresSeed.Rows[tc.Name]; ok && want != tc.Rows {
			t.Errorf("%s: manifest %d rows, seeded %d", tc.Name, tc.Rows, want)
		}
	}
	if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{res.Manifest.ID}, Deep: true}); err != nil {
		t.Fatalf("deep verify: %v", err)
	}

	// Restore into a fresh database with parallel pg_restore and compare.
	dump := extract(t, e, res.Manifest, Database, nil)
	target := fmt.Sprintf("restore_%d", time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, sb.Postgres.DSNFor("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+target); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(accesstest.Admin(context.Background()), "DROP DATABASE IF EXISTS "+target+" WITH (FORCE)")
	dsn, pw := SplitPassword(sb.Postgres.DSNFor(target))
	err = runner.Exec{}.Run(ctx, runner.Cmd{Path: "pg_restore", Args: []string{"--jobs=2", "--exit-on-error", "--no-owner", "--dbname=" + dsn, dump}, Env: PgEnv(pw)})
	if err != nil {
		t.Fatalf("pg_restore -j2 of the dump: %v", err)
	}
	restored, err := pgx.Connect(ctx, sb.Postgres.DSNFor(target))
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close(ctx)
	for _, tc := range c.Postgres.Tables {
		var n int64
		if err := restored.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{tc.Schema, tc.Name}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != tc.Rows {
			t.Errorf("%s.%s: restored %d rows, manifest %d", tc.Schema, tc.Name, n, tc.Rows)
		}
	}
	schema := func(conn *pgx.Conn) string {
		var s string
		err := conn.QueryRow(ctx, `SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, ordinal_position)
  FROM information_schema.columns WHERE table_schema = 'public'`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	src, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	if a, b := schema(src), schema(restored); a != b || a == "" {
		t.Errorf("schema differs:\n%s\n%s", a, b)
	}
	var sumSrc, sumDst string
	q := "SELECT md5(string_agg(stock_id || ':' || trade_date || ':' || close, ',' ORDER BY stock_id, trade_date)) FROM daily_prices"
	src.QueryRow(ctx, q).Scan(&sumSrc)
	restored.QueryRow(ctx, q).Scan(&sumDst)
	if sumSrc != sumDst {
		t.Errorf("daily_prices content differs")
	}
}

func TestRedisRoundTrip(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	e := newEngine(t, testConfig(t))
	src := goredis.NewClient(&goredis.Options{Addr: sb.Redis.Addr(), Password: sb.Redis.Password})
	defer src.Close()
	if err := src.Set(ctx, "opsdeck:test:ttl", "v", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := e.Backup(ctx, Options{Kind: Redis})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := res.Manifest.Component(Redis)
	var keys int64
	for _, n := range c.Redis.Keys {
		keys += n
	}
	if c.Redis.Version == "" || keys == 0 || c.Redis.Expires[0] == 0 {
		t.Fatalf("facts = %+v", c.Redis)
	}
	if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{res.Manifest.ID}, Deep: true}); err != nil {
		t.Fatalf("deep verify: %v", err)
	}
	rdb := extract(t, e, res.Manifest, Redis, nil)

	// Load it into a fresh redis-server and compare every key.
	bin, err := sandbox.RedisServerPath()
	if err != nil {
		t.Fatal(err)
	}
	port, _ := sandbox.FreePort()
	dir := filepath.Dir(rdb)
	proc, err := sandbox.StartProcess(sandbox.ProcessSpec{Name: "redis-restored", Path: bin, Dir: dir,
		Args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", filepath.Base(rdb), "--save", "", "--appendonly", "no"}})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	dst := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer dst.Close()
	if err := proc.WaitReady(ctx, 20*time.Second, func(ctx context.Context) error { return dst.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	compared := 0
	for db, n := range c.Redis.Keys {
		s := goredis.NewClient(&goredis.Options{Addr: sb.Redis.Addr(), Password: sb.Redis.Password, DB: db})
		d := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DB: db})
		if got := d.DBSize(ctx).Val(); got != n {
			t.Errorf("db %d: restored %d keys, manifest %d", db, got, n)
		}
		iter := s.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			a, b := s.Dump(ctx, k).Val(), d.Dump(ctx, k).Val()
			if s.Type(ctx, k).Val() == "set" { // a hashtable set's order is not stable
				am, bm := s.SMembers(ctx, k).Val(), d.SMembers(ctx, k).Val()
				slices.Sort(am)
				slices.Sort(bm)
				a, b = strings.Join(am, ","), strings.Join(bm, ",")
			}
			if a != b {
				t.Errorf("db %d key %q differs after the round trip", db, k)
			}
			ta, tb := s.PTTL(ctx, k).Val(), d.PTTL(ctx, k).Val()
			if (ta > 0) != (tb > 0) || (ta > 0 && (tb > ta || ta-tb > time.Minute)) {
				t.Errorf("db %d key %q: ttl %v, restored %v", db, k, ta, tb)
			}
			compared++
		}
		s.Close()
		d.Close()
	}
	if compared < 100 {
		t.Errorf("compared only %d keys", compared)
	}
}

func TestConfigRoundTripEncrypted(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600)
	cfg := testConfig(t)
	cfg.Backup.Encryption.Recipients = []string{id.Recipient().String()}
	cfg.Backup.Encryption.IdentityFile = keyFile
	// opsdeck's own log goes to the state dir, at debug level, for the scan.
	logger, closer, err := logging.Setup(cfg.StateDir, true)
	if err != nil {
		t.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(logger)
	defer func() { slog.SetDefault(prev); closer.Close() }()
	cfg.Backup.WebhookURL = "http://127.0.0.1:1/hook" // fails: a warning in the log
	e := newEngine(t, cfg)
	res, err := e.Backup(ctx, Options{Kind: "full", Components: []string{Config, Database, Logs}})
	if err != nil {
		t.Fatal(err) // the logs of the sandbox's unscheduled pod are readable: the set is whole
	}
	closer.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(logging.Path(cfg.StateDir)); st == nil || st.Size() == 0 {
		t.Fatal("no log file was written to scan")
	}
	c, _ := res.Manifest.Component(Config)
	if c.Kube.Objects["Secret"] == 0 || c.Kube.Objects["Deployment"] == 0 || c.Kube.Objects["Service"] == 0 {
		t.Fatalf("objects = %v", c.Kube.Objects)
	}
	if _, err := e.Verify(ctx, VerifyOptions{All: true, Deep: true}); err != nil {
		t.Fatalf("deep verify: %v", err)
	}

	// No secret value in plain text anywhere in the store or state dir.
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	ns := sb.Config.Kubernetes.Namespaces[0]
	secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, s := range secrets.Items {
		for _, v := range s.Data {
			if len(v) >= 12 { // passwords, not user or namespace names
				values = append(values, string(v))
			}
		}
	}
	values = append(values, sb.Postgres.Password, sb.Postgres.AppPassword)
	if len(values) < 2 {
		t.Fatalf("too few secret values to look for: %d", len(values))
	}
	for _, dir := range []string{cfg.Backup.Dir, cfg.StateDir} {
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, _ := os.ReadFile(path)
			for _, v := range values {
				if bytes.Contains(b, []byte(v)) {
					t.Errorf("%s holds a secret value in plain text: %.3s…", path, v)
				}
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
			}
			return nil
		})
	}

	// Round trip: create every saved object in a fresh namespace.
	ids := []age.Identity{id}
	tarPath := extract(t, e, res.Manifest, Config, ids)
	dyn, err := dynamic.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	newNS := "restored-" + strconv.FormatInt(time.Now().UnixNano()%100000, 10)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: newNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.CoreV1().Namespaces().Delete(accesstest.Admin(context.Background()), newNS, metav1.DeleteOptions{})
	created := map[string]int{}
	for _, tf := range readTar(t, tarPath) {
		h, b := tf.name, tf.data
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal(b, &obj.Object); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if obj.GetKind() == "Namespace" {
			continue
		}
		kk := kindOf(obj.GetKind())
		obj.SetNamespace(newNS)
		if _, err := dyn.Resource(kk.GVR).Namespace(newNS).Create(ctx, &obj, metav1.CreateOptions{}); err != nil {
			t.Errorf("create %s: %v", h, err)
			continue
		}
		created[obj.GetKind()]++
	}
	for kind, n := range c.Kube.Objects {
		if kind != "Namespace" && created[kind] != n {
			t.Errorf("%s: created %d, manifest %d", kind, created[kind], n)
		}
	}
	for _, kind := range []string{"Deployment", "ConfigMap", "Secret"} {
		kk := kindOf(kind)
		orig, _ := dyn.Resource(kk.GVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		for _, o := range orig.Items {
			if skipObject(&o) {
				continue
			}
			got, err := dyn.Resource(kk.GVR).Namespace(newNS).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Errorf("%s %s not restored: %v", kind, o.GetName(), err)
				continue
			}
			for _, field := range []string{"spec", "data"} {
				a, _, _ := unstructured.NestedFieldNoCopy(o.Object, field)
				b, _, _ := unstructured.NestedFieldNoCopy(got.Object, field)
				ya, _ := yaml.Marshal(a)
				yb, _ := yaml.Marshal(b)
				if !bytes.Equal(ya, yb) {
					t.Errorf("%s %s: %s differs after the round trip", kind, o.GetName(), field)
				}
			}
		}
	}
}

func kindOf(kind string) KubeKind {
	for _, k := range KubeKinds {
		if k.Kind == kind {
			return k
		}
	}
	panic("unknown kind " + kind)
}

func TestConfigWithoutEncryptionSkipsSecrets(t *testing.T) {
	needSandbox(t)
	e := newEngine(t, testConfig(t))
	res, err := e.Backup(accesstest.Admin(context.Background()), Options{Kind: Config})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := res.Manifest.Component(Config)
	if c.Kube.Objects["Secret"] != 0 || c.Kube.SecretsSkipped == 0 {
		t.Fatalf("secrets stored unencrypted: %+v", c.Kube)
	}
	if !strings.Contains(strings.Join(c.Warnings, ";"), "Secrets skipped: backups are not encrypted") {
		t.Errorf("no warning: %v", c.Warnings)
	}
}

func TestVerifyCatchesDamage(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	cfg := testConfig(t)
	e := newEngine(t, cfg)
	tests := []struct {
		name   string
		damage func(path string)
		want   string
	}{
		{"flipped byte", func(p string) {
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0x40
			os.WriteFile(p, b, 0o600)
		}, "sha256"},
		{"truncated", func(p string) {
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-100)
		}, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Backup(ctx, Options{Kind: Redis})
			if err != nil {
				t.Fatal(err)
			}
			f := res.Manifest.Components[0].Files[0]
			tt.damage(filepath.Join(cfg.Backup.Dir, res.Manifest.ID, f.Name))
			for _, deep := range []bool{false, true} {
				results, err := e.Verify(ctx, VerifyOptions{IDs: []string{res.Manifest.ID}, Deep: deep})
				if err == nil || len(results) != 1 || results[0].OK {
					t.Fatalf("deep=%v: damage not caught: %v %+v", deep, err, results)
				}
				if !strings.Contains(err.Error(), f.Name) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("deep=%v: %v does not name %s / %q", deep, err, f.Name, tt.want)
				}
			}
			s, _ := Get(ctx, e.Store, res.Manifest.ID)
			if s.VerifyState() != VerifyFailed {
				t.Errorf("verify state %s", s.VerifyState())
			}
			if _, err := OpenFile(ctx, e.Store, res.Manifest.ID, f, nil); err == nil {
				fr, _ := OpenFile(ctx, e.Store, res.Manifest.ID, f, nil)
				_, rerr := io.Copy(io.Discard, fr)
				fr.Close()
				if !errors.Is(rerr, ErrChecksum) {
					t.Errorf("reading the damaged file back: %v, want ErrChecksum", rerr)
				}
			}
		})
	}
}

// stopMidDump kills PostgreSQL while pg_dump is part way through: a
// session holds a lock on daily_prices that pg_dump's own lock waits
// behind, and the server is killed once pg_dump is seen waiting. Killing
// at pg_dump's first output raced with the runner's polled pipe: a dump
// this small could be finished before the first read.
type stopMidDump struct {
	runner.Exec
	t *testing.T
}

func (s *stopMidDump) Run(ctx context.Context, c runner.Cmd) error {
	if !slices.Contains(c.Args, "--format=custom") {
		return s.Exec.Run(ctx, c)
	}
	holder, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		s.t.Fatalf("lock holder: %v", err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, "BEGIN; LOCK TABLE daily_prices IN ACCESS EXCLUSIVE MODE"); err != nil {
		s.t.Fatalf("lock daily_prices: %v", err)
	}
	killed := make(chan error, 1)
	go func() {
		watch, err := pgx.Connect(ctx, sb.Postgres.DSN())
		if err != nil {
			killed <- err
			return
		}
		defer watch.Close(context.Background())
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			var waiting bool
			err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE wait_event_type = 'Lock' AND query ILIKE '%LOCK TABLE%')`).Scan(&waiting)
			if err != nil {
				killed <- err
				return
			}
			if waiting {
				killed <- sb.Postgres.Kill()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		killed <- errors.New("pg_dump never waited for the lock")
	}()
	runErr := s.Exec.Run(ctx, c)
	if err := <-killed; err != nil {
		s.t.Errorf("kill PostgreSQL mid-dump: %v", err)
	}
	return runErr
}

func TestPostgresStoppedMidDumpFails(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	e := newEngine(t, testConfig(t))
	e.Runner = &stopMidDump{t: t}
	res, err := e.Backup(ctx, Options{Kind: Database})
	if rerr := sb.Postgres.Restart(ctx); rerr != nil {
		t.Fatalf("restart PostgreSQL: %v", rerr)
	}
	if err == nil || res.Manifest != nil {
		t.Fatalf("a dump whose server died became a backup: %+v", res.Manifest)
	}
	if !strings.Contains(err.Error(), "pg_dump failed, no backup was made") {
		t.Errorf("error %v", err)
	}
	committed, leftovers, _ := e.Store.List(ctx)
	if len(committed) != 0 || len(leftovers) != 0 {
		t.Errorf("store holds %v / %v", committed, leftovers)
	}
	// The audit log records the failure.
	b, _ := os.ReadFile(filepath.Join(e.Config.StateDir, "audit.log"))
	if !bytes.Contains(b, []byte(`"result":"error"`)) || bytes.Contains(b, []byte(sb.Postgres.Password)) {
		t.Errorf("audit log: %s", b)
	}
}

func TestReadOnlyRefused(t *testing.T) {
	needSandbox(t)
	cfg := testConfig(t)
	cfg.ReadOnly = true
	e := newEngine(t, cfg)
	ctx := accesstest.Admin(context.Background())
	if _, err := e.Backup(ctx, Options{Kind: Redis}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("backup: %v", err)
	}
	if _, err := e.Prune(ctx, PruneOptions{}); err == nil {
		t.Error("prune allowed read-only")
	}
	if _, err := e.Verify(ctx, VerifyOptions{All: true}); err == nil {
		t.Error("verify allowed read-only")
	}
	if _, err := e.Prune(ctx, PruneOptions{DryRun: true}); err != nil {
		t.Errorf("dry run refused: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(cfg.StateDir, "audit.log"))
	if strings.Count(string(b), `"result":"refused"`) != 3 {
		t.Errorf("audit: %s", b)
	}
}

type tarFile struct {
	name string
	data []byte
}

// readTar returns the files of a tar, in order.
func readTar(t *testing.T, path string) []tarFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var out []tarFile
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarFile{h.Name, b})
	}
}
