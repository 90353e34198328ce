package backup

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// TraceStore returns st with every operation a record of the debug trace
// (class store): the store, the set, the file, the bytes, how long it took
// and how it ended. A file written or read is one record when it is closed
// (its bytes, the time since it was opened). OpenStore traces the stores
// it opens; Unwrap gives the store beneath.
func TraceStore(st Store) Store {
	if _, ok := st.(tracedStore); ok || st == nil {
		return st
	}
	return tracedStore{st}
}

// tracedStore is the Store TraceStore returns.
type tracedStore struct{ Store }

// Unwrap returns the traced store.
func (t tracedStore) Unwrap() Store { return t.Store }

// Proved implements Prover for the store beneath (false when it is not one).
func (t tracedStore) Proved(id string, f File) bool {
	pr, ok := t.Store.(Prover)
	return ok && pr.Proved(id, f)
}

// call logs one store operation op that began at start.
func (t tracedStore) call(ctx context.Context, op string, start time.Time, err error, attrs ...any) {
	logging.Call(ctx, logging.ClassStore, "store "+op, start, err, append([]any{logging.KeyTarget, t.Store.String()}, attrs...)...)
}

func (t tracedStore) Create(ctx context.Context, id, name string) (FileWriter, error) {
	if !logging.Enabled(ctx) {
		return t.Store.Create(ctx, id, name)
	}
	start := time.Now()
	w, err := t.Store.Create(ctx, id, name)
	if err != nil {
		t.call(ctx, "create", start, err, logging.KeySet, id, logging.KeyFile, name)
		return nil, err
	}
	return &tracedWriter{FileWriter: w, done: func(n int64, err error) {
		t.call(ctx, "create", start, err, logging.KeySet, id, logging.KeyFile, name, logging.KeyBytes, n)
	}}, nil
}

func (t tracedStore) Commit(ctx context.Context, id string, manifest []byte) error {
	start := time.Now()
	err := t.Store.Commit(ctx, id, manifest)
	t.call(ctx, "commit", start, err, logging.KeySet, id, logging.KeyBytes, len(manifest))
	return err
}

func (t tracedStore) Abandon(ctx context.Context, id string) error {
	start := time.Now()
	err := t.Store.Abandon(ctx, id)
	t.call(ctx, "abandon", start, err, logging.KeySet, id)
	return err
}

func (t tracedStore) Open(ctx context.Context, id, name string) (io.ReadCloser, error) {
	if !logging.Enabled(ctx) {
		return t.Store.Open(ctx, id, name)
	}
	start := time.Now()
	rc, err := t.Store.Open(ctx, id, name)
	if err != nil {
		t.call(ctx, "open", start, err, logging.KeySet, id, logging.KeyFile, name)
		return nil, err
	}
	return &tracedReader{ReadCloser: rc, done: func(n int64, err error) {
		t.call(ctx, "open", start, err, logging.KeySet, id, logging.KeyFile, name, logging.KeyBytes, n)
	}}, nil
}

func (t tracedStore) List(ctx context.Context) (committed, leftovers []string, err error) {
	start := time.Now()
	committed, leftovers, err = t.Store.List(ctx)
	t.call(ctx, "list", start, err, logging.KeyCount, len(committed), logging.KeyLeftovers, len(leftovers))
	return committed, leftovers, err
}

func (t tracedStore) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := t.Store.Delete(ctx, id)
	t.call(ctx, "delete", start, err, logging.KeySet, id)
	return err
}

func (t tracedStore) PutMeta(ctx context.Context, id, name string, data []byte) error {
	start := time.Now()
	err := t.Store.PutMeta(ctx, id, name, data)
	t.call(ctx, "put-meta", start, err, logging.KeySet, id, logging.KeyFile, name, logging.KeyBytes, len(data))
	return err
}

func (t tracedStore) GetMeta(ctx context.Context, id, name string) ([]byte, error) {
	start := time.Now()
	b, err := t.Store.GetMeta(ctx, id, name)
	t.call(ctx, "get-meta", start, err, logging.KeySet, id, logging.KeyFile, name, logging.KeyBytes, len(b))
	return b, err
}

// tracedWriter counts a file's bytes and reports them once, when the file
// is closed or aborted.
type tracedWriter struct {
	FileWriter
	n    int64
	once sync.Once
	done func(n int64, err error)
}

func (w *tracedWriter) Write(p []byte) (int, error) {
	n, err := w.FileWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *tracedWriter) Close() error {
	err := w.FileWriter.Close()
	w.once.Do(func() { w.done(w.n, err) })
	return err
}

func (w *tracedWriter) Abort(cause error) {
	w.FileWriter.Abort(cause)
	if cause == nil {
		cause = errors.New("aborted")
	}
	w.once.Do(func() { w.done(w.n, cause) })
}

// tracedReader counts a file's bytes read and reports them when closed.
type tracedReader struct {
	io.ReadCloser
	n    int64
	err  error
	once sync.Once
	done func(n int64, err error)
}

func (r *tracedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func (r *tracedReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(func() { r.done(r.n, errors.Join(r.err, err)) })
	return err
}
