package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
)

// shards is a test component that stores one file per shard, as a Redis
// Cluster keeps one RDB per master.
type shards struct{ n int }

func (shards) Name() string                { return "shards" }
func (shards) About(*config.Config) string { return "one file per shard" }
func (shards) Chosen() bool                { return false }
func (shards) Restorable() bool            { return false }

func (s shards) Backup(ctx context.Context, run *ComponentRun) error {
	for i := range s.n {
		err := run.WriteFile(ctx, fmt.Sprintf("shard-%d.txt", i), "text", nil, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "shard %d\n", i)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (shards) Check(_ context.Context, c *ContentCheck) error {
	b, err := io.ReadAll(c.Content)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, []byte("shard ")) {
		return fmt.Errorf("%s is not a shard", c.File.Name)
	}
	return nil
}

// A new component is a type plus its registration; it may store several
// files per set, all verified, deep too.
func TestComponentWithSeveralFiles(t *testing.T) {
	registered = append(registered, shards{n: 3})
	t.Cleanup(func() { registered = registered[:len(registered)-1] })
	if _, ok := LookupSetComponent("shards"); !ok {
		t.Fatal("the registered component is not found")
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Backup.Dir = filepath.Join(dir, "store")
	cfg.StateDir = filepath.Join(dir, "state")
	log, err := audit.Open(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	e, err := New(cfg, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := accesstest.Admin(context.Background())
	res, err := e.Backup(ctx, Options{Components: []string{"shards"}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := res.Manifest.Component("shards")
	var names []string
	for _, f := range c.Files {
		names = append(names, f.Name)
	}
	if want := []string{"shard-0.txt.zst", "shard-1.txt.zst", "shard-2.txt.zst"}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	vr, err := e.Verify(ctx, VerifyOptions{IDs: []string{res.Manifest.ID}, Deep: true})
	if err != nil || vr[0].Files != 3 {
		t.Fatalf("deep verify: %v %+v", err, vr)
	}
	if _, err := e.Backup(ctx, Options{Components: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "shards") {
		t.Errorf("an unknown component should list the known ones: %v", err)
	}
}

// A checksum mismatch shows both whole hashes: two that differ only in
// their last character read apart.
func TestChecksumMessageShowsWholeHashes(t *testing.T) {
	data := []byte("stored bytes")
	h := &hashReader{r: bytes.NewReader(data), h: sha256.New()}
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	bad := good[:63] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[63])+1)%16])
	err := h.check(File{Name: "f", Size: int64(len(data)), SHA256: bad})
	if err == nil || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("%v should show %s and %s", err, good, bad)
	}
}
