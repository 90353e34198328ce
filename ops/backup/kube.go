package backup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/kube"
)

// KubeKind is one kind of namespaced object the config component saves.
type KubeKind struct {
	Kind string
	GVR  schema.GroupVersionResource
}

// KubeKinds are the kinds saved, in the order a restore applies them.
var KubeKinds = []KubeKind{
	{"ServiceAccount", schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}},
	{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}},
	{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
	{"Role", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}},
	{"RoleBinding", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}},
	{"PersistentVolumeClaim", schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}},
	{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	{"StatefulSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}},
	{"DaemonSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}},
	{"CronJob", schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}},
	{"Ingress", schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}},
	{"HorizontalPodAutoscaler", schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}},
	{"PodDisruptionBudget", schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}},
}

var namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// strippedMetadata are the server-owned metadata fields removed.
var strippedMetadata = []string{"uid", "resourceVersion", "managedFields", "creationTimestamp", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// strippedAnnotations can be large or hold secrets in plain text.
var strippedAnnotations = []string{"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"}

// StripObject removes what the server owns from obj, in place: status,
// uid, resourceVersion, managedFields, creationTimestamp, generation, the
// last-applied annotation, and a Service's cluster IPs.
func StripObject(obj *unstructured.Unstructured) {
	delete(obj.Object, "status")
	if md, ok := obj.Object["metadata"].(map[string]any); ok {
		for _, f := range strippedMetadata {
			delete(md, f)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			for _, a := range strippedAnnotations {
				delete(ann, a)
			}
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	if obj.GetKind() == "Service" {
		if spec, ok := obj.Object["spec"].(map[string]any); ok {
			delete(spec, "clusterIP")
			delete(spec, "clusterIPs")
		}
	}
}

// ObjectYAML renders a stripped object as YAML with sorted keys: the same
// object always gives the same bytes.
func ObjectYAML(obj *unstructured.Unstructured) ([]byte, error) {
	return yaml.Marshal(obj.Object)
}

// ObjectPath is the object's file inside the config tar:
// NAMESPACE/KIND/NAME.yaml ("_cluster" for the Namespace objects).
func ObjectPath(obj *unstructured.Unstructured) string {
	ns := obj.GetNamespace()
	if ns == "" {
		ns = "_cluster"
	}
	return ns + "/" + obj.GetKind() + "/" + obj.GetName() + ".yaml"
}

// tarAdd writes one regular file into a tar with fixed owner and mode.
func tarAdd(tw *tar.Writer, name string, data []byte, mod time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: mod, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// kubeConfigDump saves the namespaced objects of the client's namespaces.
type kubeConfigDump struct {
	client     *kube.Client
	withSecret bool // encryption is on: Secrets may be stored
	at         time.Time
	onObject   func(done int)
}

func (k kubeConfigDump) dump(ctx context.Context, w io.Writer) (*KubeFacts, []string, error) {
	dyn, err := dynamic.NewForConfig(k.client.RESTConfig())
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client: %w", err)
	}
	facts := &KubeFacts{Context: k.client.ContextName(), Server: k.client.Host(), Namespaces: k.client.Namespaces(), Objects: map[string]int{}}
	var warnings []string
	tw := tar.NewWriter(w)
	done := 0
	failed := 0
	add := func(obj *unstructured.Unstructured) error {
		StripObject(obj)
		b, err := ObjectYAML(obj)
		if err != nil {
			return fmt.Errorf("render %s: %w", ObjectPath(obj), err)
		}
		if err := tarAdd(tw, ObjectPath(obj), b, k.at); err != nil {
			return fmt.Errorf("write %s: %w", ObjectPath(obj), err)
		}
		facts.Objects[obj.GetKind()]++
		done++
		if k.onObject != nil {
			k.onObject(done)
		}
		return nil
	}
	for _, ns := range facts.Namespaces {
		if ns == "" {
			return nil, nil, fmt.Errorf("the config component needs named namespaces — set kubernetes.namespaces")
		}
		nsObj, err := dyn.Resource(namespaceGVR).Get(ctx, ns, metav1.GetOptions{})
		switch {
		case err == nil:
			if err := add(nsObj); err != nil {
				return nil, nil, err
			}
		case apierrors.IsNotFound(err):
			return nil, nil, fmt.Errorf("namespace %q does not exist — fix kubernetes.namespaces", ns)
		default:
			warnings = append(warnings, fmt.Sprintf("namespace %s object not saved: %s", ns, kubeReason(err)))
		}
		for _, kk := range KubeKinds {
			if kk.Kind == "Secret" && !k.withSecret {
				list, err := dyn.Resource(kk.GVR).Namespace(ns).List(ctx, metav1.ListOptions{})
				if err == nil {
					facts.SecretsSkipped += len(list.Items)
				}
				continue
			}
			list, err := listAll(ctx, dyn, kk.GVR, ns)
			if err != nil {
				failed++
				warnings = append(warnings, fmt.Sprintf("%s in %s not saved: %s", kk.Kind, ns, kubeReason(err)))
				continue
			}
			sort.Slice(list, func(i, j int) bool { return list[i].GetName() < list[j].GetName() })
			for i := range list {
				obj := &list[i]
				if skipObject(obj) {
					continue
				}
				obj.SetAPIVersion(kk.GVR.GroupVersion().String())
				obj.SetKind(kk.Kind)
				if err := add(obj); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if facts.SecretsSkipped > 0 {
		warnings = append(warnings, fmt.Sprintf("%d Secrets skipped: backups are not encrypted — set backup.encryption.recipients to include them", facts.SecretsSkipped))
	} else if !k.withSecret {
		warnings = append(warnings, "Secrets skipped: backups are not encrypted — set backup.encryption.recipients to include them")
	}
	if failed == len(KubeKinds)*len(facts.Namespaces) {
		return nil, warnings, fmt.Errorf("no kind of object could be listed (%s)", strings.Join(warnings, "; "))
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return facts, warnings, nil
}

// listAll lists every object of a kind in a namespace, page by page.
func listAll(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
		if list.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = list.GetContinue()
	}
}

// skipObject leaves out what the cluster recreates by itself.
func skipObject(obj *unstructured.Unstructured) bool {
	switch obj.GetKind() {
	case "Secret", "":
		if t, _, _ := unstructured.NestedString(obj.Object, "type"); t == string(corev1.SecretTypeServiceAccountToken) {
			return true
		}
	}
	return obj.GetKind() == "ConfigMap" && obj.GetName() == "kube-root-ca.crt"
}

func kubeReason(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden — grant the backup's service account list on it"
	case apierrors.IsNotFound(err):
		return "not served by this cluster"
	}
	return err.Error()
}

// kubeLogsDump saves the recent logs of every container of every pod.
type kubeLogsDump struct {
	client   *kube.Client
	window   time.Duration
	at       time.Time
	limit    int64
	parallel int
	onPod    func(done, total int)
}

func (k kubeLogsDump) dump(ctx context.Context, w io.Writer) (*LogsFacts, []string, error) {
	cs := k.client.Clientset()
	facts := &LogsFacts{Namespaces: k.client.Namespaces(), Window: k.window}
	type job struct{ ns, pod, container string }
	var jobs []job
	for _, ns := range facts.Namespaces {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("list pods in %s: %s", ns, kubeReason(err))
		}
		sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
		for _, p := range pods.Items {
			for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
				jobs = append(jobs, job{p.Namespace, p.Name, c.Name})
			}
		}
	}
	type result struct {
		data []byte
		err  error
	}
	results := make([]result, len(jobs))
	since := int64(k.window.Seconds())
	sem := make(chan struct{}, max(k.parallel, 1))
	doneCh := make(chan int, len(jobs))
	for i, j := range jobs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; doneCh <- i }()
			rctx, cancel := context.WithTimeout(ctx, k.client.Timeout()+10*time.Second)
			defer cancel()
			opts := &corev1.PodLogOptions{Container: j.container, Timestamps: true, SinceSeconds: &since, LimitBytes: &k.limit}
			rc, err := cs.CoreV1().Pods(j.ns).GetLogs(j.pod, opts).Stream(rctx)
			if err != nil {
				results[i].err = err
				return
			}
			defer rc.Close()
			results[i].data, results[i].err = io.ReadAll(io.LimitReader(rc, k.limit+1))
		}()
	}
	for n := 1; n <= len(jobs); n++ {
		select {
		case <-doneCh:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if k.onPod != nil {
			k.onPod(n, len(jobs))
		}
	}
	tw := tar.NewWriter(w)
	var warnings []string
	for i, j := range jobs {
		r := results[i]
		if r.err != nil {
			facts.Failed++
			warnings = append(warnings, fmt.Sprintf("logs of %s/%s[%s] not saved: %s", j.ns, j.pod, j.container, shortErr(r.err)))
			continue
		}
		if err := tarAdd(tw, j.ns+"/"+j.pod+"/"+j.container+".log", r.data, k.at); err != nil {
			return nil, nil, fmt.Errorf("write logs: %w", err)
		}
		facts.Containers++
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	if len(jobs) > 0 && facts.Containers == 0 {
		return nil, warnings, fmt.Errorf("no container's logs could be read (%d tried; first: %s)", len(jobs), warnings[0])
	}
	return facts, warnings, nil
}

// logGetPrefix is client-go's `Get "URL": ` before a log request's error.
var logGetPrefix = regexp.MustCompile(`^Get "[^"]*": `)

func shortErr(err error) string {
	s := logGetPrefix.ReplaceAllString(err.Error(), "")
	if strings.HasPrefix(s, "dial tcp") {
		s = "the API server cannot reach the node's kubelet (" + s + ")"
	}
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
