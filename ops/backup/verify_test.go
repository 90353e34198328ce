package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
)

// A file replaced by another set's valid file, and a manifest whose sha256
// was edited, are refused by verify and by deep verify, for every restorable
// component; deep verify also refuses the swapped file when its size and
// sha256 were copied into the manifest too, by what the file says.
func TestVerifyRefusesSwappedAndRehashedFiles(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	cfg := testConfig(t)
	e := newEngine(t, cfg)
	for _, comp := range []string{Database, Redis, Config} {
		t.Run(comp, func(t *testing.T) {
			a, err := e.Backup(ctx, Options{Kind: comp})
			if err != nil {
				t.Fatal(err)
			}
			changeData(t, ctx, comp)
			b, err := e.Backup(ctx, Options{Kind: comp})
			if err != nil {
				t.Fatal(err)
			}
			fa, fb := a.Manifest.Components[0].Files[0], b.Manifest.Components[0].Files[0]
			pathA := filepath.Join(cfg.Backup.Dir, a.Manifest.ID, fa.Name)
			orig, err := os.ReadFile(pathA)
			if err != nil {
				t.Fatal(err)
			}
			manifest := filepath.Join(cfg.Backup.Dir, a.Manifest.ID, ManifestName)
			origManifest, _ := os.ReadFile(manifest)
			restore := func() {
				os.WriteFile(pathA, orig, 0o600)
				os.WriteFile(manifest, origManifest, 0o600)
			}
			other, _ := os.ReadFile(filepath.Join(cfg.Backup.Dir, b.Manifest.ID, fb.Name))

			refused := func(what string, deepOnly bool) {
				t.Helper()
				for _, deep := range []bool{false, true} {
					if deepOnly && !deep {
						continue
					}
					res, err := e.Verify(ctx, VerifyOptions{IDs: []string{a.Manifest.ID}, Deep: deep})
					if err == nil || len(res) != 1 || res[0].OK {
						t.Errorf("%s, deep=%v: not refused (%v)", what, deep, err)
					}
					s, _ := Get(ctx, e.Store, a.Manifest.ID)
					if s.VerifyState() != VerifyFailed {
						t.Errorf("%s, deep=%v: verify state %s", what, deep, s.VerifyState())
					}
				}
				restore()
			}

			os.WriteFile(pathA, other, 0o600)
			refused("another set's file", false)

			editManifest(t, manifest, func(f *File) { f.SHA256 = strings.Repeat("0", 64) })
			refused("an edited sha256", false)

			// The other set's file, with its size and sha256 in the
			// manifest: only the content can tell.
			os.WriteFile(pathA, other, 0o600)
			editManifest(t, manifest, func(f *File) { f.SHA256, f.Size, f.RawSize = fb.SHA256, fb.Size, fb.RawSize })
			refused("another set's file, re-hashed", true)

			if _, err := e.Verify(ctx, VerifyOptions{IDs: []string{a.Manifest.ID}, Deep: true}); err != nil {
				t.Errorf("the untouched set fails deep verify: %v", err)
			}
		})
	}
}

// editManifest rewrites the first file of the first component of the
// manifest at path.
func editManifest(t *testing.T, path string, edit func(*File)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m.Components[0].Files[0])
	out, _ := m.Encode()
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// changeData changes what component comp backs up, and undoes it when the
// test ends.
func changeData(t *testing.T, ctx context.Context, comp string) {
	t.Helper()
	name := fmt.Sprintf("opsdeck_verify_%d", time.Now().UnixNano())
	switch comp {
	case Database:
		conn, err := pgx.Connect(ctx, sb.Config.Postgres.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE TABLE "+name+" AS SELECT g AS n FROM generate_series(1, 10) g"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), sb.Config.Postgres.DSN)
			if err == nil {
				c.Exec(context.Background(), "DROP TABLE IF EXISTS "+name)
				c.Close(context.Background())
			}
		})
	case Redis:
		c := goredis.NewClient(&goredis.Options{Addr: sb.Redis.Addr(), Password: sb.Redis.Password})
		defer c.Close()
		if err := c.Set(ctx, name, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c := goredis.NewClient(&goredis.Options{Addr: sb.Redis.Addr(), Password: sb.Redis.Password})
			c.Del(context.Background(), name)
			c.Close()
		})
	case Config:
		cs, err := kubernetes.NewForConfig(sb.Kube.Config())
		if err != nil {
			t.Fatal(err)
		}
		ns := sb.Config.Kubernetes.Namespaces[0]
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, "_", "-")}, Data: map[string]string{"k": "v"}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cs.CoreV1().ConfigMaps(ns).Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
		})
	}
}
