// Package deploy holds opsdeck's Kubernetes manifests (a kustomize base in
// kustomize/) and the container image definition (Dockerfile), and the
// tests that hold them against a real API server.
package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// kustomization is the part of kustomization.yaml the base uses. The test
// applies the base without kustomize: it does what these fields say and
// refuses a kustomization that asks for more.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// render reads the base as kustomize would build it: every resource file's
// objects, namespaced ones put in the kustomization's namespace, images
// renamed.
func render(t *testing.T) (string, []*unstructured.Unstructured) {
	t.Helper()
	raw, err := os.ReadFile("kustomize/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml uses more than this test renders (namespace, resources, images): %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range k.Resources {
		f, err := os.Open(filepath.Join("kustomize", r))
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			if m == nil {
				continue
			}
			obj := &unstructured.Unstructured{Object: m}
			if !strings.HasPrefix(obj.GetKind(), "Cluster") {
				obj.SetNamespace(k.Namespace)
			}
			objs = append(objs, obj)
		}
		f.Close()
	}
	for _, obj := range objs {
		for _, path := range [][]string{
			{"spec", "jobTemplate", "spec", "template", "spec", "containers"},
			{"spec", "template", "spec", "containers"},
		} {
			cs, ok, _ := unstructured.NestedSlice(obj.Object, path...)
			if !ok {
				continue
			}
			for _, c := range cs {
				c := c.(map[string]any)
				for _, im := range k.Images {
					if c["image"] == im.Name {
						name := cmpOr(im.NewName, im.Name)
						if im.NewTag != "" {
							name += ":" + im.NewTag
						}
						c["image"] = name
					}
				}
			}
			if err := unstructured.SetNestedSlice(obj.Object, cs, path...); err != nil {
				t.Fatal(err)
			}
		}
	}
	return k.Namespace, objs
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// apply applies objs with server-side apply, as a dry run when dryRun.
func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, objs []*unstructured.Unstructured, dryRun bool) {
	t.Helper()
	opts := metav1.ApplyOptions{FieldManager: "opsdeck-deploy-test", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s %s: %v", gvk.Kind, obj.GetName(), err)
			continue
		}
		var r dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			r = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		if _, err := r.Apply(ctx, obj.GetName(), obj, opts); err != nil {
			t.Errorf("apply %s %s (dry run %v): %v", gvk.Kind, obj.GetName(), dryRun, err)
		}
	}
}

// TestKustomizeBase renders the base, applies all of it as a server-side
// dry run against a real kube-apiserver (the sandbox's), then applies its
// RBAC for real and runs `backup config` as the CronJob's service account:
// the backup must be complete, and a SubjectAccessReview of every verb on
// every kind it could touch must allow exactly what the Role grants.
func TestKustomizeBase(t *testing.T) {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	ns, objs := render(t)
	if len(objs) < 10 {
		t.Fatalf("rendered only %d objects", len(objs))
	}
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 3*time.Minute)
	defer cancel()
	ks, err := sandbox.StartKube(ctx, sandbox.KubeOptions{Namespace: ns})
	if err != nil {
		t.Fatalf("start kube-apiserver: %v — run make deps", err)
	}
	defer ks.Stop()
	cs, err := kubernetes.NewForConfig(ks.Config())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(ks.Config())
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(ks.Config())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	for _, n := range []string{ns, "elsewhere"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}

	apply(ctx, t, dyn, mapper, objs, true)

	// The RBAC for real, and something of every kind to back up.
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		if strings.HasSuffix(o.GetKind(), "Role") || strings.HasSuffix(o.GetKind(), "RoleBinding") || o.GetKind() == "ServiceAccount" {
			rbac = append(rbac, o)
		}
	}
	apply(ctx, t, dyn, mapper, rbac, false)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}

	// backup config as the service account the config CronJob runs as.
	user := "system:serviceaccount:" + ns + ":opsdeck"
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
	kubeconfig, err := ks.AddUser(user, groups)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Kubernetes.Kubeconfig = kubeconfig
	cfg.Kubernetes.Namespaces = []string{ns}
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	cfg.Backup.Encryption.Recipients = []string{id.Recipient().String()} // Secrets are saved too
	eng, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Backup(ctx, backup.Options{Kind: backup.Config})
	if err != nil {
		t.Fatalf("backup config as %s: %v", user, err)
	}
	c, _ := res.Manifest.Component(backup.Config)
	if res.Manifest.Status != backup.StatusOK || len(c.Warnings) > 0 || c.Kube.Objects["ConfigMap"] == 0 || c.Kube.Objects["Secret"] == 0 || c.Kube.Objects["Namespace"] == 0 {
		t.Errorf("backup config as %s: status %s, warnings %v, objects %v: the RBAC is not enough", user, res.Manifest.Status, c.Warnings, c.Kube.Objects)
	}

	// No more than that: every verb on every kind the backup touches and
	// a few it must not, here and in another namespace.
	want := map[string]bool{"get namespaces/" + ns: true}
	resources := []struct{ group, resource string }{{"", "namespaces"}, {"", "pods"}, {"", "pods/log"}, {"", "nodes"}, {"", "events"}}
	for _, kk := range backup.KubeKinds {
		resources = append(resources, struct{ group, resource string }{kk.GVR.Group, kk.GVR.Resource})
		want["list "+ns+" "+kk.GVR.Group+"/"+kk.GVR.Resource] = true
	}
	want["list "+ns+" /pods"] = true
	want["get "+ns+" /pods/log"] = true
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "escalate", "bind"}
	var got []string
	for _, n := range []string{ns, "elsewhere"} {
		for _, r := range resources {
			for _, v := range verbs {
				res, sub, _ := strings.Cut(r.resource, "/")
				attrs := &authorizationv1.ResourceAttributes{Namespace: n, Verb: v, Group: r.group, Resource: res, Subresource: sub}
				key := v + " " + n + " " + r.group + "/" + r.resource
				if r.resource == "namespaces" || r.resource == "nodes" {
					attrs.Namespace, attrs.Name = "", n
					key = v + " " + r.resource + "/" + n
				}
				sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: attrs}}
				out, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if out.Status.Allowed != want[key] {
					got = append(got, fmt.Sprintf("%s: allowed %v, want %v", key, out.Status.Allowed, want[key]))
				}
			}
		}
	}
	slices.Sort(got)
	if len(got) > 0 {
		t.Errorf("the RBAC differs from what the backups need:\n%s", strings.Join(got, "\n"))
	}
}

// TestDockerfile: the image definition builds the release binary the way
// scripts/release.sh does and carries a PostgreSQL client.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"CGO_ENABLED=0", "-trimpath", "-tags nodemo", "postgresql-client-${PG_MAJOR}", "USER 65532", "internal/version.Version="} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("Dockerfile lacks %q", s)
		}
	}
}
