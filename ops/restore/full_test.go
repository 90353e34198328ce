package restore_test

import (
	"context"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/backup"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// TestFullRestore restores the sandbox's database, Redis and namespace in
// one plan: a row, a key and a deleted ConfigMap written after the backup
// are put back as they were, and the writers run again.
func TestFullRestore(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	cfg := *sb.Config
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	cfg.Restore.ScaleTimeout = 20 * time.Second
	be, err := backup.New(&cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	defer be.Audit.Close()
	if _, err := be.Backup(ctx, backup.Options{Kind: "full", Components: []string{backup.Database, backup.Redis, backup.Config}}); err != nil {
		t.Fatal(err)
	}

	db, err := pgx.Connect(ctx, cfg.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	countStocks := func() int64 {
		var n int64
		c, err := pgx.Connect(ctx, cfg.Postgres.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if err := c.QueryRow(ctx, "SELECT count(*) FROM stocks").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	stocks := countStocks()
	if _, err := db.Exec(ctx, "INSERT INTO stocks (symbol, name, exchange, sector, industry, listed_on) VALUES ('ZZZZ', 'written after the backup', 'X', 'X', 'X', '2026-01-01')"); err != nil {
		t.Fatal(err)
	}
	db.Close(ctx)
	opts, err := goredis.ParseURL(cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Set(ctx, "after:backup", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	ns := cfg.Kubernetes.Namespaces[0]
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "stockapp-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	e := oprestore.New(be)
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Full}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Blocked(); err != nil {
		t.Fatalf("%v\n%+v", err, plan.Checks)
	}
	var names []string
	for _, s := range plan.Steps {
		names = append(names, s.Name)
	}
	// Config first (the objects the data's users need), the data with the
	// writers stopped, the health checks last.
	if got := strings.Join(names, " "); !strings.HasPrefix(got, "preflight safety-backup config.apply database.restore database.verify writers.down database.swap redis.") || !strings.HasSuffix(got, "writers.up post-checks") {
		t.Fatalf("steps %s", got)
	}
	rep, err := e.Run(ctx, plan, nil)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Steps)
	}
	if got := countStocks(); got != stocks {
		t.Errorf("stocks %d, want %d", got, stocks)
	}
	if n, _ := rdb.Exists(ctx, "after:backup").Result(); n != 0 {
		t.Error("the key written after the backup is still there")
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "stockapp-config", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Error("the deleted ConfigMap did not come back")
	}
	for _, w := range cfg.RestoreWriters() {
		d, err := cs.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas == 0 {
			t.Errorf("writer %s not running again: %v", w, err)
		}
	}
	// The database's safety backup first, Redis's once the writers stopped.
	ids := strings.Split(rep.SafetyBackup, ", ")
	if len(ids) != 2 {
		t.Fatalf("safety backups %q", rep.SafetyBackup)
	}
	for i, comp := range []string{backup.Database, backup.Redis} {
		s, err := backup.Get(ctx, be.Store, ids[i])
		if err != nil || s.Manifest == nil || len(s.Manifest.Components) != 1 || s.Manifest.Components[0].Name != comp {
			t.Errorf("safety backup %s: %+v %v", ids[i], s, err)
		}
	}
}
