package restore

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// maxObjectFile bounds one object's YAML inside the config tar.
const maxObjectFile = 16 << 20

// maxFields is how many differing field paths one ObjectChange lists.
const maxFields = 12

// kubeObject is one object of the config component.
type kubeObject struct {
	// file is its path inside the tar (NAMESPACE/KIND/NAME.yaml).
	file string
	obj  *unstructured.Unstructured
	// gvr and namespaced come from the RESTMapper once connected.
	gvr        schema.GroupVersionResource
	namespaced bool
	mapped     bool
	// change is the preflight's verdict.
	change ObjectChange
}

// String names the object for the operator: "Deployment stockapp/web".
func (o *kubeObject) String() string {
	if ns := o.obj.GetNamespace(); ns != "" {
		return o.obj.GetKind() + " " + ns + "/" + o.obj.GetName()
	}
	return o.obj.GetKind() + " " + o.obj.GetName()
}

// applyRank orders kinds so that what an object refers to exists before
// it: the namespace, the identities and the configuration, the storage and
// the network, the permissions, then the workloads and what watches them.
var applyRank = map[string]int{
	"Namespace":               0,
	"ServiceAccount":          1,
	"Secret":                  2,
	"ConfigMap":               3,
	"PersistentVolumeClaim":   4,
	"Service":                 5,
	"Role":                    6,
	"RoleBinding":             7,
	"Deployment":              8,
	"StatefulSet":             9,
	"DaemonSet":               10,
	"CronJob":                 11,
	"HorizontalPodAutoscaler": 12,
	"PodDisruptionBudget":     13,
	"Ingress":                 14,
}

func rankOf(kind string) int {
	if r, ok := applyRank[kind]; ok {
		return r
	}
	return len(applyRank)
}

// sortForApply orders objects by applyRank, keeping the tar's order
// (namespace, kind, name) within a kind.
func sortForApply(objs []*kubeObject) {
	sort.SliceStable(objs, func(i, j int) bool {
		return rankOf(objs[i].obj.GetKind()) < rankOf(objs[j].obj.GetKind())
	})
}

// readObjects parses every YAML file of a config tar.
func readObjects(r io.Reader) ([]*kubeObject, error) {
	tr := tar.NewReader(r)
	var objs []*kubeObject
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxObjectFile {
			return nil, fmt.Errorf("%s is %d bytes: larger than any Kubernetes object — the set is damaged", h.Name, h.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", h.Name, err)
		}
		obj, err := parseObject(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w — the set is damaged: pick another one", h.Name, err)
		}
		objs = append(objs, &kubeObject{file: h.Name, obj: obj})
	}
}

