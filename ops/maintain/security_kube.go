package maintain

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// rbKubeResources is the runbook section on containers' resources.
const rbKubeResources = "performance.md#kubernetes-resources"

// Workload is a pod template (or a bare pod) the security checks read.
type Workload struct {
	// Kind is "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job" or "Pod".
	Kind      string
	Namespace string
	Name      string
	Spec      corev1.PodSpec
}

// Ref is "kind/namespace/name" in kubectl's lower case.
func (w Workload) Ref() string {
	return strings.ToLower(w.Kind) + "/" + w.Namespace + "/" + w.Name
}

// Binding is a RoleBinding or ClusterRoleBinding to cluster-admin.
type Binding struct {
	// Kind is "ClusterRoleBinding" or "RoleBinding".
	Kind      string
	Namespace string
	Name      string
	Subjects  []rbacv1.Subject
}

// KubeSecurityFacts are what the Kubernetes security checks read. A list
// that failed is in Errors by what it lists ("pods/stockapp",
// "clusterrolebindings").
type KubeSecurityFacts struct {
	Workloads []Workload
	Bindings  []Binding
	Errors    map[string]error
}

// listLimit is the page size of the direct lists.
const listLimit = 500

// kubeSecurity lists the watched namespaces' workloads and the bindings to
// cluster-admin, each within the client's timeout, and judges them.
func (e *Engine) kubeSecurity(ctx context.Context) []Finding {
	client, err := e.kube()
	if err != nil {
		return []Finding{na(AreaSecurity, "kubernetes", "kubernetes", err.Error())}
	}
	facts := FetchKubeSecurity(ctx, client)
	return KubeSecurityFindings(facts)
}

