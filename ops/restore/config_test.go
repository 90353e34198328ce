package restore_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

var nsSeq atomic.Int64

// configFixture is a test namespace with a Deployment, a ConfigMap and a
// Service, backed up (config component) into a store of its own, then
// changed: the Deployment deleted, the ConfigMap edited, and a ConfigMap
// that is not in the backup added.
type configFixture struct {
	ns  string
	cs  kubernetes.Interface
	b   *backup.Engine
	set string
}

func newConfigFixture(t *testing.T) *configFixture {
	t.Helper()
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	ns := fmt.Sprintf("cfgrestore-%d-%d", time.Now().UnixNano()%1e6, nsSeq.Add(1))
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	f := &configFixture{ns: ns, cs: cs}
	create := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("create %s: %v", what, err)
		}
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	create("namespace", err)
	// No namespace controller runs in the sandbox: the namespace stays
	// Terminating, but its name is never reused.
	t.Cleanup(func() {
		cs.CoreV1().Namespaces().Delete(accesstest.Admin(context.Background()), ns, metav1.DeleteOptions{})
	})
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "registry.example/web:1.4.2",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}, metav1.CreateOptions{})
	create("deployment", err)
	_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data:       map[string]string{"LOG_LEVEL": "info", "MODE": "prod"},
	}, metav1.CreateOptions{})
	create("configmap", err)
	_, err = cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}, metav1.CreateOptions{})
	create("service", err)

	cfg := *sb.Config
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	cfg.Kubernetes.Namespaces = []string{ns}
	b, err := backup.New(&cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Audit.Close() })
	f.b = b
	res, err := b.Backup(ctx, backup.Options{Kind: backup.Config})
	if err != nil {
		t.Fatalf("config backup: %v", err)
	}
	f.set = res.Manifest.ID
	c, _ := res.Manifest.Component(backup.Config)
	if c.Kube.Objects["Deployment"] != 1 || c.Kube.Objects["ConfigMap"] != 1 || c.Kube.Objects["Service"] != 1 {
		t.Fatalf("backed-up objects = %v", c.Kube.Objects)
	}

	// What happened since the backup.
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "debug"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "extra"},
		Data:       map[string]string{"KEEP": "me"},
	}, metav1.CreateOptions{FieldManager: "kubectl-create"})
	create("extra configmap", err)
	return f
}

