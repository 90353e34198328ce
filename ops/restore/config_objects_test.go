package restore

import (
	"archive/tar"
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func tarOf(t *testing.T, files ...string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o600, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return &buf
}

func TestReadObjectsOrdersForApply(t *testing.T) {
	buf := tarOf(t,
		"_cluster/Namespace/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n",
		"app/Deployment/web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: app\nspec:\n  replicas: 2\n",
		"app/Widget/w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: app\n",
		"app/ConfigMap/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: app\n",
		"app/Secret/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: app\n",
		"app/ConfigMap/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: app\n",
	)
	objs, err := readObjects(buf)
	if err != nil {
		t.Fatal(err)
	}
	sortForApply(objs)
	var got []string
	for _, o := range objs {
		got = append(got, o.String())
	}
	want := []string{"Namespace app", "Secret app/s", "ConfigMap app/a", "ConfigMap app/b", "Deployment app/web", "Widget app/w"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	// Integers stay integers (int64), as the API server sends them.
	if r, _, _ := unstructured.NestedInt64(objs[4].obj.Object, "spec", "replicas"); r != 2 {
		t.Errorf("replicas = %d", r)
	}
}

func TestReadObjectsNamesTheBadFile(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"bad yaml", "apiVersion: v1\nkind: [Secret\n", "bad YAML"},
		{"no kind", "apiVersion: v1\nmetadata:\n  name: x\n", "no kind"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "no metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := "hunter2-very-secret"
			body := tc.body + "data:\n  password: " + secret + "\n"
			_, err := readObjects(tarOf(t, "app/ConfigMap/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n", "app/Secret/db.yaml", body))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "app/Secret/db.yaml") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want the file and %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes the content: %v", err)
			}
		})
	}
}

func TestDiffFields(t *testing.T) {
	obj := func(y string) *unstructured.Unstructured {
		o, err := parseObject([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	live := obj(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app.kubernetes.io/name: web}
  resourceVersion: "7"
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: web
        image: web:2
      - name: sidecar
        image: proxy:1
status:
  replicas: 3
`)
	want := obj(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app.kubernetes.io/name: api}
  resourceVersion: "8"
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: web
        image: web:1
      - name: sidecar
        image: proxy:1
status:
  replicas: 2
`)
	got := diffFields(stripped(live), stripped(want))
	exp := []string{"metadata.labels[app.kubernetes.io/name]", "spec.replicas", "spec.template.spec.containers[web].image"}
	if !slices.Equal(got, exp) {
		t.Errorf("fields = %v, want %v", got, exp)
	}
	if got := diffFields(stripped(live), stripped(live)); len(got) != 0 {
		t.Errorf("same object differs in %v", got)
	}

	// Many differences are cut short.
	a, b := map[string]any{}, map[string]any{}
	for _, k := range strings.Split("abcdefghijklmnopqrst", "") {
		a[k] = "1"
		b[k] = "2"
	}
	long := diffFields(&unstructured.Unstructured{Object: map[string]any{"data": a}}, &unstructured.Unstructured{Object: map[string]any{"data": b}})
	if len(long) != maxFields || long[0] != "data.a" || long[maxFields-1] != "(9 more)" {
		t.Errorf("long diff = %v", long)
	}
}

func TestObjectErrNeverQuotesSecretValues(t *testing.T) {
	o := &kubeObject{obj: &unstructured.Unstructured{}, gvr: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, namespaced: true}
	o.obj.SetAPIVersion("v1")
	o.obj.SetKind("Secret")
	o.obj.SetNamespace("app")
	o.obj.SetName("db")
	err := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "db", field.ErrorList{
		field.Invalid(field.NewPath("data"), "hunter2-very-secret", "field is immutable when `immutable` is set"),
	})
	msg := objectErr(err, "apply (dry run)", o)
	if strings.Contains(msg, "hunter2") {
		t.Errorf("the explanation quotes the value: %s", msg)
	}
	if !strings.Contains(msg, "data (immutable)") || !strings.Contains(msg, "delete the live Secret app/db first") {
		t.Errorf("explanation = %s", msg)
	}

	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New(`User "ops" cannot patch resource "deployments" in API group "apps" in the namespace "app"`))
	d := &kubeObject{obj: &unstructured.Unstructured{}, gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, namespaced: true}
	d.obj.SetKind("Deployment")
	d.obj.SetNamespace("app")
	d.obj.SetName("web")
	if msg := objectErr(forbidden, "apply (dry run)", d); !strings.Contains(msg, "cannot patch") || !strings.Contains(msg, "grant opsdeck's Kubernetes user get, create, patch and delete on deployments.apps in namespace app") {
		t.Errorf("403 explanation = %s", msg)
	}
}