// FetchKubeSecurity lists Deployments, StatefulSets, DaemonSets, CronJobs,
// Jobs and bare Pods of the client's namespaces, and the RoleBindings and
// ClusterRoleBindings to cluster-admin. Each list has the client's timeout
// and fails alone.
func FetchKubeSecurity(ctx context.Context, client *kube.Client) KubeSecurityFacts {
	cs := client.Clientset()
	f := KubeSecurityFacts{Errors: map[string]error{}}
	for _, ns := range client.Namespaces() {
		for _, l := range workloadLists(cs, ns) {
			lctx, cancel := context.WithTimeout(ctx, client.Timeout())
			ws, err := l.list(lctx)
			cancel()
			if err != nil {
				f.Errors[l.name+"/"+ns] = kube.Explain(err)
				continue
			}
			f.Workloads = append(f.Workloads, ws...)
		}
		lctx, cancel := context.WithTimeout(ctx, client.Timeout())
		rbs, err := pages(lctx, func(ctx context.Context, o metav1.ListOptions) ([]rbacv1.RoleBinding, string, error) {
			l, err := cs.RbacV1().RoleBindings(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		cancel()
		if err != nil {
			f.Errors["rolebindings/"+ns] = kube.Explain(err)
		}
		for _, rb := range rbs {
			if isClusterAdmin(rb.RoleRef) {
				f.Bindings = append(f.Bindings, Binding{Kind: "RoleBinding", Namespace: rb.Namespace, Name: rb.Name, Subjects: rb.Subjects})
			}
		}
	}
	lctx, cancel := context.WithTimeout(ctx, client.Timeout())
	crbs, err := pages(lctx, func(ctx context.Context, o metav1.ListOptions) ([]rbacv1.ClusterRoleBinding, string, error) {
		l, err := cs.RbacV1().ClusterRoleBindings().List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	})
	cancel()
	if err != nil {
		f.Errors["clusterrolebindings"] = kube.Explain(err)
	}
	for _, b := range crbs {
		if isClusterAdmin(b.RoleRef) {
			f.Bindings = append(f.Bindings, Binding{Kind: "ClusterRoleBinding", Name: b.Name, Subjects: b.Subjects})
		}
	}
	return f
}

func isClusterAdmin(r rbacv1.RoleRef) bool {
	return r.Kind == "ClusterRole" && r.Name == "cluster-admin"
}

type workloadList struct {
	name string
	list func(context.Context) ([]Workload, error)
}

// workloadLists are the lists of pod templates in one namespace. Pods
// owned by a controller are left out: their template is checked instead.
func workloadLists(cs kubernetes.Interface, ns string) []workloadList {
	return []workloadList{
		{"deployments", func(ctx context.Context) ([]Workload, error) {
			return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]Workload, string, error) {
				l, err := cs.AppsV1().Deployments(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				var out []Workload
				for _, d := range l.Items {
					out = append(out, Workload{"Deployment", d.Namespace, d.Name, d.Spec.Template.Spec})
				}
				return out, l.Continue, nil
			})
		}},
		{"statefulsets", func(ctx context.Context) ([]Workload, error) {
			return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]Workload, string, error) {
				l, err := cs.AppsV1().StatefulSets(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				var out []Workload
				for _, d := range l.Items {
					out = append(out, Workload{"StatefulSet", d.Namespace, d.Name, d.Spec.Template.Spec})
				}
				return out, l.Continue, nil
			})
		}},
		{"daemonsets", func(ctx context.Context) ([]Workload, error) {
			return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]Workload, string, error) {
				l, err := cs.AppsV1().DaemonSets(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				var out []Workload
				for _, d := range l.Items {
					out = append(out, Workload{"DaemonSet", d.Namespace, d.Name, d.Spec.Template.Spec})
				}
				return out, l.Continue, nil
			})
		}},
		{"cronjobs", func(ctx context.Context) ([]Workload, error) {
			return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]Workload, string, error) {
				l, err := cs.BatchV1().CronJobs(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				var out []Workload
				for _, d := range l.Items {
					out = append(out, Workload{"CronJob", d.Namespace, d.Name, d.Spec.JobTemplate.Spec.Template.Spec})
				}
				return out, l.Continue, nil
			})
		}},
		{"jobs", func(ctx context.Context) ([]Workload, error) {
			return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]Workload, string, error) {
				l, err := cs.BatchV1().Jobs(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				var out []Workload
				for _, d := range l.Items {
					if len(d.OwnerReferences) == 0 { // a CronJob's jobs are checked through it
						out = append(out, Workload{"Job", d.Namespace, d.Name, d.Spec.Template.Spec})
					}
				}
				return out, l.Continue, nil
			})
		}},
		{"pods", func(ctx context.Context) ([]Workload, error) {
			return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]Workload, string, error) {
				l, err := cs.CoreV1().Pods(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				var out []Workload
				for _, p := range l.Items {
					if len(p.OwnerReferences) == 0 {
						out = append(out, Workload{"Pod", p.Namespace, p.Name, p.Spec})
					}
				}
				return out, l.Continue, nil
			})
		}},
	}
}