func (f *configFixture) prepare(t *testing.T, e *oprestore.Engine, update bool) *oprestore.Plan {
	t.Helper()
	plan, err := e.Prepare(accesstest.Admin(context.Background()), oprestore.Options{Kind: oprestore.Config, ID: f.set, UpdateExisting: update}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Blocked(); err != nil {
		t.Fatalf("plan blocked: %v\nchecks: %+v", err, plan.Checks)
	}
	return plan
}

// object returns the plan's change for one object.
func object(t *testing.T, plan *oprestore.Plan, kind, name string) oprestore.ObjectChange {
	t.Helper()
	for _, o := range plan.Objects {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the plan's objects: %+v", kind, name, plan.Objects)
	return oprestore.ObjectChange{}
}

// deploymentGone reports whether the Deployment is absent.
func (f *configFixture) deploymentGone(t *testing.T) bool {
	t.Helper()
	_, err := f.cs.AppsV1().Deployments(f.ns).Get(accesstest.Admin(context.Background()), "web", metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return apierrors.IsNotFound(err)
}

func (f *configFixture) configMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := f.cs.CoreV1().ConfigMaps(f.ns).Get(accesstest.Admin(context.Background()), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("configmap %s: %v", name, err)
	}
	return cm
}

func managers(m metav1.Object) []string {
	var out []string
	for _, mf := range m.GetManagedFields() {
		out = append(out, mf.Manager+"/"+string(mf.Operation))
	}
	return out
}

// assertUntouched checks the ConfigMap that is not in the backup.
func (f *configFixture) assertUntouched(t *testing.T) {
	t.Helper()
	extra := f.configMap(t, "extra")
	if extra.Data["KEEP"] != "me" || len(extra.Data) != 1 {
		t.Errorf("extra configmap data = %v", extra.Data)
	}
	if ms := managers(extra); slices.Contains(ms, oprestore.FieldManager+"/Apply") {
		t.Errorf("extra configmap was written by the restore: managers %v", ms)
	}
}

func TestConfigRestorePlanChangesNothing(t *testing.T) {
	f := newConfigFixture(t)
	e := oprestore.New(f.b)

	plan := f.prepare(t, e, false)
	if got := object(t, plan, "Deployment", "web"); got.Action != oprestore.ObjectCreate || got.Namespace != f.ns {
		t.Errorf("deployment: %+v, want create in %s", got, f.ns)
	}
	cm := object(t, plan, "ConfigMap", "settings")
	if cm.Action != oprestore.ObjectSkip || !slices.Equal(cm.Fields, []string{"data.LOG_LEVEL"}) {
		t.Errorf("edited configmap: %+v, want skip with fields [data.LOG_LEVEL]", cm)
	}
	if got := object(t, plan, "Service", "web"); got.Action != oprestore.ObjectUnchanged || len(got.Fields) != 0 {
		t.Errorf("service: %+v, want unchanged", got)
	}
	if got := object(t, plan, "Namespace", f.ns); got.Action != oprestore.ObjectUnchanged || got.Namespace != "" {
		t.Errorf("namespace: %+v, want unchanged (cluster-scoped)", got)
	}
	for _, o := range plan.Objects {
		if o.Name == "extra" {
			t.Errorf("an object not in the backup is in the plan: %+v", o)
		}
	}
	if len(plan.Objects) != 4 {
		t.Errorf("plan objects = %+v, want the namespace and the 3 objects", plan.Objects)
	}
	// Dependency order: the namespace, the ConfigMap, the Service, the Deployment.
	var order []string
	for _, o := range plan.Objects {
		order = append(order, o.Kind)
	}
	if want := []string{"Namespace", "ConfigMap", "Service", "Deployment"}; !slices.Equal(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}
	var diff *oprestore.Check
	for i, c := range plan.Checks {
		if c.Component == oprestore.Config && c.Name == "diff" {
			diff = &plan.Checks[i]
		}
	}
	if diff == nil || diff.Status != health.Warn || !strings.HasPrefix(diff.Detail, "1 to create, 0 to update, 2 unchanged, 1 skipped") {
		t.Errorf("diff check = %+v", diff)
	}
	step, ok := plan.Step("config.apply")
	if !ok || !strings.HasPrefix(step.Title, "Apply 1 object (server-side apply, field manager opsdeck)") {
		t.Errorf("config.apply step = %+v", step)
	}

	// With UpdateExisting the edited ConfigMap is to update; a second
	// preflight replaces the objects, it does not add to them.
	plan = f.prepare(t, e, true)
	if got := object(t, plan, "ConfigMap", "settings"); got.Action != oprestore.ObjectUpdate || !slices.Equal(got.Fields, []string{"data.LOG_LEVEL"}) {
		t.Errorf("edited configmap with UpdateExisting: %+v, want update of data.LOG_LEVEL", got)
	}
	if len(plan.Objects) != 4 {
		t.Errorf("plan objects after the second preflight = %d, want 4", len(plan.Objects))
	}

	// The dry runs changed nothing.
	if !f.deploymentGone(t) {
		t.Error("the preflight created the Deployment")
	}
	settings := f.configMap(t, "settings")
	if settings.Data["LOG_LEVEL"] != "debug" {
		t.Errorf("the preflight changed the configmap: %v", settings.Data)
	}
	if ms := managers(settings); slices.Contains(ms, oprestore.FieldManager+"/Apply") {
		t.Errorf("the preflight wrote the configmap: managers %v", ms)
	}
	f.assertUntouched(t)
}

func TestConfigRestoreRun(t *testing.T) {
	for _, update := range []bool{false, true} {
		t.Run(fmt.Sprintf("update=%v", update), func(t *testing.T) {
			f := newConfigFixture(t)
			e := oprestore.New(f.b)
			plan := f.prepare(t, e, update)
			rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
			if err != nil {
				t.Fatalf("run: %v\nsteps: %+v", err, rep.Steps)
			}
			if !rep.OK {
				t.Fatalf("report not OK: %+v", rep)
			}
			var res *oprestore.StepResult
			for i := range rep.Steps {
				if rep.Steps[i].Name == "config.apply" {
					res = &rep.Steps[i]
				}
			}
			if res == nil || res.State != oprestore.Done {
				t.Fatalf("config.apply result = %+v", res)
			}
			notes := strings.Join(res.Notes, "\n")
			if !strings.Contains(notes, "created Deployment "+f.ns+"/web") {
				t.Errorf("notes do not say the Deployment was created:\n%s", notes)
			}

			d, err := f.cs.AppsV1().Deployments(f.ns).Get(accesstest.Admin(context.Background()), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the Deployment did not come back: %v", err)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "registry.example/web:1.4.2" {
				t.Errorf("restored Deployment spec = %+v", d.Spec)
			}
			if ms := managers(d); !slices.Contains(ms, oprestore.FieldManager+"/Apply") {
				t.Errorf("Deployment managers = %v, want %s/Apply", ms, oprestore.FieldManager)
			}
			settings := f.configMap(t, "settings")
			want := "debug" // skipped: left as it is
			if update {
				want = "info"
				if ms := managers(settings); !slices.Contains(ms, oprestore.FieldManager+"/Apply") {
					t.Errorf("ConfigMap managers = %v, want %s/Apply", ms, oprestore.FieldManager)
				}
				if !strings.Contains(notes, "updated ConfigMap "+f.ns+"/settings: data.LOG_LEVEL") {
					t.Errorf("notes do not say the ConfigMap was updated:\n%s", notes)
				}
			}
			if settings.Data["LOG_LEVEL"] != want || settings.Data["MODE"] != "prod" {
				t.Errorf("ConfigMap data = %v, want LOG_LEVEL=%s MODE=prod", settings.Data, want)
			}
			f.assertUntouched(t)
		})
	}
}

func TestConfigRestoreUndo(t *testing.T) {
	cases := []struct {
		name  string
		point func(f *configFixture) string
	}{
		// After the whole apply: the created Deployment and the updated
		// ConfigMap are both undone.
		{"after apply", func(*configFixture) string { return "after:config.apply" }},
		// Half-way: the ConfigMap is updated, the Deployment not applied.
		{"half-way", func(f *configFixture) string { return "config.apply:" + f.ns + "/Deployment/web.yaml" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newConfigFixture(t)
			e := oprestore.New(f.b)
			injected := errors.New("injected failure")
			oprestore.SetHook(e, tc.point(f), func() error { return injected })
			plan := f.prepare(t, e, true)
			rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
			if !errors.Is(err, injected) {
				t.Fatalf("run error = %v, want the injected failure", err)
			}
			if !rep.Undone {
				t.Fatalf("not undone: %+v", rep.Steps)
			}
			for _, s := range rep.Steps {
				if s.Name == "config.apply" && (s.State != oprestore.Failed || s.UndoErr != "") {
					t.Errorf("config.apply result = %+v", s)
				}
			}
			if !f.deploymentGone(t) {
				t.Error("the Deployment created by the restore is still there after the undo")
			}
			if got := f.configMap(t, "settings").Data; got["LOG_LEVEL"] != "debug" || got["MODE"] != "prod" {
				t.Errorf("ConfigMap after the undo = %v, want the edited data back (LOG_LEVEL=debug)", got)
			}
			f.assertUntouched(t)
		})
	}
}

func TestConfigRestoreRefusedObjectBlocks(t *testing.T) {
	f := newConfigFixture(t)
	// The Deployment comes back with another selector: applying the
	// backed-up one would change an immutable field, and the dry run says so.
	labels := map[string]string{"app": "web-v2"}
	_, err := f.cs.AppsV1().Deployments(f.ns).Create(accesstest.Admin(context.Background()), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:2.0.0"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := oprestore.New(f.b)
	plan, err := e.Prepare(accesstest.Admin(context.Background()), oprestore.Options{Kind: oprestore.Config, ID: f.set, UpdateExisting: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := object(t, plan, "Deployment", "web")
	if got.Action != oprestore.ObjectError || !strings.Contains(got.Err, "immutable") {
		t.Errorf("deployment with another selector: %+v, want error (immutable)", got)
	}
	blocked := plan.Blocked()
	if blocked == nil || !strings.Contains(blocked.Error(), "Deployment "+f.ns+"/web") || !strings.Contains(blocked.Error(), "delete the live Deployment "+f.ns+"/web first") {
		t.Fatalf("Blocked() = %v, want the refused Deployment and what to do", blocked)
	}
	if _, err := e.Run(accesstest.Admin(context.Background()), plan, nil); err == nil {
		t.Fatal("a blocked plan ran")
	}
	if got := f.configMap(t, "settings").Data["LOG_LEVEL"]; got != "debug" {
		t.Errorf("a blocked run changed the ConfigMap: LOG_LEVEL=%s", got)
	}
}

func TestConfigRestoreMissingNamespace(t *testing.T) {
	f := newConfigFixture(t)
	ctx := accesstest.Admin(context.Background())
	// The whole namespace is gone. No namespace controller runs in the
	// sandbox: empty it, delete it and finalize it by hand.
	for _, name := range []string{"settings", "extra"} {
		if err := f.cs.CoreV1().ConfigMaps(f.ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.cs.CoreV1().Services(f.ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.cs.CoreV1().Namespaces().Delete(ctx, f.ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	nsObj, err := f.cs.CoreV1().Namespaces().Get(ctx, f.ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Spec.Finalizers = nil
	if _, err := f.cs.CoreV1().Namespaces().Finalize(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cs.CoreV1().Namespaces().Get(ctx, f.ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace still there: %v", err)
	}

	e := oprestore.New(f.b)
	plan := f.prepare(t, e, false)
	var actions []string
	for _, o := range plan.Objects {
		actions = append(actions, o.Kind+":"+o.Action)
	}
	if want := []string{"Namespace:create", "ConfigMap:create", "Service:create", "Deployment:create"}; !slices.Equal(actions, want) {
		t.Fatalf("actions = %v, want %v", actions, want)
	}
	rep, err := e.Run(ctx, plan, nil)
	if err != nil {
		t.Fatalf("run: %v\nsteps: %+v", err, rep.Steps)
	}
	if _, err := f.cs.CoreV1().Namespaces().Get(ctx, f.ns, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace not restored: %v", err)
	}
	if f.deploymentGone(t) {
		t.Error("the Deployment was not restored")
	}
	if got := f.configMap(t, "settings").Data; got["LOG_LEVEL"] != "info" {
		t.Errorf("ConfigMap data = %v, want the backed-up data", got)
	}
	if _, err := f.cs.CoreV1().Services(f.ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("Service not restored: %v", err)
	}
	if _, err := f.cs.CoreV1().ConfigMaps(f.ns).Get(ctx, "extra", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap that is not in the backup appeared: %v", err)
	}
}
