package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"github.com/klauspost/compress/zstd"
)

// ErrChecksum is returned when a stored file's bytes do not match the
// SHA-256 or size the manifest recorded.
var ErrChecksum = errors.New("checksum mismatch")

// Codec turns content into stored bytes: zstd at a level, then age to the
// recipients (none: no encryption).
type Codec struct {
	Level      int
	Recipients []age.Recipient
}

// Encrypted reports whether files are encrypted.
func (c Codec) Encrypted() bool { return len(c.Recipients) > 0 }

// ParseRecipients reads age recipients from config values and a file
// ("age1..." keys and "ssh-..." public keys, '#' comments).
func ParseRecipients(keys []string, file string) ([]age.Recipient, error) {
	lines := append([]string(nil), keys...)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read backup.encryption.recipients_file: %w", err)
		}
		lines = append(lines, strings.Split(string(b), "\n")...)
	}
	var out []age.Recipient
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		var r age.Recipient
		var err error
		if strings.HasPrefix(l, "ssh-") {
			r, err = agessh.ParseRecipient(l)
		} else {
			r, err = age.ParseX25519Recipient(l)
		}
		if err != nil {
			return nil, fmt.Errorf("bad age recipient %.12q…: %w — give the public key that age-keygen prints", l, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ParseIdentities reads age identities (private keys) from a file.
func ParseIdentities(file string) ([]age.Identity, error) {
	if file == "" {
		return nil, errors.New("the set is encrypted and no identity is configured — set backup.encryption.identity_file to the age private key")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read backup.encryption.identity_file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w — it must hold AGE-SECRET-KEY-1… lines", file, err)
	}
	return ids, nil
}

// counter counts and hashes the bytes written through it.
type counter struct {
	w    io.Writer
	h    hash.Hash
	n    atomic.Int64
	tick func(int64)
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	total := c.n.Add(int64(n))
	if c.tick != nil {
		c.tick(total)
	}
	return n, err
}

// Writer is a file being written through the codec: Write takes the
// content; Close finishes compression, encryption and the upload and
// returns the File for the manifest.
//
// The content is compressed in a goroutine of its own, fed through a
// handoff of 1 MiB buffers: the caller (pg_dump's output, the RDB stream)
// goes on while the previous megabyte is compressed, as in `producer |
// zstd`. The encoder itself is synchronous (concurrency 1): its
// asynchronous mode starts two goroutines per 128 KiB block, which cost
// as much CPU as the compression on very compressible data.
type Writer struct {
	name, format string
	fw           FileWriter
	stored       *counter
	out          *bufio.Writer  // batches compressed blocks into the store
	enc          io.WriteCloser // age, or nil
	zw           *zstd.Encoder
	in           *handoff
	done         chan error // the compressor's end
	raw          int64
	tick         func(int64)
	codec        Codec
	closed       bool
}

// Compressor buffers: writeBufSize bytes each, at most writeBufs of them
// per file being written.
const (
	writeBufSize = 1 << 20
	writeBufs    = 4
)

// NewWriter starts file name of set id in store. rawTick, when set, is
// called with the content bytes written so far (for progress).
func (c Codec) NewWriter(ctx context.Context, store Store, id, name, format string, rawTick func(int64)) (*Writer, error) {
	fw, err := store.Create(ctx, id, name)
	if err != nil {
		return nil, err
	}
	w := &Writer{name: name, format: format, fw: fw, codec: c, tick: rawTick}
	w.out = bufio.NewWriterSize(fw, 256<<10)
	w.stored = &counter{w: w.out, h: sha256.New()}
	var dst io.Writer = w.stored
	if c.Encrypted() {
		enc, err := age.Encrypt(w.stored, c.Recipients...)
		if err != nil {
			fw.Abort(err)
			return nil, fmt.Errorf("start encryption: %w", err)
		}
		w.enc = enc
		dst = enc
	}
	zw, err := zstd.NewWriter(dst,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(c.Level)),
		zstd.WithEncoderConcurrency(1))
	if err != nil {
		fw.Abort(err)
		return nil, fmt.Errorf("start compression: %w", err)
	}
	w.zw = zw
	w.in = newHandoff(writeBufSize, writeBufs)
	w.done = make(chan error, 1)
	go w.compress()
	return w, nil
}

// compress runs in its own goroutine: it compresses every buffer handed
// over, then finishes the stream (zstd's last block, age's last chunk,
// the buffered output) unless the writer aborted.
func (w *Writer) compress() {
	var err error
	for {
		b, ok, werr := w.in.Next()
		if !ok {
			if werr != nil {
				w.done <- werr
				return
			}
			break
		}
		if err == nil {
			if _, err = w.zw.Write(b); err != nil {
				w.in.Fail(err)
			}
		}
		w.in.Release(b)
	}
	if err == nil {
		err = w.zw.Close()
	}
	if w.enc != nil && err == nil {
		err = w.enc.Close()
	}
	if err == nil {
		err = w.out.Flush()
	}
	w.done <- err
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.in.Write(p)
	w.raw += int64(n)
	if w.tick != nil {
		w.tick(w.raw)
	}
	return n, err
}

// Close finishes the file and returns its manifest entry.
func (w *Writer) Close() (File, error) {
	if w.closed {
		return File{}, errors.New("backup file closed twice")
	}
	w.closed = true
	w.in.CloseWrite(nil)
	if err := <-w.done; err != nil {
		w.fw.Abort(err)
		return File{}, fmt.Errorf("write %s: %w", w.name, err)
	}
	if err := w.fw.Close(); err != nil {
		return File{}, fmt.Errorf("store %s: %w", w.name, err)
	}
	f := File{
		Name: w.name, Format: w.format,
		Size: w.stored.n.Load(), SHA256: hex.EncodeToString(w.stored.h.Sum(nil)),
		RawSize: w.raw, Compression: "zstd",
	}
	if w.codec.Encrypted() {
		f.Encryption = "age"
	}
	return f, nil
}

// Abort discards the file.
func (w *Writer) Abort(err error) {
	if w.closed {
		return
	}
	w.closed = true
	if err == nil {
		err = errors.New("aborted")
	}
	w.in.CloseWrite(err)
	<-w.done
	w.fw.Abort(err)
}

// hashReader hashes and counts what is read through it. The zstd decoder
// reads from its own goroutine while progress asks for the count.
type hashReader struct {
	mu   sync.Mutex
	r    io.Reader
	h    hash.Hash
	n    atomic.Int64
	tick func(int64)
}

func (h *hashReader) Read(p []byte) (int, error) {
	h.mu.Lock()
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	total := h.n.Add(int64(n))
	h.mu.Unlock()
	if h.tick != nil && n > 0 {
		h.tick(total)
	}
	return n, err
}

// check reads whatever is left and compares size and hash with f.
func (h *hashReader) check(f File) error {
	if _, err := io.Copy(io.Discard, h); err != nil {
		return fmt.Errorf("read %s: %w", f.Name, err)
	}
	h.mu.Lock()
	sum := h.h.Sum(nil)
	h.mu.Unlock()
	if n := h.n.Load(); n != f.Size {
		return fmt.Errorf("%s: %w: %d bytes stored, the manifest says %d (truncated or appended)", f.Name, ErrChecksum, n, f.Size)
	}
	if got := hex.EncodeToString(sum); got != f.SHA256 {
		// Whole hashes: two that differ only at their end must read apart.
		return fmt.Errorf("%s: %w: sha256 %s, the manifest says %s (the file was changed or damaged)", f.Name, ErrChecksum, got, f.SHA256)
	}
	return nil
}

// HashFile re-reads a stored file and checks its size and SHA-256 against
// the manifest without decrypting it. tick reports bytes read.
func HashFile(ctx context.Context, store Store, id string, f File, tick func(int64)) error {
	rc, err := store.Open(ctx, id, f.Name)
	if err != nil {
		return err
	}
	defer rc.Close()
	hr := &hashReader{r: ctxReader{ctx, rc}, h: sha256.New(), tick: tick}
	return hr.check(f)
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// FileReader streams a file's content back: decrypted, decompressed, and
// checked against the manifest when the content has been read to its end.
type FileReader struct {
	f      File
	rc     io.ReadCloser
	hr     *hashReader
	zr     *zstd.Decoder
	done   bool
	err    error
	closed bool
}

// OpenFile opens file f of set id for reading its content. identities
// decrypt it when it is encrypted. Read returns an error wrapping
// ErrChecksum at the end if the stored bytes do not match the manifest;
// a reader closed before the end is not checked.
func OpenFile(ctx context.Context, store Store, id string, f File, identities []age.Identity) (*FileReader, error) {
	rc, err := store.Open(ctx, id, f.Name)
	if err != nil {
		return nil, err
	}
	hr := &hashReader{r: ctxReader{ctx, bufio.NewReaderSize(rc, 1<<20)}, h: sha256.New()}
	var src io.Reader = hr
	if f.Encryption == "age" {
		if len(identities) == 0 {
			rc.Close()
			return nil, fmt.Errorf("%s is encrypted: set backup.encryption.identity_file to the age private key to read it", f.Name)
		}
		dec, err := age.Decrypt(hr, identities...)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("decrypt %s: %w — is backup.encryption.identity_file the key the set was encrypted to?", f.Name, err)
		}
		src = dec
	} else if f.Encryption != "" {
		rc.Close()
		return nil, fmt.Errorf("%s: unknown encryption %q", f.Name, f.Encryption)
	}
	if f.Compression != "zstd" {
		rc.Close()
		return nil, fmt.Errorf("%s: unknown compression %q", f.Name, f.Compression)
	}
	zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxWindow(1<<30))
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("decompress %s: %w", f.Name, err)
	}
	return &FileReader{f: f, rc: rc, hr: hr, zr: zr}, nil
}

// Read implements io.Reader.
func (r *FileReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.zr.Read(p)
	if err == io.EOF && !r.done {
		r.done = true
		if cerr := r.hr.check(r.f); cerr != nil {
			r.err = cerr
			return n, cerr
		}
	} else if err != nil && err != io.EOF {
		// A damaged file fails to decompress before its hash can be
		// compared: say which it is when the bytes are not what we stored.
		r.err = fmt.Errorf("read %s: %w", r.f.Name, err)
		if cerr := r.hr.check(r.f); cerr != nil {
			r.err = cerr
		}
		return n, r.err
	}
	return n, err
}

// Verified returns nil once the file was read to its end and its stored
// bytes matched the manifest's size and sha256; the read's error, or that
// it was not read to its end, otherwise.
func (r *FileReader) Verified() error {
	switch {
	case r.err != nil:
		return r.err
	case !r.done:
		return fmt.Errorf("%s was not read to its end: its checksum was not checked", r.f.Name)
	}
	return nil
}

// StoredBytes is how many stored bytes were read so far.
func (r *FileReader) StoredBytes() int64 { return r.hr.n.Load() }

// Close releases the file.
func (r *FileReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.zr.Close()
	return r.rc.Close()
}
