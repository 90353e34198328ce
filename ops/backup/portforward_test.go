package backup

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// inClusterConfig is testConfig with PostgreSQL behind the Service ns/postgres,
// reached through the fake kubelet's port-forward, its password in a Secret.
func inClusterConfig(t *testing.T, ns string) *config.Config {
	t.Helper()
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	k := sb.Kube.Kubelet()
	if err := sandbox.InClusterServer(ctx, cs, k, ns, "postgres", 5432, sb.Postgres.Port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.RemovePortForward(ns, "postgres-0")
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "postgres"},
		Data:       map[string][]byte{"password": []byte(sb.Postgres.Password)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Postgres.DSN = "postgres://" + sandbox.PostgresSuperuser + "@postgres." + ns + ".svc.cluster.invalid/" + sandbox.PostgresDatabase + "?sslmode=disable"
	cfg.Postgres.Service, cfg.Postgres.PasswordSecret = ns+"/postgres", ns+"/postgres#password"
	return cfg
}

func TestDatabaseBackupThroughPortForward(t *testing.T) {
	needSandbox(t)
	needIdentity(t)
	ctx := accesstest.Admin(context.Background())
	cfg := inClusterConfig(t, "backup-pf")
	e := newEngine(t, cfg)
	res, err := e.Backup(ctx, Options{Kind: Database})
	if err != nil || !res.Verified {
		t.Fatalf("Backup through the port-forward: %v, verified %v", err, res.Verified)
	}
	// The Secret's password is in no file opsdeck wrote: store, state, audit.
	for _, dir := range []string{cfg.Backup.Dir, cfg.StateDir} {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err == nil && strings.Contains(string(b), sb.Postgres.Password) {
				t.Errorf("%s holds the password read from the Secret", path)
			}
			return err
		})
	}
}

func TestDatabaseBackupLostPodNamed(t *testing.T) {
	needSandbox(t)
	needIdentity(t)
	ctx := accesstest.Admin(context.Background())
	cfg := inClusterConfig(t, "backup-pf-lost")
	sb.Kube.Kubelet().RemovePortForward("backup-pf-lost", "postgres-0")
	e := newEngine(t, cfg)
	_, err := e.Backup(ctx, Options{Kind: Database})
	if err == nil || !strings.Contains(err.Error(), "backup-pf-lost/postgres-0") {
		t.Fatalf("Backup with the pod's kubelet gone: %v, want an error naming the pod", err)
	}
}
