package main_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// TestCheckThroughPortForward: PostgreSQL and Redis behind Services, their
// passwords in a Secret; check reaches both through the port-forward, says
// so, and the passwords appear nowhere: not in the output, not in the
// state dir (logs, audit).
func TestCheckThroughPortForward(t *testing.T) {
	requireSandbox(t)
	const ns = "cli-incluster"
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	k := sb.Kube.Kubelet()
	if err := sandbox.InClusterServer(ctx, cs, k, ns, "postgres", 5432, sb.Postgres.Port); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.InClusterServer(ctx, cs, k, ns, "redis", 6379, sb.Redis.Port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.RemovePortForward(ns, "postgres-0")
		k.RemovePortForward(ns, "redis-0")
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	ru, err := url.Parse(sb.Config.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	redisPassword, _ := ru.User.Password()
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "credentials"},
		Data:       map[string][]byte{"pg": []byte(sb.Postgres.Password), "redis": []byte(redisPassword)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`state_dir: %q
postgres:
  dsn: "postgres://%s@postgres.%s.svc.cluster.invalid/%s?sslmode=disable"
  service: %s/postgres
  password_secret: %s/credentials#pg
redis:
  url: "redis://redis.%s.svc.cluster.invalid:6379/0"
  service: %s/redis
  password_secret: %s/credentials#redis
kubernetes:
  kubeconfig: %q
  namespaces: [%s]
`, state, sandbox.PostgresSuperuser, ns, sandbox.PostgresDatabase, ns, ns, ns, ns, ns, sb.Kube.KubeconfigPath(), ns))

	r := opsdeck(t, nil, "--config", cfg, "--debug", "check", "--target", "postgres,redis")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"via port-forward to postgres-0", "via port-forward to redis-0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	secrets := []string{sb.Postgres.Password}
	if redisPassword != "" { // the sandbox's Redis may have none
		secrets = append(secrets, redisPassword)
	}
	for _, s := range secrets {
		if i := strings.Index(r.stdout+r.stderr, s); i >= 0 {
			out := r.stdout + r.stderr
			t.Fatalf("a password from the Secret is in the output: …%s…", strings.ReplaceAll(out[max(0, i-300):min(len(out), i+len(s)+100)], s, "<PASSWORD>"))
		}
	}
	_ = filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a password from the Secret", path)
			}
		}
		return nil
	})

	// The kubelet no longer reaches the pod: a critical line naming it, in time.
	k.RemovePortForward(ns, "postgres-0")
	r = opsdeck(t, nil, "--config", cfg, "check", "--target", "postgres", "--timeout", "5s")
	if r.code != 2 || !strings.Contains(r.stdout, "postgres-0") {
		t.Errorf("exit %d, want 2 and the pod named:\n%s%s", r.code, r.stdout, r.stderr)
	}
}
