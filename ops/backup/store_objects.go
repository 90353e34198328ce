package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// Object is a file the store keeps outside the sets, by key: the WAL
// archive ("wal/00000001/000000010000000000000003-<sha256>.zst").
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// ObjectPrefixes are the top folders objects may live under. A set's ID
// never looks like one, so the sets' listing skips them.
var ObjectPrefixes = []string{"wal/", leasePrefix}

// CheckObjectKey refuses a key that is not a relative, clean path of
// letters, digits, '.', '_' and '-' under one of ObjectPrefixes.
func CheckObjectKey(key string) error {
	ok := false
	for _, p := range ObjectPrefixes {
		if strings.HasPrefix(key, p) && len(key) > len(p) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("bad object key %q: not under %s", key, strings.Join(ObjectPrefixes, ", "))
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") {
			return fmt.Errorf("bad object key %q", key)
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return fmt.Errorf("bad object key %q: character %q", key, r)
			}
		}
	}
	return nil
}

func checkObjectPrefix(prefix string) error {
	if prefix == "" || strings.Contains(prefix, "..") || strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("bad object prefix %q", prefix)
	}
	return nil
}

// PutObject implements Store: the file is complete and durable when it
// returns (a synced temporary file renamed over the key, the directory
// synced), or absent.
func (s *LocalStore) PutObject(_ context.Context, key string, data []byte) error {
	if err := CheckObjectKey(key); err != nil {
		return err
	}
	path := filepath.Join(s.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w — check free space and permissions of %s", key, err, s.dir)
	}
	if err := safefile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w — check free space and permissions of %s", key, err, s.dir)
	}
	return nil
}

// OpenObject implements Store.
func (s *LocalStore) OpenObject(_ context.Context, key string) (io.ReadCloser, error) {
	if err := CheckObjectKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return f, nil
}

// ListObjects implements Store: every object whose key starts with prefix,
// sorted by key. Temporary files of a write in progress are not objects.
func (s *LocalStore) ListObjects(_ context.Context, prefix string) ([]Object, error) {
	if err := checkObjectPrefix(prefix); err != nil {
		return nil, err
	}
	// Walk from the deepest directory the prefix names.
	dir := prefix
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		dir = dir[:i]
	} else {
		dir = ""
	}
	root := filepath.Join(s.dir, filepath.FromSlash(dir))
	var out []Object
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted meanwhile
			}
			return err
		}
		out = append(out, Object{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", prefix, s.dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// DeleteObject implements Store; a missing object is not an error.
func (s *LocalStore) DeleteObject(_ context.Context, key string) error {
	if err := CheckObjectKey(key); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(s.dir, filepath.FromSlash(key)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (s *S3Store) objectKey(key string) string { return s.setPrefix() + key }

// PutObject implements Store: one PUT, which S3 makes visible whole or
// not at all.
func (s *S3Store) PutObject(ctx context.Context, key string, data []byte) error {
	if err := CheckObjectKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.objectKey(key), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	return s.wrap("write "+key, err)
}

// OpenObject implements Store.
func (s *S3Store) OpenObject(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckObjectKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.objectKey(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrap("open "+key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.wrap("open "+key, err)
	}
	return obj, nil
}

// ListObjects implements Store.
func (s *S3Store) ListObjects(ctx context.Context, prefix string) ([]Object, error) {
	if err := checkObjectPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Object
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.objectKey(prefix), Recursive: true}) {
		if obj.Err != nil {
			return nil, s.wrap("list "+prefix, obj.Err)
		}
		out = append(out, Object{Key: strings.TrimPrefix(obj.Key, s.setPrefix()), Size: obj.Size, ModTime: obj.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// DeleteObject implements Store; a missing object is not an error.
func (s *S3Store) DeleteObject(ctx context.Context, key string) error {
	if err := CheckObjectKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.objectKey(key), minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(s.wrap("", err), ErrNotFound) {
		return s.wrap("delete "+key, err)
	}
	return nil
}

func (t tracedStore) PutObject(ctx context.Context, key string, data []byte) error {
	start := time.Now()
	err := t.Store.PutObject(ctx, key, data)
	t.call(ctx, "put-object", start, err, logging.KeyFile, key, logging.KeyBytes, len(data))
	return err
}

func (t tracedStore) OpenObject(ctx context.Context, key string) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := t.Store.OpenObject(ctx, key)
	t.call(ctx, "open-object", start, err, logging.KeyFile, key)
	return rc, err
}

func (t tracedStore) ListObjects(ctx context.Context, prefix string) ([]Object, error) {
	start := time.Now()
	objs, err := t.Store.ListObjects(ctx, prefix)
	t.call(ctx, "list-objects", start, err, logging.KeyFile, prefix, "objects", len(objs))
	return objs, err
}

func (t tracedStore) DeleteObject(ctx context.Context, key string) error {
	start := time.Now()
	err := t.Store.DeleteObject(ctx, key)
	t.call(ctx, "delete-object", start, err, logging.KeyFile, key)
	return err
}
