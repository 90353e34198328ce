package bundle

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// TestStuckSourceIsAbandoned: a source that ignores its context (a stuck
// driver) is abandoned at its timeout plus the grace, its parts hold the
// line saying so, what it sends later is dropped, and the others' parts
// are all there, redacted.
func TestStuckSourceIsAbandoned(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	sources := []source{
		{name: "stuck", parts: []string{"stuck/a.txt", "stuck/b.txt"}, timeout: 300 * time.Millisecond, run: func(ctx context.Context, out *emitter) error {
			out.Put("stuck/a.txt", []byte("first part\n"), 0, nil)
			<-release // never before the bundle ends
			out.Put("stuck/b.txt", []byte("too late\n"), 0, nil)
			return nil
		}},
		{name: "quick", parts: []string{"quick.txt"}, timeout: time.Second, run: func(ctx context.Context, out *emitter) error {
			out.Put("quick.txt", []byte("the password is hunter2\n"), 0, nil)
			return nil
		}},
		{name: "failing", timeout: time.Second, run: func(ctx context.Context, out *emitter) error {
			return errors.New("cannot reach it with hunter2")
		}},
	}
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	t0 := time.Now()
	res, err := collect(context.Background(), sources, []string{"hunter2"}, Options{Path: path, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 300*time.Millisecond+grace+time.Second {
		t.Fatalf("took %s", took)
	}
	members := read(t, path)
	want := map[string]string{
		"stuck/a.txt":       "first part\n",
		"stuck/b.txt":       "stuck: no answer within 300ms — it was abandoned\n",
		"quick.txt":         "the password is xxxxx\n",
		"failing/ERROR.txt": "failing: cannot reach it with xxxxx\n",
	}
	for name, body := range want {
		if members[name] != body {
			t.Errorf("%s = %q, want %q", name, members[name], body)
		}
	}
	var failed []string
	for _, p := range res.Failed() {
		failed = append(failed, p.Name)
	}
	if strings.Join(failed, " ") != "failing/ERROR.txt stuck/b.txt" {
		t.Errorf("failed parts %v", failed)
	}
	if !strings.Contains(members["MANIFEST"], "stuck/b.txt") || strings.Contains(members["MANIFEST"], "hunter2") {
		t.Errorf("MANIFEST:\n%s", members["MANIFEST"])
	}
}

func read(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}
