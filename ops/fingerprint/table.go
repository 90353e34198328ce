package fingerprint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
)

// Table accumulates the fingerprint of one table's rows. Its zero value
// is the fingerprint of no rows. Write takes the COPY text stream in any
// pieces; Add and Remove take one row's line.
type Table struct {
	hi, lo uint64
	rows   int64
	// partial is a row's line whose newline has not come yet.
	partial []byte
}

// rowSum is the 128-bit value one line adds.
func rowSum(line []byte) (hi, lo uint64) {
	h := sha256.Sum256(line)
	return binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:16])
}

// Add adds one row (its COPY text line without the newline).
func (t *Table) Add(line []byte) {
	hi, lo := rowSum(line)
	var c uint64
	t.lo, c = bits.Add64(t.lo, lo, 0)
	t.hi, _ = bits.Add64(t.hi, hi, c)
	t.rows++
}

// Remove takes one row added before back out (a trailer that is not a
// row, such as pg_dump's end-of-data marker).
func (t *Table) Remove(line []byte) {
	hi, lo := rowSum(line)
	var b uint64
	t.lo, b = bits.Sub64(t.lo, lo, 0)
	t.hi, _ = bits.Sub64(t.hi, hi, b)
	t.rows--
}

// Write adds every complete line of p and keeps an unfinished one for
// the next call. It never fails.
func (t *Table) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := indexNL(p)
		if i < 0 {
			t.partial = append(t.partial, p...)
			break
		}
		if len(t.partial) > 0 {
			t.partial = append(t.partial, p[:i]...)
			t.Add(t.partial)
			t.partial = t.partial[:0]
		} else {
			t.Add(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

func indexNL(p []byte) int {
	for i, b := range p {
		if b == '\n' {
			return i
		}
	}
	return -1
}

// Close reports a stream that ended inside a row (no final newline).
func (t *Table) Close() error {
	if len(t.partial) > 0 {
		return errors.New("the COPY stream ended inside a row")
	}
	return nil
}

// Rows is the number of rows added.
func (t *Table) Rows() int64 { return t.rows }

// Sum is the 128-bit sum as 32 lower-case hex digits.
func (t *Table) Sum() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], t.hi)
	binary.BigEndian.PutUint64(b[8:], t.lo)
	return hex.EncodeToString(b[:])
}

// Merge adds the rows of o (a part of the same table read apart).
func (t *Table) Merge(o *Table) {
	var c uint64
	t.lo, c = bits.Add64(t.lo, o.lo, 0)
	t.hi, _ = bits.Add64(t.hi, o.hi, c)
	t.rows += o.rows
}

// Digest is a table's fingerprint as recorded: rows and sum.
type Digest struct {
	Rows int64  `json:"rows"`
	Sum  string `json:"sum"`
}

// Digest returns the table's fingerprint.
func (t *Table) Digest() Digest { return Digest{Rows: t.rows, Sum: t.Sum()} }

// String is "N rows, sum S".
func (d Digest) String() string { return fmt.Sprintf("%d rows, sum %s", d.Rows, d.Sum) }
