package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/opsdeck/opsdeck/ops/safefile"
)

// stagingPrefix names the directory a set is written in before its commit.
const stagingPrefix = ".staging-"

// LocalStore keeps sets in a local directory: DIR/<id>/ once committed,
// DIR/.staging-<id>/ while written. Directories are 0700, files 0600.
type LocalStore struct {
	dir string

	mu     sync.Mutex
	proofs map[string]localProof // "id/name" → its read-back, until Proved
}

// NewLocalStore returns the store in dir, creating it (0700) if needed.
func NewLocalStore(dir string) (*LocalStore, error) {
	if dir == "" {
		return nil, errors.New("backup store: no directory — set backup.dir in the config")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup store %s: %w — check its permissions or set backup.dir", dir, err)
	}
	return &LocalStore{dir: dir}, nil
}

// Dir is the store's directory.
func (s *LocalStore) Dir() string { return s.dir }

func (s *LocalStore) String() string { return "local " + s.dir }

// LockPath implements Store.
func (s *LocalStore) LockPath() string { return filepath.Join(s.dir, ".lock") }

func (s *LocalStore) staging(id string) string { return filepath.Join(s.dir, stagingPrefix+id) }
func (s *LocalStore) final(id string) string   { return filepath.Join(s.dir, id) }

func checkName(id, name string) error {
	if !ValidID(id) {
		return fmt.Errorf("bad backup id %q: want YYYYMMDD_HHMMSS", id)
	}
	if name != "" && (strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".")) {
		return fmt.Errorf("bad file name %q", name)
	}
	return nil
}

// Create implements Store.
func (s *LocalStore) Create(_ context.Context, id, name string) (FileWriter, error) {
	if err := checkName(id, name); err != nil {
		return nil, err
	}
	dir := s.staging(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create backup file: %w — check free space and permissions of %s", err, s.dir)
	}
	return &localFile{f: f, rb: startReadBack(path), store: s, key: id + "/" + name}, nil
}

// localFile is a file being written into a staged set. It is read back
// while it is written (readBack), and its writeback to disk is started
// every writebackStep bytes so that the fsync in Close has little left.
type localFile struct {
	f       *os.File
	done    bool
	written int64
	synced  int64 // writeback started up to here
	rb      *readBack
	store   *LocalStore
	key     string
}

const writebackStep = 8 << 20

func (l *localFile) Write(p []byte) (int, error) {
	n, err := l.f.Write(p)
	l.written += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", l.f.Name(), err)
	}
	if l.written-l.synced >= writebackStep {
		startWriteback(l.f, l.synced, l.written-l.synced)
		l.synced = l.written
	}
	if l.rb != nil {
		l.rb.wrote(l.written)
	}
	return n, nil
}

func (l *localFile) Close() error {
	if l.done {
		return nil
	}
	l.done = true
	if err := l.f.Sync(); err != nil {
		l.f.Close()
		l.abortReadBack()
		return fmt.Errorf("sync %s: %w", l.f.Name(), err)
	}
	if err := l.f.Close(); err != nil {
		l.abortReadBack()
		return err
	}
	if l.rb != nil {
		if p := l.rb.finish(l.written); p.err == nil {
			l.store.mu.Lock()
			if l.store.proofs == nil {
				l.store.proofs = map[string]localProof{}
			}
			l.store.proofs[l.key] = p
			l.store.mu.Unlock()
		}
	}
	return nil
}

func (l *localFile) abortReadBack() {
	if l.rb != nil {
		l.rb.abort()
		l.rb = nil
	}
}

func (l *localFile) Abort(error) {
	if l.done {
		return
	}
	l.done = true
	l.abortReadBack()
	l.f.Close()
	os.Remove(l.f.Name())
}

// Proved implements Prover: file f of the committed set id is the file
// that was read back whole after its last write, and what was read has
// f's size and SHA-256. It answers once per file; false means "re-read
// it" (no read-back, another file, or a file changed since).
func (s *LocalStore) Proved(id string, f File) bool {
	key := id + "/" + f.Name
	s.mu.Lock()
	p, ok := s.proofs[key]
	delete(s.proofs, key)
	s.mu.Unlock()
	if !ok || p.size != f.Size || p.sha256 != f.SHA256 {
		return false
	}
	fi, err := os.Stat(filepath.Join(s.final(id), f.Name))
	if err != nil {
		return false
	}
	now, ok := identityOf(fi)
	return ok && now == p.id
}

// forget drops the read-backs of set id.
func (s *LocalStore) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.proofs {
		if strings.HasPrefix(k, id+"/") {
			delete(s.proofs, k)
		}
	}
}

// Commit implements Store: the manifest is written to a temporary name,
// synced and renamed; then the staging directory is renamed to the set's
// ID and the parent directory synced. Only the last rename makes the set
// visible.
func (s *LocalStore) Commit(_ context.Context, id string, manifest []byte) error {
	if err := checkName(id, ""); err != nil {
		return err
	}
	dir := s.staging(id)
	if err := safefile.Write(filepath.Join(dir, ManifestName), manifest, 0o600); err != nil {
		return err
	}
	if _, err := os.Stat(s.final(id)); err == nil {
		return fmt.Errorf("commit backup %s: a set with this id already exists", id)
	}
	if err := os.Rename(dir, s.final(id)); err != nil {
		return fmt.Errorf("commit backup %s: %w", id, err)
	}
	return safefile.SyncDir(s.dir)
}

// Abandon implements Store.
func (s *LocalStore) Abandon(_ context.Context, id string) error {
	if err := checkName(id, ""); err != nil {
		return err
	}
	s.forget(id)
	return os.RemoveAll(s.staging(id))
}

// Open implements Store.
func (s *LocalStore) Open(_ context.Context, id, name string) (io.ReadCloser, error) {
	if err := checkName(id, name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.final(id), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup %s has no file %s: %w", id, name, ErrNotFound)
	}
	return f, err
}

// List implements Store.
func (s *LocalStore) List(context.Context) (committed, leftovers []string, err error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if id, ok := strings.CutPrefix(name, stagingPrefix); ok && ValidID(id) {
			leftovers = append(leftovers, id)
			continue
		}
		if !ValidID(name) {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.dir, name, ManifestName)); err == nil {
			committed = append(committed, name)
		} else {
			leftovers = append(leftovers, name)
		}
	}
	sort.Strings(committed)
	sort.Strings(leftovers)
	return committed, leftovers, nil
}

// Delete implements Store. The manifest goes first, so a set interrupted
// while being deleted is a leftover, never a damaged backup.
func (s *LocalStore) Delete(_ context.Context, id string) error {
	if err := checkName(id, ""); err != nil {
		return err
	}
	s.forget(id)
	if err := os.Remove(filepath.Join(s.final(id), ManifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete backup %s: %w", id, err)
	}
	if err := os.RemoveAll(s.final(id)); err != nil {
		return fmt.Errorf("delete backup %s: %w", id, err)
	}
	return os.RemoveAll(s.staging(id))
}

// PutMeta implements Store.
func (s *LocalStore) PutMeta(_ context.Context, id, name string, data []byte) error {
	if err := checkName(id, name); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(s.final(id), ManifestName)); err != nil {
		return fmt.Errorf("backup %s: %w", id, ErrNotFound)
	}
	return safefile.Write(filepath.Join(s.final(id), name), data, 0o600)
}

// GetMeta implements Store.
func (s *LocalStore) GetMeta(_ context.Context, id, name string) ([]byte, error) {
	if err := checkName(id, name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.final(id), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup %s: %s: %w", id, name, ErrNotFound)
	}
	return b, err
}
