package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/opsdeck/opsdeck/ops/config"
)

// s3PartSize is the multipart chunk: memory held per file being uploaded.
const s3PartSize = 16 << 20

// S3Store keeps sets in an S3-compatible bucket: PREFIX/<id>/<file>, the
// manifest uploaded last. Its lock is a local file under the state dir, so
// it serializes the runs of one host.
type S3Store struct {
	client *minio.Client
	bucket string
	prefix string
	desc   string
	lock   string
}

// NewS3Store connects (lazily: no request is made) to the bucket of cfg.
// connectTimeout bounds dialing; a response must start within a minute.
func NewS3Store(cfg config.S3Config, stateDir string, connectTimeout time.Duration) (*S3Store, error) {
	if connectTimeout <= 0 {
		connectTimeout = 5 * time.Second
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    !cfg.Insecure,
		Region:    cfg.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 store %s: %w — check backup.s3.endpoint", cfg.Endpoint, err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	sum := sha256.Sum256([]byte(cfg.Endpoint + "/" + cfg.Bucket + "/" + prefix))
	return &S3Store{
		client: client,
		bucket: cfg.Bucket,
		prefix: prefix,
		desc:   fmt.Sprintf("s3 %s at %s", path.Join(cfg.Bucket, prefix), cfg.Endpoint),
		lock:   filepath.Join(stateDir, "locks", "s3-"+hex.EncodeToString(sum[:8])+".lock"),
	}, nil
}

func (s *S3Store) String() string { return s.desc }

// LockPath implements Store.
func (s *S3Store) LockPath() string { return s.lock }

func (s *S3Store) key(id, name string) string {
	if s.prefix == "" {
		return id + "/" + name
	}
	return s.prefix + "/" + id + "/" + name
}

func (s *S3Store) setPrefix() string {
	if s.prefix == "" {
		return ""
	}
	return s.prefix + "/"
}

func (s *S3Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	code := minio.ToErrorResponse(err).Code
	switch code {
	case "NoSuchKey":
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case "NoSuchBucket":
		return fmt.Errorf("%s: bucket %q does not exist — create it or fix backup.s3.bucket: %w", op, s.bucket, err)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("%s: the store refused our credentials (%s) — check backup.s3.access_key/secret_key and the bucket policy: %w", op, code, err)
	}
	return fmt.Errorf("%s on %s: %w — check backup.s3 (endpoint, insecure) and that the store is reachable", op, s.desc, err)
}

// Create implements Store: the file is streamed as a multipart upload.
func (s *S3Store) Create(ctx context.Context, id, name string) (FileWriter, error) {
	if err := checkName(id, name); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	w := &s3File{pw: pw, done: make(chan error, 1)}
	key := s.key(id, name)
	go func() {
		_, err := s.client.PutObject(ctx, s.bucket, key, pr, -1, minio.PutObjectOptions{
			PartSize: s3PartSize, ContentType: "application/octet-stream",
			// No aws-chunked streaming signature over plain http: some
			// S3-compatible servers store its framing. Integrity is ours:
			// every file is re-hashed against the manifest after upload.
			DisableContentSha256: true,
		})
		pr.CloseWithError(err)
		w.done <- s.wrap("upload "+key, err)
	}()
	return w, nil
}

type s3File struct {
	pw     *io.PipeWriter
	done   chan error
	closed bool
}

func (f *s3File) Write(p []byte) (int, error) { return f.pw.Write(p) }

func (f *s3File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.pw.Close()
	return <-f.done
}

func (f *s3File) Abort(err error) {
	if f.closed {
		return
	}
	f.closed = true
	if err == nil {
		err = errors.New("aborted")
	}
	f.pw.CloseWithError(err)
	<-f.done
}

// Commit implements Store: the manifest is the last object uploaded.
func (s *S3Store) Commit(ctx context.Context, id string, manifest []byte) error {
	if err := checkName(id, ""); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.key(id, ManifestName), bytes.NewReader(manifest), int64(len(manifest)),
		minio.PutObjectOptions{ContentType: "application/json", DisableContentSha256: true})
	return s.wrap("commit manifest of "+id, err)
}

// Abandon implements Store.
func (s *S3Store) Abandon(ctx context.Context, id string) error { return s.Delete(ctx, id) }

// Open implements Store.
func (s *S3Store) Open(ctx context.Context, id, name string) (io.ReadCloser, error) {
	if err := checkName(id, name); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.key(id, name), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrap("open "+id+"/"+name, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.wrap("open "+id+"/"+name, err)
	}
	return obj, nil
}

// List implements Store.
func (s *S3Store) List(ctx context.Context) (committed, leftovers []string, err error) {
	seen := map[string]bool{}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.setPrefix(), Recursive: true}) {
		if obj.Err != nil {
			return nil, nil, s.wrap("list", obj.Err)
		}
		rest := strings.TrimPrefix(obj.Key, s.setPrefix())
		id, name, ok := strings.Cut(rest, "/")
		if !ok || !ValidID(id) {
			continue
		}
		if name == ManifestName {
			seen[id] = true
		} else if _, known := seen[id]; !known {
			seen[id] = false
		}
	}
	for id, ok := range seen {
		if ok {
			committed = append(committed, id)
		} else {
			leftovers = append(leftovers, id)
		}
	}
	sort.Strings(committed)
	sort.Strings(leftovers)
	return committed, leftovers, nil
}

// Delete implements Store: the manifest first, then every other object.
func (s *S3Store) Delete(ctx context.Context, id string) error {
	if err := checkName(id, ""); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.key(id, ManifestName), minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(s.wrap("", err), ErrNotFound) {
		return s.wrap("delete "+id, err)
	}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.key(id, ""), Recursive: true}) {
		if obj.Err != nil {
			return s.wrap("delete "+id, obj.Err)
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return s.wrap("delete "+obj.Key, err)
		}
	}
	return nil
}

// PutMeta implements Store.
func (s *S3Store) PutMeta(ctx context.Context, id, name string, data []byte) error {
	if err := checkName(id, name); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.key(id, name), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableContentSha256: true})
	return s.wrap("write "+id+"/"+name, err)
}

// GetMeta implements Store.
func (s *S3Store) GetMeta(ctx context.Context, id, name string) ([]byte, error) {
	rc, err := s.Open(ctx, id, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	return b, s.wrap("read "+id+"/"+name, err)
}
