package backup

import (
	"context"
	"errors"
	"io"

	"github.com/opsdeck/opsdeck/ops/config"
)

// ErrNotFound is returned for a set or file the store does not hold.
var ErrNotFound = errors.New("not found")

// Store holds backup sets. Files of a set being written are staged and
// become visible only when Commit writes the manifest, last.
type Store interface {
	// String names the store for messages: "local /var/backups/opsdeck",
	// "s3 bucket/prefix at host".
	String() string
	// Create starts writing a file of set id.
	Create(ctx context.Context, id, name string) (FileWriter, error)
	// Commit writes the manifest of set id, making the set visible.
	Commit(ctx context.Context, id string, manifest []byte) error
	// Abandon removes whatever was staged for set id.
	Abandon(ctx context.Context, id string) error
	// Open reads a file of a committed set.
	Open(ctx context.Context, id, name string) (io.ReadCloser, error)
	// List returns the IDs of committed sets and of leftovers (sets whose
	// manifest was never committed), both sorted.
	List(ctx context.Context) (committed, leftovers []string, err error)
	// Delete removes a set, committed or not: its manifest first.
	Delete(ctx context.Context, id string) error
	// PutMeta and GetMeta keep small side files of a committed set (its
	// verify state) that are not part of the manifest.
	PutMeta(ctx context.Context, id, name string, data []byte) error
	GetMeta(ctx context.Context, id, name string) ([]byte, error)
	// LockPath is the local file of the store lock (lock.go: readers and
	// backups hold it shared, prune and restores exclusive); the backup
	// lock is beside it (BackupLockPath), the holders' records in
	// LockPath()+".d".
	LockPath() string

	// Objects are files kept outside the sets, by key (store_objects.go):
	// the WAL archive. PutObject makes one complete and durable, or
	// nothing; ListObjects returns those under a prefix, sorted by key;
	// deleting a missing one is not an error.
	PutObject(ctx context.Context, key string, data []byte) error
	OpenObject(ctx context.Context, key string) (io.ReadCloser, error)
	ListObjects(ctx context.Context, prefix string) ([]Object, error)
	DeleteObject(ctx context.Context, key string) error
}

// Prover is a store that reads every file back while it is written
// (LocalStore). Proved reports whether file f of the committed set id is
// the very file that was read back whole after its last write, with f's
// size and SHA-256. A backup takes that for its read-back; false means
// the file is re-read from the store as any other.
type Prover interface {
	Proved(id string, f File) bool
}

// FileWriter is a file being written. Close completes it; Abort discards it.
type FileWriter interface {
	io.WriteCloser
	Abort(err error)
}

// OpenStore returns the store the configuration names: S3 when a bucket is
// set, else the local directory; traced (see TraceStore).
func OpenStore(cfg *config.Config) (Store, error) {
	var st Store
	var err error
	if cfg.Backup.S3.Bucket != "" {
		st, err = NewS3Store(cfg.Backup.S3, cfg.StateDir, cfg.Timeouts.Connect)
	} else {
		st, err = NewLocalStore(cfg.Backup.Dir)
	}
	if err != nil {
		return nil, err
	}
	return TraceStore(st), nil
}
