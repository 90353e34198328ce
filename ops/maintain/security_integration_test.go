package maintain

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/health"
)

// problems lists the security findings that are not ok, as "check object".
func problems(rep *Report) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Area == AreaSecurity && (f.Status != health.OK || f.NA) {
			out = append(out, f.Check+" | "+f.Object)
		}
	}
	slices.Sort(out)
	return out
}

func TestSecurityChecksFireAndStayQuietWhenFixed(t *testing.T) {
	cfg := sandboxConfig(t)
	ctx := accesstest.Admin(t.Context())
	const ns = "sectest"
	cfg.Kubernetes.Namespaces = []string{ns}

	// Redis: opsdeck reads as an admin ACL user; the default user is the
	// one the checks judge.
	admin := goredis.NewClient(&goredis.Options{Addr: sb.Redis.Addr()})
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", "sec-admin", "on", ">sec-admin-pw-1", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	secAdmin := goredis.NewClient(&goredis.Options{Addr: sb.Redis.Addr(), Username: "sec-admin", Password: "sec-admin-pw-1"})
	defer secAdmin.Close()
	t.Cleanup(func() {
		c := accesstest.Admin(context.Background())
		secAdmin.Do(c, "ACL", "SETUSER", "default", "on", "nopass", "+@all")
		secAdmin.ConfigSet(c, "protected-mode", "yes")
		secAdmin.Do(c, "ACL", "DELUSER", "sec-admin")
	})
	cfg.Redis.URL = "redis://sec-admin:sec-admin-pw-1@" + sb.Redis.Addr() + "/0"
	if err := admin.ConfigSet(ctx, "protected-mode", "no").Err(); err != nil {
		t.Fatal(err)
	}

	// Postgres: a second superuser, an md5 password, a login without
	// password, CREATE on public.
	sqlCleanup(t, "DROP ROLE IF EXISTS maint_su", "DROP ROLE IF EXISTS maint_legacy", "DROP ROLE IF EXISTS maint_nopw",
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	sql(t,
		"CREATE ROLE maint_su SUPERUSER LOGIN PASSWORD 'pw-maint-su-1'",
		"SET password_encryption = 'md5'",
		"CREATE ROLE maint_legacy LOGIN PASSWORD 'pw-maint-legacy-1'",
		"CREATE ROLE maint_nopw LOGIN",
		"GRANT CREATE ON SCHEMA public TO PUBLIC",
	)

	// Kubernetes: one pod per problem and a service account bound to cluster-admin.
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.CoreV1().Namespaces().Delete(accesstest.Admin(context.Background()), ns, metav1.DeleteOptions{})
		cs.RbacV1().ClusterRoleBindings().Delete(accesstest.Admin(context.Background()), "maint-deployer-admin", metav1.DeleteOptions{})
	})
	yes, no, root, user := true, false, int64(0), int64(1000)
	good := func(c corev1.Container) corev1.Container {
		c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}
		c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &yes, RunAsUser: &user, Privileged: &no}
		if c.Image == "" {
			c.Image = "stockapp/api:2.14.1"
		}
		return c
	}
	pods := map[string]corev1.PodSpec{
		"privileged": {Containers: []corev1.Container{func() corev1.Container {
			c := good(corev1.Container{Name: "c"})
			c.SecurityContext.Privileged = &yes
			return c
		}()}},
		"root": {Containers: []corev1.Container{func() corev1.Container {
			c := good(corev1.Container{Name: "c"})
			c.SecurityContext.RunAsNonRoot, c.SecurityContext.RunAsUser = nil, &root
			return c
		}()}},
		"hostpath": {Containers: []corev1.Container{good(corev1.Container{Name: "c"})},
			Volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/data"}}}}},
		"envsecret": {Containers: []corev1.Container{good(corev1.Container{Name: "c", Env: []corev1.EnvVar{{Name: "API_TOKEN", Value: "tok-123456"}}})}},
		"latest":    {Containers: []corev1.Container{good(corev1.Container{Name: "c", Image: "stockapp/api:latest"})}},
		"nolimits": {Containers: []corev1.Container{func() corev1.Container {
			c := good(corev1.Container{Name: "c"})
			c.Resources = corev1.ResourceRequirements{}
			return c
		}()}},
	}
	for name, spec := range pods {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "maint-deployer-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "deployer"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Backup store: a set directory and a file readable by others.
	set := filepath.Join(cfg.Backup.Dir, "20261101_020000")
	if err := os.MkdirAll(set, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(cfg.Backup.Dir, 0o700)
	if err := os.WriteFile(filepath.Join(set, "database.dump.zst"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	rep, err := newEngine(t, cfg).Run(ctx, Options{Mode: ModeSecurity})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"backup encryption | backup store",
		"backup store permissions | " + cfg.Backup.Dir,
		"cluster-admin service account | service account sectest/deployer",
		"hostPath mount | pod/sectest/hostpath",
		"image latest | pod/sectest/latest",
		"no limits | pod/sectest/nolimits",
		"postgres CREATE on public | schema public",
		"postgres login without password | role maint_nopw",
		"postgres md5 password | role maint_legacy",
		"postgres superuser | role maint_su",
		"privileged container | pod/sectest/privileged",
		"redis dangerous commands | redis",
		"redis default user without password | redis",
		"redis protected mode | redis",
		"runs as root | pod/sectest/root",
		"secret in env | pod/sectest/envsecret",
	}
	got := problems(rep)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("planted problem not found: %s", w)
		}
	}
	if t.Failed() {
		t.Fatalf("findings: %q", got)
	}
	if rep.Status != health.Crit {
		t.Errorf("status %v", rep.Status)
	}

	// Fix everything.
	sql(t, "DROP ROLE maint_su", "ALTER ROLE maint_legacy PASSWORD 'pw-maint-legacy-2'", "ALTER ROLE maint_nopw NOLOGIN",
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	enableSSL(t)
	for _, args := range [][]any{
		{"ACL", "SETUSER", "default", "resetpass", ">default-pw-1", "-flushall", "-flushdb", "-config", "-debug", "-keys"},
		{"CONFIG", "SET", "protected-mode", "yes"},
	} {
		if err := secAdmin.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for name := range pods {
		if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fine"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{good(corev1.Container{Name: "c"})}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, "maint-deployer-admin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(set, 0o700)
	os.Chmod(filepath.Join(set, "database.dump.zst"), 0o600)
	cfg.Backup.Encryption.Recipients = []string{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}

	rep, err = newEngine(t, cfg).Run(ctx, Options{Mode: ModeSecurity})
	if err != nil {
		t.Fatal(err)
	}
	if got := problems(rep); len(got) != 0 {
		t.Errorf("fixed problems still reported: %q", got)
	}
}

// enableSSL gives the sandbox server a self-signed certificate and turns
// ssl on (reloaded, no restart), and turns it off again after the test.
func enableSSL(t *testing.T) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt, kf := filepath.Join(sb.Postgres.DataDir, "maint.crt"), filepath.Join(sb.Postgres.DataDir, "maint.key")
	for path, block := range map[string]*pem.Block{crt: {Type: "CERTIFICATE", Bytes: der}, kf: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		// The server runs as the data directory's owner.
		if st, err := os.Stat(sb.Postgres.DataDir); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				os.Chown(path, int(sys.Uid), int(sys.Gid))
			}
		}
	}
	sqlCleanup(t, "ALTER SYSTEM RESET ssl", "ALTER SYSTEM RESET ssl_cert_file", "ALTER SYSTEM RESET ssl_key_file", "SELECT pg_reload_conf()")
	sql(t, "ALTER SYSTEM SET ssl_cert_file = '"+crt+"'", "ALTER SYSTEM SET ssl_key_file = '"+kf+"'", "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()")
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := pgx.Connect(accesstest.Admin(t.Context()), sb.Postgres.DSN())
		if err != nil {
			t.Fatal(err)
		}
		var on string
		err = conn.QueryRow(accesstest.Admin(t.Context()), "SHOW ssl").Scan(&on)
		conn.Close(accesstest.Admin(context.Background()))
		if err == nil && on == "on" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssl did not turn on (%q, %v); see %s", on, err, sb.Postgres.LogPath())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