// parseObject reads one object's YAML. Its errors never quote the content
// (a Secret's data must not reach the screen).
func parseObject(b []byte) (*unstructured.Unstructured, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("bad YAML: %w", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(j, &head); err != nil {
		return nil, errors.New("bad YAML: not a mapping")
	}
	switch {
	case head.APIVersion == "":
		return nil, errors.New("bad YAML: no apiVersion")
	case head.Kind == "":
		return nil, errors.New("bad YAML: no kind")
	case head.Metadata.Name == "":
		return nil, errors.New("bad YAML: no metadata.name")
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(j); err != nil {
		return nil, errors.New("bad YAML: not a Kubernetes object")
	}
	return obj, nil
}

// stripped returns a copy of obj without what the server owns.
func stripped(obj *unstructured.Unstructured) *unstructured.Unstructured {
	cp := obj.DeepCopy()
	backup.StripObject(cp)
	return cp
}

// diffFields lists the paths where two stripped objects differ
// ("spec.replicas", "data.LOG_LEVEL"), at most maxFields of them.
func diffFields(live, want *unstructured.Unstructured) []string {
	var out []string
	diffValue("", live.Object, want.Object, &out)
	if len(out) > maxFields {
		n := len(out) - maxFields + 1
		out = append(out[:maxFields-1], fmt.Sprintf("(%d more)", n))
	}
	return out
}

func diffValue(path string, a, b any, out *[]string) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := make([]string, 0, len(av)+len(bv))
			for k := range av {
				keys = append(keys, k)
			}
			for k := range bv {
				if _, ok := av[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				diffValue(fieldPath(path, k), av[k], bv[k], out)
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				diffValue(path+"["+itemLabel(av[i], bv[i], i)+"]", av[i], bv[i], out)
			}
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

// fieldPath appends key to path; keys with dots or slashes (labels,
// annotations, ConfigMap keys like "app.yaml") go in brackets.
func fieldPath(path, key string) string {
	if strings.ContainsAny(key, "./") {
		return path + "[" + key + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// itemLabel names a list item by its name when both sides have the same
// one (containers, ports, env), else by its index.
func itemLabel(a, b any, i int) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if an, ok := am["name"].(string); ok && an != "" && am["name"] == bm["name"] {
			return an
		}
	}
	return fmt.Sprint(i)
}

// resourceName is how RBAC names the object's resource: "deployments.apps".
func (o *kubeObject) resourceName() string {
	if o.gvr.Resource == "" {
		return strings.ToLower(o.obj.GetKind()) + "s"
	}
	if o.gvr.Group == "" {
		return o.gvr.Resource
	}
	return o.gvr.Resource + "." + o.gvr.Group
}

func (o *kubeObject) scope() string {
	if ns := o.obj.GetNamespace(); ns != "" && o.namespaced {
		return "in namespace " + ns
	}
	return "at cluster scope"
}

// objectErr explains a refused call on an object and says what to do.
func objectErr(err error, verb string, o *kubeObject) string {
	var se apierrors.APIStatus
	msg := err.Error()
	if errors.As(err, &se) && se.Status().Message != "" {
		msg = se.Status().Message
	}
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("%s refused (403): %s — grant opsdeck's Kubernetes user get, create, patch and delete on %s %s", verb, msg, o.resourceName(), o.scope())
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		if o.obj.GetKind() == "Secret" {
			msg = secretInvalid(err)
		}
		if strings.Contains(msg, "immutable") {
			return fmt.Sprintf("the live object differs from the backup in an immutable field: %s — delete the live %s first if the backup's must replace it, then prepare again", msg, o)
		}
		return fmt.Sprintf("the API server refuses the backed-up object: %s — it may come from another Kubernetes version or be blocked by an admission policy; restore it by hand", msg)
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("%s %s: %s — does this cluster serve %s %s, and does the namespace exist?", verb, o, msg, o.obj.GetAPIVersion(), o.obj.GetKind())
	case meta.IsNoMatchError(err):
		return fmt.Sprintf("this cluster does not serve %s %s — install what provides it, or restore it by hand", o.obj.GetAPIVersion(), o.obj.GetKind())
	}
	if kind, m := kube.Classify(err); kind == kube.KindUnreachable || kind == kube.KindUnauthorized || kind == kube.KindTLS {
		return fmt.Sprintf("%s %s: %s", verb, o, m)
	}
	return fmt.Sprintf("%s %s: %s", verb, o, msg)
}

// secretInvalid says why a Secret was refused by its fields alone: the
// API server's message may quote their values.
func secretInvalid(err error) string {
	var se apierrors.APIStatus
	var fields []string
	if errors.As(err, &se) && se.Status().Details != nil {
		for _, c := range se.Status().Details.Causes {
			why := string(c.Type)
			if strings.Contains(c.Message, "immutable") {
				why = "immutable"
			}
			if c.Field != "" {
				fields = append(fields, c.Field+" ("+why+")")
			}
		}
	}
	if len(fields) == 0 {
		return "the Secret is invalid"
	}
	return "the Secret is invalid in " + strings.Join(fields, ", ")
}
