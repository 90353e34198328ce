package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// content is n bytes of compressible, non-repeating text.
func content(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(strings.Repeat("x", r.IntN(40)))
		b.WriteString(time.Unix(int64(r.Uint32()), 0).UTC().String())
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

// writeInPieces writes p to w in pieces of random sizes up to max.
func writeInPieces(t *testing.T, w io.Writer, p []byte, max int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	for len(p) > 0 {
		n := min(len(p), 1+r.IntN(max))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
}

func TestHandoffCarriesTheStream(t *testing.T) {
	for _, size := range []int{0, 1, 4096, 1 << 16, 1<<16 + 1, 5<<16 + 77} {
		want := content(size, uint64(size))
		h := newHandoff(1<<16, 3)
		got := make(chan []byte)
		go func() {
			var b bytes.Buffer
			buf := make([]byte, 999)
			for {
				n, err := h.Read(buf)
				b.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Error(err)
					break
				}
			}
			got <- b.Bytes()
		}()
		writeInPieces(t, h, want, 70000, 1)
		if err := h.CloseWrite(nil); err != nil {
			t.Fatal(err)
		}
		if g := <-got; !bytes.Equal(g, want) {
			t.Fatalf("%d bytes: read back %d bytes that differ", size, len(g))
		}
	}
}

func TestHandoffWriterError(t *testing.T) {
	h := newHandoff(1024, 2)
	done := make(chan error)
	go func() {
		_, err := io.Copy(io.Discard, h)
		done <- err
	}()
	h.Write(make([]byte, 5000))
	boom := errors.New("pg_dump failed")
	h.CloseWrite(boom)
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("the reader got %v, want the writer's error", err)
	}
}

// A reader that fails makes the writer fail too, and the writer never
// waits on it.
func TestHandoffReaderFails(t *testing.T) {
	h := newHandoff(1024, 2)
	boom := errors.New("disk full")
	go func() {
		b, _, _ := h.Next()
		h.Release(b)
		h.Fail(boom)
		h.Discard()
	}()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = h.Write(make([]byte, 700))
	}
	if !errors.Is(err, boom) {
		t.Fatalf("Write returned %v, want the reader's error", err)
	}
	if err := h.CloseWrite(nil); !errors.Is(err, boom) {
		t.Fatalf("CloseWrite returned %v", err)
	}
}

// Once its buffers exist a handoff allocates nothing per Write.
func TestHandoffWriteAllocatesNothing(t *testing.T) {
	h := newHandoff(1<<16, 4)
	go h.Discard()
	p := make([]byte, 4096)
	for i := 0; i < 100; i++ {
		h.Write(p)
	}
	if n := testing.AllocsPerRun(1000, func() { h.Write(p) }); n != 0 {
		t.Errorf("%.1f allocations per Write", n)
	}
	h.CloseWrite(nil)
}

// Files of every size around the compressor's buffers, plain and
// encrypted, read back as written with their checksum.
func TestWriterRoundTrip(t *testing.T) {
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sizes := []int{0, 1, writeBufSize - 1, writeBufSize, writeBufSize + 1, 3*writeBufSize + 12345, (writeBufs + 2) * writeBufSize}
	data := make([][]byte, len(sizes))
	for i, size := range sizes {
		data[i] = content(size, uint64(i))
	}
	for _, enc := range []bool{false, true} {
		store, err := NewLocalStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		codec := Codec{Level: 3}
		var ids []age.Identity
		if enc {
			codec.Recipients = []age.Recipient{ident.Recipient()}
			ids = []age.Identity{ident}
		}
		id := NewID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		var files []File
		for i, size := range sizes {
			if enc && size > writeBufSize+1 {
				continue // the plain run covers the buffers' reuse
			}
			var ticked int64
			w, err := codec.NewWriter(ctx, store, id, "f"+string(rune('a'+i)), "test", func(n int64) { ticked = n })
			if err != nil {
				t.Fatal(err)
			}
			writeInPieces(t, w, data[i], 100000, uint64(i))
			f, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if f.RawSize != int64(size) || (size > 0 && ticked != int64(size)) {
				t.Errorf("size %d: RawSize %d, last tick %d", size, f.RawSize, ticked)
			}
			files = append(files, f)
		}
		if err := store.Commit(ctx, id, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			if err := HashFile(ctx, store, id, f, nil); err != nil {
				t.Fatal(err)
			}
			fr, err := OpenFile(ctx, store, id, f, ids)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(fr)
			fr.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[i]) {
				t.Fatalf("encrypted %v, size %d: content differs", enc, sizes[i])
			}
		}
	}
}

// failingStore's files fail to store after a few bytes (a full disk).
type failingStore struct {
	Store
	aborted chan error
}

func (s failingStore) Create(context.Context, string, string) (FileWriter, error) {
	return &failingFile{aborted: s.aborted}, nil
}

type failingFile struct {
	n       int
	aborted chan error
}

var errDiskFull = errors.New("no space left on device")

func (f *failingFile) Write(p []byte) (int, error) {
	if f.n += len(p); f.n > 1000 {
		return 0, errDiskFull
	}
	return len(p), nil
}

func (f *failingFile) Close() error    { return nil }
func (f *failingFile) Abort(err error) { f.aborted <- err }

// A store that fails stops the writer: a later Write returns the error
// (so the runner stops pg_dump), and the file is aborted.
func TestWriterStoreFails(t *testing.T) {
	store := failingStore{aborted: make(chan error, 1)}
	w, err := Codec{Level: 3}.NewWriter(context.Background(), store, NewID(time.Now()), "f", "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		_, werr = w.Write(content(1<<20, uint64(i)))
	}
	if !errors.Is(werr, errDiskFull) {
		t.Fatalf("Write returned %v, want the store's error", werr)
	}
	w.Abort(werr)
	if err := <-store.aborted; err == nil {
		t.Fatal("the file was aborted without a cause")
	}
	if _, err := w.Close(); err == nil {
		t.Fatal("Close after Abort succeeded")
	}
}
