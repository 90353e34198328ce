package restore_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/ops/runner"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

var dbSeq atomic.Int64

// dbFixture is a database of its own on the sandbox server, a backup of
// it, and a namespace with one writer Deployment whose pods the sandbox's
// stand-in controller manages.
type dbFixture struct {
	t      *testing.T
	name   string
	cfg    *config.Config
	be     *backup.Engine
	set    *backup.Manifest
	cs     kubernetes.Interface
	ns     string
	schema string // the schema as pg_dump --schema-only shows it
}

func newDBFixture(t *testing.T) *dbFixture {
	t.Helper()
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	f := &dbFixture{t: t, name: fmt.Sprintf("rt%d_%d", os.Getpid()%1000, dbSeq.Add(1))}
	admin, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+f.name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropAll(f.name) })
	f.exec(`CREATE TABLE stocks (id serial PRIMARY KEY, symbol text UNIQUE NOT NULL);
CREATE TABLE prices (id bigserial PRIMARY KEY, stock_id int REFERENCES stocks(id), day date, close numeric(12,2));
CREATE INDEX prices_day ON prices (day);
CREATE VIEW last_prices AS SELECT stock_id, max(day) AS day FROM prices GROUP BY stock_id;
INSERT INTO stocks (symbol) SELECT 'S' || g FROM generate_series(1, 50) g;
INSERT INTO prices (stock_id, day, close) SELECT 1 + g % 50, date '2026-01-01' + g % 300, g / 7.0 FROM generate_series(1, 20000) g;`)
	f.schema = f.dumpSchema()

	cfg := *sb.Config
	cfg.Postgres.DSN = sb.Postgres.DSNFor(f.name)
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	cfg.Restore.ScaleTimeout = 20 * time.Second
	f.cfg = &cfg
	f.setupWriters()
	be, err := backup.New(f.cfg, "test", f.cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Audit.Close() })
	f.be = be
	res, err := be.Backup(ctx, backup.Options{Kind: backup.Database})
	if err != nil {
		t.Fatal(err)
	}
	f.set = res.Manifest
	return f
}

