package backup

import (
	"context"
	"errors"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/opsdeck/opsdeck/ops/config"
)

// s3Config points cfg at an in-process S3 server with the bucket made.
func s3Config(t *testing.T, cfg *config.Config) {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("opsdeck-backups"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	cfg.Backup.S3 = config.S3Config{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "opsdeck-backups", Prefix: "prod/stockapp",
		Region: "us-east-1", AccessKey: "AKIAOPSDECK", SecretKey: "s3-secret-key", Insecure: true,
	}
}

func TestS3Store(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	cfg := testConfig(t)
	s3Config(t, cfg)
	e := newEngine(t, cfg)
	if _, ok := e.Store.(interface{ Unwrap() Store }).Unwrap().(*S3Store); !ok {
		t.Fatalf("store is %T", e.Store)
	}
	res, err := e.Backup(ctx, Options{Kind: "full", Components: []string{Database, Redis}})
	if err != nil {
		t.Fatal(err)
	}
	sets, err := List(ctx, e.Store)
	if err != nil || len(sets) != 1 || sets[0].ID != res.Manifest.ID || !sets[0].Verified() {
		t.Fatalf("list = %+v, %v", sets, err)
	}
	if _, err := e.Verify(ctx, VerifyOptions{All: true, Deep: true}); err != nil {
		t.Fatalf("deep verify over S3: %v", err)
	}
	// A run that never commits leaves a leftover that does not list and
	// is removed by the next run.
	w, err := e.Store.Create(ctx, "20200101_000000", "database.dump.zst")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half a dump"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	committed, leftovers, _ := e.Store.List(ctx)
	if len(committed) != 1 || len(leftovers) != 1 || leftovers[0] != "20200101_000000" {
		t.Fatalf("committed %v leftovers %v", committed, leftovers)
	}
	res2, err := e.Backup(ctx, Options{Kind: Redis})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Cleaned) != 1 {
		t.Errorf("cleaned %v", res2.Cleaned)
	}
	if err := e.Store.Delete(ctx, res.Manifest.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := Get(ctx, e.Store, res.Manifest.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted set: %v", err)
	}
}
