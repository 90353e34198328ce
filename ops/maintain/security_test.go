package maintain

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/redis"
)

func checks(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Status != health.OK || f.NA {
			out = append(out, f.Check+" "+f.Object)
		}
	}
	slices.Sort(out)
	return out
}

func TestPostgresSecurityFindings(t *testing.T) {
	m := config.DefaultMaintenance()
	bad := postgres.Security{
		Database: "stockdb", Owner: "stockapp", Bootstrap: "postgres",
		Superusers: []string{"dba", "postgres", "stockapp", "tmp_admin"}, PasswordEncryption: "md5", SSL: false,
		MD5Roles: []string{"legacy"}, NoPasswordRoles: []string{"postgres", "report"},
		TrustRules:   []postgres.HBARule{{Line: 90, Type: "host", Database: []string{"all"}, User: []string{"all"}, Address: "0.0.0.0/0", Method: "trust"}},
		PublicCreate: true, PublicCreateRoles: []string{"stockapp"},
	}
	m.AllowedSuperusers = []string{"dba"}
	got := checks(PostgresSecurityFindings(bad, m))
	want := []string{
		"postgres CREATE on public role stockapp", "postgres CREATE on public schema public",
		"postgres login without password role postgres", "postgres login without password role report",
		"postgres md5 password role legacy", "postgres password encryption password_encryption",
		"postgres ssl ssl", "postgres superuser role tmp_admin", "postgres trust authentication pg_hba.conf line 90",
	}
	if !slices.Equal(got, want) {
		t.Errorf("planted:\n got %q\nwant %q", got, want)
	}
	good := postgres.Security{Database: "stockdb", Owner: "stockapp", Bootstrap: "postgres", Superusers: []string{"postgres"},
		PasswordEncryption: "scram-sha-256", SSL: true}
	fs := PostgresSecurityFindings(good, config.DefaultMaintenance())
	if len(fs) != 1 || fs[0].Status != health.OK {
		t.Errorf("fixed: %+v", fs)
	}
	limited := good
	limited.Missing = []postgres.MissingFact{{Fact: postgres.FactPasswords, Reason: "permission denied (pg_authid)"}}
	fs = PostgresSecurityFindings(limited, config.DefaultMaintenance())
	if len(fs) != 1 || !fs[0].NA || !strings.Contains(fs[0].Summary, "pg_authid") {
		t.Errorf("without pg_authid: %+v", fs)
	}
}

func TestRedisSecurityFindings(t *testing.T) {
	bad := redis.Security{DefaultUser: &redis.ACLUser{Name: "default", Enabled: true, NoPass: true, AllCommands: true},
		ProtectedMode: "no", Bind: "0.0.0.0", Dangerous: []string{"FLUSHALL", "CONFIG", "KEYS"}, DangerousChecked: true}
	got := checks(RedisSecurityFindings(bad))
	want := []string{"redis dangerous commands redis", "redis default user without password redis", "redis protected mode redis"}
	if !slices.Equal(got, want) {
		t.Errorf("planted: %q", got)
	}
	good := redis.Security{DefaultUser: &redis.ACLUser{Name: "default", Enabled: true}, ProtectedMode: "yes", DangerousChecked: true}
	if fs := RedisSecurityFindings(good); len(fs) != 1 || fs[0].Status != health.OK {
		t.Errorf("fixed: %+v", fs)
	}
	unknown := redis.Security{Missing: map[string]string{"acl": "ACL GETUSER refused (NOPERM)", "config": "CONFIG GET refused"}}
	if got := checks(RedisSecurityFindings(unknown)); !slices.Equal(got, []string{"redis acl redis", "redis config redis"}) {
		t.Errorf("refused: %q", got)
	}
}

func TestKubeSecurityFindings(t *testing.T) {
	yes, root := true, int64(0)
	limits := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}}
	safe := func(name, image string) corev1.Container {
		uid := int64(1000)
		return corev1.Container{Name: name, Image: image, Resources: limits,
			SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid}}
	}
	bad := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "stockapp/api:latest",
			SecurityContext: &corev1.SecurityContext{Privileged: &yes, RunAsUser: &root},
			Env: []corev1.EnvVar{
				{Name: "DB_PASSWORD", Value: "hunter2-secret-value"},
				{Name: "CACHE_URL", Value: "redis://:s3cr3t-value@redis:6379/0"},
				{Name: "FROM_SECRET_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "t"}}},
				{Name: "LOG_LEVEL", Value: "info"},
			},
		}, {Name: "sidecar", Image: "busybox"}},
		Volumes: []corev1.Volume{{Name: "docker", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}}},
	}
	f := KubeSecurityFacts{
		Workloads: []Workload{
			{Kind: "Pod", Namespace: "sec", Name: "bad", Spec: bad},
			{Kind: "Deployment", Namespace: "sec", Name: "good", Spec: corev1.PodSpec{Containers: []corev1.Container{safe("api", "stockapp/api:2.14.1")}}},
			{Kind: "CronJob", Namespace: "sec", Name: "pinned", Spec: corev1.PodSpec{Containers: []corev1.Container{safe("job", "registry.local:5000/ops@sha256:abc")}}},
		},
		Bindings: []Binding{
			{Kind: "ClusterRoleBinding", Name: "ops-admin", Subjects: []rbacv1.Subject{
				{Kind: "ServiceAccount", Namespace: "sec", Name: "deployer"},
				{Kind: "ServiceAccount", Namespace: "kube-system", Name: "system-thing"},
				{Kind: "User", Name: "alice"},
			}},
		},
		Errors: map[string]error{"daemonsets/sec": apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "daemonsets"}, "", nil)},
	}
	fs := KubeSecurityFindings(f)
	got := checks(fs)
	want := []string{
		"cluster-admin service account service account sec/deployer",
		"hostPath mount pod/sec/bad", "image latest pod/sec/bad", "kubernetes daemonsets/sec daemonsets/sec",
		"may run as root pod/sec/bad", "no limits pod/sec/bad", "privileged container pod/sec/bad",
		"runs as root pod/sec/bad", "secret in env pod/sec/bad",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n got %q\nwant %q", got, want)
	}
	for _, x := range fs {
		all := x.Summary + strings.Join(x.Evidence, " ")
		if strings.Contains(all, "hunter2") || strings.Contains(all, "s3cr3t") {
			t.Errorf("a secret value is shown: %+v", x)
		}
		if x.Check == "secret in env" && (!strings.Contains(x.Summary, "DB_PASSWORD") || !strings.Contains(x.Summary, "CACHE_URL") || strings.Contains(x.Summary, "FROM_SECRET_TOKEN")) {
			t.Errorf("secret in env: %q", x.Summary)
		}
		if x.Check == "hostPath mount" && x.Status != health.Crit {
			t.Errorf("docker.sock is not critical: %+v", x)
		}
		if x.Check == "image latest" && !strings.Contains(x.Summary, "busybox") {
			t.Errorf("untagged image not reported: %q", x.Summary)
		}
	}
	clean := KubeSecurityFindings(KubeSecurityFacts{Workloads: f.Workloads[1:]})
	if len(clean) != 1 || clean[0].Status != health.OK {
		t.Errorf("fixed: %+v", clean)
	}
}

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		"busybox": "", "busybox:latest": "latest", "stockapp/api:2.1": "2.1", "registry:5000/api": "",
		"registry:5000/api:1": "1", "api@sha256:abc": "@digest",
	} {
		if got := imageTag(image); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", image, got, want)
		}
	}
}
