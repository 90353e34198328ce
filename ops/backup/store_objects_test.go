package backup

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/opsdeck/opsdeck/ops/config"
)

// The object calls behave the same on the local store and on S3: put,
// read back, list by prefix (sets and objects never list as each other),
// delete, keys that could escape refused.
func TestObjectsLocalAndS3(t *testing.T) {
	ctx := context.Background()
	local, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{StateDir: t.TempDir()}
	s3Config(t, cfg)
	s3, err := NewS3Store(cfg.Backup.S3, cfg.StateDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []Store{TraceStore(local), s3} {
		t.Run(st.String(), func(t *testing.T) {
			keys := []string{"wal/00000001/b.zst", "wal/00000001/a.zst", "wal/00000002.history"}
			for i, k := range keys {
				if err := st.PutObject(ctx, k, []byte{byte('A' + i)}); err != nil {
					t.Fatal(err)
				}
			}
			objs, err := st.ListObjects(ctx, "wal/00000001/")
			if err != nil || len(objs) != 2 || objs[0].Key != "wal/00000001/a.zst" || objs[1].Size != 1 {
				t.Fatalf("list = %+v, %v", objs, err)
			}
			if all, _ := st.ListObjects(ctx, "wal/"); len(all) != 3 {
				t.Fatalf("list wal/ = %+v", all)
			}
			rc, err := st.OpenObject(ctx, "wal/00000002.history")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "C" {
				t.Fatalf("read %q", b)
			}
			if committed, leftovers, err := st.List(ctx); err != nil || len(committed)+len(leftovers) != 0 {
				t.Fatalf("objects listed as sets: %v %v %v", committed, leftovers, err)
			}
			if err := st.DeleteObject(ctx, "wal/00000001/a.zst"); err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteObject(ctx, "wal/00000001/a.zst"); err != nil {
				t.Fatalf("deleting a missing object: %v", err)
			}
			if _, err := st.OpenObject(ctx, "wal/00000001/a.zst"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("open deleted: %v", err)
			}
			for _, bad := range []string{"../etc/passwd", "wal/../x", "wal/.hidden", "20260101_000000/x", "wal/", "wal/a b"} {
				if err := st.PutObject(ctx, bad, nil); err == nil {
					t.Errorf("key %q accepted", bad)
				}
			}
		})
	}
}