// setupWriters makes a namespace with a Deployment "writer" of 2 replicas
// and plays the Deployment controller for it.
func (f *dbFixture) setupWriters() {
	t := f.t
	ctx := accesstest.Admin(context.Background())
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	f.cs = cs
	f.ns = strings.ReplaceAll(f.name, "_", "-")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.CoreV1().Namespaces().Delete(accesstest.Admin(context.Background()), f.ns, metav1.DeleteOptions{})
	})
	labels := map[string]string{"app": "writer"}
	replicas := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "writer", Namespace: f.ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "stockapp/api:1"}}}}},
	}
	if _, err := cs.AppsV1().Deployments(f.ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stop, err := sandbox.PlayDeployments(accesstest.Admin(context.Background()), cs, f.ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	f.waitPods(2)
	f.cfg.Restore.Writers = []string{f.ns + "/writer"}
}

func (f *dbFixture) pods() int {
	pods, err := f.cs.CoreV1().Pods(f.ns).List(accesstest.Admin(context.Background()), metav1.ListOptions{LabelSelector: "app=writer"})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(pods.Items)
}

func (f *dbFixture) waitPods(n int) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for f.pods() != n {
		if time.Now().After(deadline) {
			f.t.Fatalf("writer pods: %d, want %d", f.pods(), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *dbFixture) replicas() int32 {
	d, err := f.cs.AppsV1().Deployments(f.ns).Get(accesstest.Admin(context.Background()), "writer", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func (f *dbFixture) exec(sql string) {
	f.t.Helper()
	ctx := accesstest.Admin(context.Background())
	c, err := pgx.Connect(ctx, sb.Postgres.DSNFor(f.name))
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		f.t.Fatal(err)
	}
}

func (f *dbFixture) count(table string) int64 {
	f.t.Helper()
	ctx := accesstest.Admin(context.Background())
	c, err := pgx.Connect(ctx, sb.Postgres.DSNFor(f.name))
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// databases lists the databases whose name starts with the fixture's.
func (f *dbFixture) databases() []string {
	ctx := accesstest.Admin(context.Background())
	c, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, _ := c.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1 || '%' ORDER BY 1", f.name)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return names
}

func (f *dbFixture) dumpSchema() string {
	f.t.Helper()
	out, err := runner.Output(accesstest.Admin(context.Background()), runner.Exec{}, runner.Cmd{Path: "pg_dump", Args: []string{"--schema-only", "--no-owner", "--dbname=" + sb.Postgres.DSNFor(f.name)}})
	if err != nil {
		f.t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "--") || strings.HasPrefix(l, "\\restrict") || strings.HasPrefix(l, "\\unrestrict") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func dropAll(prefix string) {
	ctx := accesstest.Admin(context.Background())
	c, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		return
	}
	defer c.Close(ctx)
	rows, _ := c.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1 || '%'", prefix)
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, n := range names {
		c.Exec(ctx, "DROP DATABASE "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
	}
}

func (f *dbFixture) engine() *oprestore.Engine { return oprestore.New(f.be) }

func (f *dbFixture) prepare(e *oprestore.Engine, opts oprestore.Options) *oprestore.Plan {
	f.t.Helper()
	if opts.Kind == "" {
		opts.Kind = oprestore.Database
	}
	plan, err := e.Prepare(accesstest.Admin(context.Background()), opts, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := plan.Blocked(); err != nil {
		f.t.Fatalf("blocked: %v\n%+v", err, plan.Checks)
	}
	return plan
}

func TestDatabaseRoundTrip(t *testing.T) {
	f := newDBFixture(t)
	// Written after the backup: must be gone after the restore.
	f.exec("INSERT INTO stocks (symbol) VALUES ('LATE'); DELETE FROM prices WHERE id <= 1000; CREATE TABLE extra (x int)")
	e := f.engine()
	plan := f.prepare(e, oprestore.Options{})
	if plan.Confirm != f.name || plan.Target.Database != f.name {
		t.Fatalf("confirm %q target %+v", plan.Confirm, plan.Target)
	}
	var names []string
	for _, s := range plan.Steps {
		names = append(names, s.Name)
	}
	want := "preflight safety-backup database.restore database.verify writers.down database.swap writers.up post-checks"
	if strings.Join(names, " ") != want {
		t.Fatalf("steps %v", names)
	}
	var events []progress.Event
	rep, err := e.Run(accesstest.Admin(context.Background()), plan, func(ev progress.Event) { events = append(events, ev) })
	if err != nil {
		t.Fatalf("run: %v\n%+v", err, rep.Steps)
	}
	if got := f.count("stocks"); got != 50 {
		t.Errorf("stocks %d, want 50", got)
	}
	if got := f.count("prices"); got != 20000 {
		t.Errorf("prices %d, want 20000", got)
	}
	if got := f.dumpSchema(); got != f.schema {
		t.Errorf("schema differs after the restore")
	}
	dbs := f.databases()
	if len(dbs) != 2 || !strings.HasPrefix(dbs[1], f.name+"_pre_") {
		t.Fatalf("databases %v", dbs)
	}
	if f.replicas() != 2 {
		t.Errorf("writer replicas %d", f.replicas())
	}
	f.waitPods(2)
	// The old database keeps what was written after the backup.
	ctx := accesstest.Admin(context.Background())
	old, err := pgx.Connect(ctx, sb.Postgres.DSNFor(dbs[1]))
	if err != nil {
		t.Fatal(err)
	}
	var late int
	old.QueryRow(ctx, "SELECT count(*) FROM stocks WHERE symbol = 'LATE'").Scan(&late)
	old.Close(ctx)
	if late != 1 {
		t.Errorf("the pre-restore database lost the late row")
	}
	// Safety backup, report, audit.
	if rep.SafetyBackup == "" {
		t.Fatal("no safety backup")
	}
	s, err := backup.Get(ctx, f.be.Store, rep.SafetyBackup)
	if err != nil || s.Manifest == nil || s.Manifest.Tags[0] != oprestore.PreRestoreTag {
		t.Fatalf("safety set %+v %v", s, err)
	}
	md, err := os.ReadFile(rep.Path)
	if err != nil || !strings.Contains(string(md), "succeeded") || !strings.Contains(string(md), "database.swap") {
		t.Fatalf("report %s: %v\n%s", rep.Path, err, md)
	}
	if strings.Contains(string(md), sb.Postgres.Password) {
		t.Fatal("the report holds the password")
	}
	recs, err := audit.Read(audit.PathIn(f.cfg.StateDir), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.Action == "restore.run" && r.Result == "ok" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no restore.run audit record: %+v", recs)
	}
	// Events: every step started and finished, in order.
	var finished []string
	for _, ev := range events {
		if ev.Op == oprestore.OpRestore && ev.Kind == progress.Finish {
			finished = append(finished, ev.Step)
		}
	}
	if strings.Join(finished, " ") != want {
		t.Errorf("finished %v", finished)
	}
}

// TestDatabaseFailureAtEachStepIsUndone fails the run at every step, before
// and after its action, and checks that the original database is intact
// and serving and the writer is back at its replica count.
func TestDatabaseFailureAtEachStepIsUndone(t *testing.T) {
	f := newDBFixture(t)
	f.exec("INSERT INTO stocks (symbol) VALUES ('LATE')")
	steps := []string{"safety-backup", "database.restore", "database.verify", "writers.down", "database.swap", "writers.up", "post-checks"}
	// scale:writer#1 is the API server refusing the scale-down,
	// scale:writer#2 refusing the scale-up (the undo's calls go through).
	points := []string{"swap", "pg_restore", "scale:writer#1", "scale:writer#2"}
	for _, s := range steps {
		points = append(points, "before:"+s, "after:"+s)
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			e := f.engine()
			calls := 0
			hook, nth, _ := strings.Cut(point, "#")
			oprestore.SetHook(e, hook, func() error {
				calls++
				if nth != "" && fmt.Sprint(calls) != nth {
					return nil
				}
				return apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments/scale"}, "writer", errors.New("injected at "+point))
			})
			plan := f.prepare(e, oprestore.Options{NoSafetyBackup: point != "before:safety-backup" && point != "after:safety-backup"})
			rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
			if err == nil {
				t.Fatal("the run succeeded")
			}
			if !rep.Undone {
				t.Fatalf("not undone: %v\n%+v", err, rep.Steps)
			}
			f.assertOriginal(t)
		})
	}
}

// assertOriginal checks the original database serves with its rows and
// schema, no scratch or pre database is left, and the writer runs.
func (f *dbFixture) assertOriginal(t *testing.T) {
	t.Helper()
	if got := f.count("stocks"); got != 51 {
		t.Errorf("stocks %d, want 51 (the original's)", got)
	}
	if got := f.count("prices"); got != 20000 {
		t.Errorf("prices %d", got)
	}
	if dbs := f.databases(); len(dbs) != 1 {
		t.Errorf("databases left: %v", dbs)
	}
	if f.replicas() != 2 {
		t.Errorf("writer replicas %d, want 2", f.replicas())
	}
	f.waitPods(2)
}

// TestDatabaseKilledPgRestoreIsUndone kills pg_restore mid-way, for real.
func TestDatabaseKilledPgRestoreIsUndone(t *testing.T) {
	f := newDBFixture(t)
	f.exec("INSERT INTO stocks (symbol) VALUES ('LATE')")
	f.be.Runner = killer{}
	e := f.engine()
	plan := f.prepare(e, oprestore.Options{NoSafetyBackup: true})
	rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
	if err == nil || !rep.Undone || !strings.Contains(err.Error(), "pg_restore") {
		t.Fatalf("err %v undone %v", err, rep.Undone)
	}
	f.assertOriginal(t)
}

// killer runs programs for real but kills pg_restore at its first line of
// output.
type killer struct{}

func (killer) Run(ctx context.Context, c runner.Cmd) error {
	if filepath.Base(c.Path) != "pg_restore" || len(c.Args) < 3 {
		return runner.Exec{}.Run(ctx, c)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	on := c.OnStderr
	c.OnStderr = func(l string) {
		on(l)
		if strings.Contains(l, "processing") || strings.Contains(l, "creating") {
			cancel()
		}
	}
	err := runner.Exec{KillGrace: time.Second}.Run(ctx, c)
	if err == nil {
		return errors.New("pg_restore was not killed")
	}
	return err
}

func TestDatabaseDamagedSetRefusedAtPreflight(t *testing.T) {
	f := newDBFixture(t)
	c, _ := f.set.Component(backup.Database)
	path := filepath.Join(f.cfg.Backup.Dir, f.set.ID, c.Files[0].Name)
	for _, damage := range []string{"corrupt", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			orig := append([]byte(nil), data...)
			t.Cleanup(func() { os.WriteFile(path, orig, 0o600) })
			if damage == "corrupt" {
				data[len(data)/2] ^= 0xff
			} else {
				data = data[:len(data)/2]
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			e := f.engine()
			plan, err := e.Prepare(accesstest.Admin(context.Background()), oprestore.Options{Kind: oprestore.Database, ID: f.set.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Blocked() == nil {
				t.Fatalf("not blocked: %+v", plan.Checks)
			}
			if _, err := e.Run(accesstest.Admin(context.Background()), plan, nil); err == nil {
				t.Fatal("the run went on")
			}
			if dbs := f.databases(); len(dbs) != 1 {
				t.Errorf("databases: %v", dbs)
			}
			if f.count("prices") != 20000 || f.replicas() != 2 {
				t.Error("the original changed")
			}
		})
	}
}

func TestDatabaseLockedStoreAndDryRunChangeNothing(t *testing.T) {
	f := newDBFixture(t)
	e := f.engine()
	plan := f.prepare(e, oprestore.Options{}) // a dry run is Prepare alone
	if dbs := f.databases(); len(dbs) != 1 {
		t.Fatalf("prepare changed databases: %v", dbs)
	}
	sets, _ := backup.List(accesstest.Admin(context.Background()), f.be.Store)
	if len(sets) != 1 {
		t.Fatalf("prepare took a backup: %d sets", len(sets))
	}
	lock, err := backup.AcquireLock(f.be.Store, "backup database", "someone")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	_, err = e.Run(accesstest.Admin(context.Background()), plan, nil)
	var locked *backup.LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("err %v, want the store lock's", err)
	}
	if f.count("prices") != 20000 || len(f.databases()) != 1 || f.replicas() != 2 {
		t.Error("a refused run changed something")
	}
	// The preflight shows the lock as critical.
	plan2, err := e.Prepare(accesstest.Admin(context.Background()), oprestore.Options{Kind: oprestore.Database}, nil)
	if err != nil {
		t.Fatal(err)
	}
	blocked := false
	for _, c := range plan2.Checks {
		if c.Name == "store lock" && c.Status == health.Crit {
			blocked = true
		}
	}
	if !blocked {
		t.Errorf("checks %+v", plan2.Checks)
	}
}

// TestDatabaseUndoWithClientsReconnecting: an application pool that
// reconnects at once must not keep the undo of the swap from putting the
// original database back.
func TestDatabaseUndoWithClientsReconnecting(t *testing.T) {
	f := newDBFixture(t)
	f.exec("INSERT INTO stocks (symbol) VALUES ('LATE')")
	f.cfg.Restore.Writers = nil // nothing stops the clients below
	ctx, stop := context.WithCancel(accesstest.Admin(context.Background()))
	defer stop()
	done := make(chan struct{})
	for range 3 {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				c, err := pgx.Connect(ctx, sb.Postgres.DSNFor(f.name))
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				// Hold the session until the server ends it.
				for ctx.Err() == nil && c.Ping(ctx) == nil {
					time.Sleep(20 * time.Millisecond)
				}
				c.Close(accesstest.Admin(context.Background()))
			}
		}()
	}
	e := f.engine()
	oprestore.SetHook(e, "after:database.swap", func() error { return errors.New("injected after the swap") })
	plan := f.prepare(e, oprestore.Options{NoSafetyBackup: true})
	rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
	stop()
	for range 3 {
		<-done
	}
	if err == nil || !rep.Undone {
		t.Fatalf("err %v undone %v\n%+v", err, rep.Undone, rep.Steps)
	}
	f.assertOriginal(t)
}
