package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Whole small files (a WAL segment, a chunk of one, a timeline history)
// are sealed in memory: compressed with zstd, then encrypted with age when
// the codec has recipients. The key names which (".zst", ".zst.age").

// maxSealed bounds what Unseal decompresses: the largest WAL segment.
const maxSealed = 1 << 30

var (
	encoders   sync.Map // level → *zstd.Encoder (EncodeAll is safe for concurrent use)
	decoderOne = sync.OnceValues(func() (*zstd.Decoder, error) {
		return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxSealed), zstd.WithDecoderMaxWindow(1<<30))
	})
)

func encoderFor(level int) (*zstd.Encoder, error) {
	if e, ok := encoders.Load(level); ok {
		return e.(*zstd.Encoder), nil
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("start compression: %w", err)
	}
	actual, _ := encoders.LoadOrStore(level, e)
	return actual.(*zstd.Encoder), nil
}

// SealExt is the extension a sealed file's key ends with.
func (c Codec) SealExt() string {
	if c.Encrypted() {
		return ".zst.age"
	}
	return ".zst"
}

// Seal compresses data, and encrypts it when the codec has recipients.
func (c Codec) Seal(data []byte) ([]byte, error) {
	packed, err := c.Pack(data)
	if err != nil {
		return nil, err
	}
	return c.SealPacked(packed)
}

// Pack compresses data into one zstd frame. Frames concatenated decode to
// their contents concatenated, so a WAL segment can be stored from its
// chunks' frames without compressing its bytes again.
func (c Codec) Pack(data []byte) ([]byte, error) {
	enc, err := encoderFor(c.Level)
	if err != nil {
		return nil, err
	}
	return enc.EncodeAll(data, make([]byte, 0, len(data)/3+1024)), nil
}

// SealPacked finishes what Pack made: it encrypts it when the codec has
// recipients.
func (c Codec) SealPacked(packed []byte) ([]byte, error) {
	if !c.Encrypted() {
		return packed, nil
	}
	var out bytes.Buffer
	out.Grow(len(packed) + 512)
	w, err := age.Encrypt(&out, c.Recipients...)
	if err != nil {
		return nil, fmt.Errorf("start encryption: %w", err)
	}
	if _, err := w.Write(packed); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return out.Bytes(), nil
}

// ErrNoIdentity is returned by Unseal for an encrypted file when no age
// identity was given.
var ErrNoIdentity = errors.New("the file is encrypted: set backup.encryption.identity_file to the age private key to read it")

// Unseal reverses Seal: encrypted says whether stored is age-encrypted
// (its key ends in ".age").
func Unseal(stored []byte, encrypted bool, ids []age.Identity) ([]byte, error) {
	packed := stored
	if encrypted {
		if len(ids) == 0 {
			return nil, ErrNoIdentity
		}
		r, err := age.Decrypt(bytes.NewReader(stored), ids...)
		if err != nil {
			return nil, fmt.Errorf("decrypt: %w — is backup.encryption.identity_file the key it was encrypted to?", err)
		}
		if packed, err = io.ReadAll(io.LimitReader(r, maxSealed+1)); err != nil {
			return nil, fmt.Errorf("decrypt: %w", err)
		}
	}
	dec, err := decoderOne()
	if err != nil {
		return nil, fmt.Errorf("start decompression: %w", err)
	}
	out, err := dec.DecodeAll(packed, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return out, nil
}