// pages runs a paginated list to its end.
func pages[T any](ctx context.Context, page func(context.Context, metav1.ListOptions) ([]T, string, error)) ([]T, error) {
	var out []T
	o := metav1.ListOptions{Limit: listLimit}
	for {
		items, next, err := page(ctx, o)
		if err != nil {
			return out, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		o.Continue = next
	}
}

// secretName matches environment variable names that usually hold secrets.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY|AUTH)`)

// urlWithPassword matches a URL with a password in it.
var urlWithPassword = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://[^/:@\s]*:[^/@\s]+@`)

// sensitiveHostPaths are host paths that hand the node to the container.
var sensitiveHostPaths = []string{"/", "/etc", "/root", "/var/run/docker.sock", "/run/containerd", "/var/run/containerd", "/proc", "/sys", "/var/lib/kubelet"}

// KubeSecurityFindings judges workloads and bindings: one finding per
// workload and check, naming the containers; env values are never shown.
func KubeSecurityFindings(f KubeSecurityFacts) []Finding {
	var fs []Finding
	for _, name := range slices.Sorted(maps.Keys(f.Errors)) {
		kind, msg := kube.Classify(f.Errors[name])
		st := health.Unknown
		if kind == kube.KindUnreachable {
			st = health.Crit
		}
		if kind == kube.KindForbidden || kind == kube.KindNotFound {
			fs = append(fs, na(AreaSecurity, "kubernetes "+name, name, msg))
			continue
		}
		fs = append(fs, Finding{Area: AreaSecurity, Check: "kubernetes " + name, Status: st, Object: name, Summary: msg, Runbook: "troubleshooting.md#kubernetes-access"})
	}
	add := func(w Workload, check string, st health.Status, summary string, ev []string, why, fix string) {
		fs = append(fs, Finding{Area: AreaSecurity, Check: check, Status: st, Object: w.Ref(), Summary: summary,
			Evidence: ev, Why: why, Suggestion: fix, Runbook: rbSecurity})
	}
	for _, w := range f.Workloads {
		spec := w.Spec
		containers := append(slices.Clone(spec.InitContainers), spec.Containers...)
		var privileged, root, maybeRoot, latest, noLimits, secrets []string
		for _, c := range containers {
			sc := c.SecurityContext
			if sc != nil && sc.Privileged != nil && *sc.Privileged {
				privileged = append(privileged, c.Name)
			}
			uid, nonRoot := effectiveUser(spec.SecurityContext, sc)
			switch {
			case uid != nil && *uid == 0:
				root = append(root, c.Name)
			case uid == nil && !nonRoot:
				maybeRoot = append(maybeRoot, c.Name)
			}
			if tag := imageTag(c.Image); tag == "" || tag == "latest" {
				latest = append(latest, fmt.Sprintf("%s (%s)", c.Name, c.Image))
			}
			var missing []string
			if c.Resources.Limits.Cpu().IsZero() {
				missing = append(missing, "cpu")
			}
			if c.Resources.Limits.Memory().IsZero() {
				missing = append(missing, "memory")
			}
			if len(missing) > 0 {
				noLimits = append(noLimits, fmt.Sprintf("%s (no %s limit)", c.Name, strings.Join(missing, ", ")))
			}
			for _, env := range c.Env {
				if env.ValueFrom != nil || env.Value == "" {
					continue
				}
				if secretName.MatchString(env.Name) || urlWithPassword.MatchString(env.Value) {
					secrets = append(secrets, c.Name+": "+env.Name)
				}
			}
		}
		if len(privileged) > 0 {
			add(w, "privileged container", health.Crit, "privileged: "+strings.Join(privileged, ", "), nil,
				"a privileged container has every capability and the host's devices: escaping to the node is trivial",
				"remove securityContext.privileged; add only the capabilities it needs")
		}
		if len(root) > 0 {
			add(w, "runs as root", health.Crit, "runAsUser 0: "+strings.Join(root, ", "), nil,
				"root in the container is root on the node after any escape, and can change the image's files",
				"set runAsUser to a non-zero uid and runAsNonRoot: true; build the image with a USER")
		}
		if len(maybeRoot) > 0 {
			add(w, "may run as root", health.Warn, "no runAsNonRoot or runAsUser: "+strings.Join(maybeRoot, ", "),
				[]string{"the image's USER decides; most base images default to root"},
				"nothing stops the container from running as root",
				"set securityContext.runAsNonRoot: true (and runAsUser) in the pod template")
		}
		for _, v := range spec.Volumes {
			if v.HostPath == nil {
				continue
			}
			st := health.Warn
			if slices.Contains(sensitiveHostPaths, strings.TrimSuffix(v.HostPath.Path, "/")) || v.HostPath.Path == "/" {
				st = health.Crit
			}
			add(w, "hostPath mount", st, fmt.Sprintf("volume %s mounts %s from the node", v.Name, v.HostPath.Path), nil,
				"a hostPath gives the pod the node's files; a writable one lets it change the node",
				"use a PersistentVolumeClaim, ConfigMap or emptyDir instead; if it must stay, mount it readOnly")
		}
		for _, h := range []struct {
			on   bool
			name string
		}{{spec.HostNetwork, "hostNetwork"}, {spec.HostPID, "hostPID"}, {spec.HostIPC, "hostIPC"}} {
			if h.on {
				add(w, "host namespace", health.Warn, h.name+": true", nil,
					"the pod shares the node's "+strings.TrimPrefix(h.name, "host")+" namespace and sees its neighbours",
					"remove "+h.name+" unless it is a node agent")
			}
		}
		if len(secrets) > 0 {
			add(w, "secret in env", health.Crit, "plain env values that look like secrets: "+strings.Join(secrets, ", "),
				[]string{"values are not shown; they are readable by anyone who can get the " + strings.ToLower(w.Kind)},
				"a value in the spec is stored unencrypted, shown by kubectl describe and copied into every ReplicaSet",
				"move it into a Secret and use valueFrom.secretKeyRef")
		}
		if len(latest) > 0 {
			add(w, "image latest", health.Warn, "untagged or :latest: "+strings.Join(latest, ", "), nil,
				"what runs changes with every pull: a restart can deploy untested code, and a rollback has nothing to go back to",
				"pin a version tag, better a digest (image@sha256:...)")
		}
		if len(noLimits) > 0 {
			fs = append(fs, Finding{Area: AreaSecurity, Check: "no limits", Status: health.Warn, Object: w.Ref(),
				Summary:    strings.Join(noLimits, "; "),
				Why:        "a container without a memory limit can take the node's memory and get its neighbours OOM-killed; without a cpu limit it can starve them",
				Suggestion: "set resources.limits (memory at least) from what it uses (kubectl top pod), or a LimitRange for the namespace",
				Runbook:    rbKubeResources})
		}
	}
	for _, b := range f.Bindings {
		for _, s := range b.Subjects {
			var who string
			switch {
			case s.Kind == "ServiceAccount" && s.Namespace != "kube-system":
				ns := s.Namespace
				if ns == "" {
					ns = b.Namespace
				}
				who = "service account " + ns + "/" + s.Name
			case s.Kind == "Group" && strings.HasPrefix(s.Name, "system:serviceaccounts"):
				who = "every service account in group " + s.Name
			default:
				continue
			}
			scope := "the whole cluster"
			if b.Kind == "RoleBinding" {
				scope = "namespace " + b.Namespace
			}
			fs = append(fs, Finding{Area: AreaSecurity, Check: "cluster-admin service account", Status: health.Crit, Object: who,
				Summary:    fmt.Sprintf("%s is cluster-admin over %s (%s %s)", who, scope, b.Kind, b.Name),
				Why:        "any pod running as it, or anyone who reads its token, controls " + scope,
				Suggestion: fmt.Sprintf("delete the binding (kubectl delete %s %s) and grant a Role with only the verbs the application needs", strings.ToLower(b.Kind), b.Name),
				Runbook:    rbSecurity})
		}
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Area: AreaSecurity, Check: "kubernetes", Status: health.OK, Object: "kubernetes", Runbook: rbSecurity,
			Summary: fmt.Sprintf("%d workloads checked, no finding; no service account is cluster-admin", len(f.Workloads))})
	}
	return fs
}

// effectiveUser returns the uid a container runs as (container setting,
// else the pod's) and whether runAsNonRoot is required.
func effectiveUser(pod *corev1.PodSecurityContext, c *corev1.SecurityContext) (*int64, bool) {
	var uid *int64
	nonRoot := false
	if pod != nil {
		uid = pod.RunAsUser
		nonRoot = pod.RunAsNonRoot != nil && *pod.RunAsNonRoot
	}
	if c != nil {
		if c.RunAsUser != nil {
			uid = c.RunAsUser
		}
		if c.RunAsNonRoot != nil {
			nonRoot = *c.RunAsNonRoot
		}
	}
	return uid, nonRoot
}

// imageTag returns the image's tag, "" when it has none; a digest counts
// as pinned ("@sha256").
func imageTag(image string) string {
	if strings.Contains(image, "@") {
		return "@digest"
	}
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		return image[colon+1:]
	}
	return ""
}
