package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/opsdeck/opsdeck/ops/fingerprint"
)

// ArchiveCounts reads a pg_dump custom-format archive written without
// compression (pg_dump -Fc -Z0, as opsdeck takes it) and counts the rows of
// every table's data: the COPY text of a row ends with the only raw newline
// it holds. The counts are what the dump contains — what a restore of it
// will show — without scanning the tables a second time.
type ArchiveCounts struct {
	Version  string // archive format version, e.g. "1.14"
	Database string
	Tables   []TableCount
}

// archive block types.
const (
	blkData  = 1
	blkBlobs = 3
)

type archReader struct {
	r       *bufio.Reader
	intSize int
	offSize int
	vmaj    int
	vmin    int
	// copy, when set, receives every byte read (CoalesceArchive).
	copy *bufio.Writer
	// offsetsSet is true when a TOC entry records its data's offset.
	offsetsSet bool
	// tail holds the last bytes of chunks' data, allocated once per
	// archive: a data block may take a few bytes.
	tail []byte
}

func (a *archReader) byte() (int, error) {
	b, err := a.r.ReadByte()
	if err == nil && a.copy != nil {
		a.copy.WriteByte(b)
	}
	return int(b), noEOF(err)
}

// full reads len(b) bytes, copying them when copying.
func (a *archReader) full(b []byte) error {
	if _, err := io.ReadFull(a.r, b); err != nil {
		return noEOF(err)
	}
	if a.copy != nil {
		a.copy.Write(b)
	}
	return nil
}

// int reads pg_dump's ReadInt: a sign byte, then intSize little-endian bytes.
func (a *archReader) int() (int64, error) {
	if a.copy == nil {
		// In the reader's buffer, without a call per byte (the counter
		// reads two of these per row).
		if p, err := a.r.Peek(1 + a.intSize); err == nil {
			var v int64
			for i, b := range p[1:min(len(p), 9)] {
				v |= int64(b) << (8 * i)
			}
			if p[0] != 0 {
				v = -v
			}
			a.r.Discard(len(p))
			return v, nil
		}
	}
	sign, err := a.byte()
	if err != nil {
		return 0, err
	}
	var v int64
	for i := 0; i < a.intSize; i++ {
		b, err := a.byte()
		if err != nil {
			return 0, err
		}
		if i < 8 {
			v |= int64(b) << (8 * i)
		}
	}
	if sign != 0 {
		v = -v
	}
	return v, nil
}

// str reads pg_dump's ReadStr; a negative length is NULL (ok false).
func (a *archReader) str() (string, bool, error) {
	n, err := a.int()
	if err != nil {
		return "", false, err
	}
	if n < 0 {
		return "", false, nil
	}
	if n > 1<<30 {
		return "", false, fmt.Errorf("string of %d bytes", n)
	}
	// The length is not trusted to size the buffer: it grows with the
	// bytes actually read.
	var b []byte
	for left := int(n); left > 0; {
		m := min(left, 64<<10)
		b = slices.Grow(b, m)
		if err := a.full(b[len(b) : len(b)+m]); err != nil {
			return "", false, err
		}
		b, left = b[:len(b)+m], left-m
	}
	return string(b), true, nil
}

func (a *archReader) atLeast(maj, min int) bool {
	return a.vmaj > maj || (a.vmaj == maj && a.vmin >= min)
}

// archBuffer is the size of the archive readers' buffers (and of
// CoalesceArchive's output buffer).
const archBuffer = 256 << 10

// CountArchive parses a -Z0 custom-format archive from r to its end.
func CountArchive(r io.Reader) (ArchiveCounts, error) {
	a := &archReader{r: bufio.NewReaderSize(r, archBuffer)}
	out, tables, err := a.header()
	if err != nil {
		return out, err
	}
	fps := make([]fingerprint.Table, len(out.Tables))
	for {
		typ, err := a.r.ReadByte()
		if err == io.EOF {
			for i := range out.Tables {
				out.Tables[i].Fingerprint = fps[i].Sum()
			}
			return out, nil
		}
		if err != nil {
			return out, err
		}
		id, err := a.int()
		if err != nil {
			return out, err
		}
		switch typ {
		case blkData:
			var fp *fingerprint.Table
			i, ok := tables[id]
			if ok {
				fp = &fps[i]
			}
			rows, err := a.chunks(fp)
			if err != nil {
				return out, fmt.Errorf("data of entry %d: %w", id, err)
			}
			if ok {
				out.Tables[i].Rows += rows
			}
		case blkBlobs:
			for {
				oid, err := a.int()
				if err != nil {
					return out, err
				}
				if oid == 0 {
					break
				}
				if _, err := a.chunks(nil); err != nil {
					return out, err
				}
			}
		default:
			return out, fmt.Errorf("unknown block type %d", typ)
		}
	}
}

// header reads the archive's header and table of contents; tables maps
// the dump IDs of TABLE DATA entries to their index in the counts.
func (a *archReader) header() (out ArchiveCounts, tables map[int64]int, err error) {
	magic := make([]byte, 5)
	if err := a.full(magic); err != nil || string(magic) != "PGDMP" {
		return out, nil, errors.New("not a pg_dump custom-format archive")
	}
	h := make([]byte, 6)
	if err := a.full(h); err != nil {
		return out, nil, fmt.Errorf("archive header: %w", err)
	}
	a.vmaj, a.vmin = int(h[0]), int(h[1])
	a.intSize, a.offSize = int(h[3]), int(h[4])
	out.Version = fmt.Sprintf("%d.%d", a.vmaj, a.vmin)
	if !a.atLeast(1, 12) || a.intSize < 1 || a.intSize > 8 || a.offSize < 1 || a.offSize > 8 || h[5] != 1 {
		return out, nil, fmt.Errorf("%w: archive version %s (int %d, offset %d, format %d) is not one opsdeck reads", errArchiveUnsupported, out.Version, a.intSize, a.offSize, h[5])
	}
	if a.atLeast(1, 15) {
		algo, err := a.byte()
		if err != nil {
			return out, nil, err
		}
		if algo != 0 {
			return out, nil, fmt.Errorf("%w: archive is compressed (algorithm %d): take it with --compress=0", errArchiveUnsupported, algo)
		}
	} else {
		level, err := a.int()
		if err != nil {
			return out, nil, err
		}
		if level != 0 {
			return out, nil, fmt.Errorf("%w: archive is compressed (level %d): take it with --compress=0", errArchiveUnsupported, level)
		}
	}
	for range 7 { // creation time
		if _, err := a.int(); err != nil {
			return out, nil, err
		}
	}
	if out.Database, _, err = a.str(); err != nil {
		return out, nil, err
	}
	for range 2 { // server and pg_dump versions
		if _, _, err := a.str(); err != nil {
			return out, nil, err
		}
	}
	n, err := a.int()
	if err != nil {
		return out, nil, err
	}
	tables = map[int64]int{} // dumpId → index in out.Tables
	for i := int64(0); i < n; i++ {
		id, ns, tag, desc, err := a.tocEntry()
		if err != nil {
			return out, nil, fmt.Errorf("table of contents entry %d: %w", i, err)
		}
		if desc == "TABLE DATA" {
			tables[id] = len(out.Tables)
			out.Tables = append(out.Tables, TableCount{Schema: ns, Name: tag})
		}
	}
	return out, tables, nil
}

// tocEntry reads one TOC entry (pg_backup_archiver.c ReadToc, custom
// format's extra offset) and returns what the counts need.
func (a *archReader) tocEntry() (id int64, ns, tag, desc string, err error) {
	if id, err = a.int(); err != nil {
		return
	}
	if _, err = a.int(); err != nil { // hadDumper
		return
	}
	for range 2 { // tableoid, oid
		if _, _, err = a.str(); err != nil {
			return
		}
	}
	if tag, _, err = a.str(); err != nil {
		return
	}
	if desc, _, err = a.str(); err != nil {
		return
	}
	if _, err = a.int(); err != nil { // section
		return
	}
	for range 3 { // defn, dropStmt, copyStmt
		if _, _, err = a.str(); err != nil {
			return
		}
	}
	if ns, _, err = a.str(); err != nil {
		return
	}
	if _, _, err = a.str(); err != nil { // tablespace
		return
	}
	if a.atLeast(1, 14) {
		if _, _, err = a.str(); err != nil { // table access method
			return
		}
	}
	if a.atLeast(1, 16) {
		if _, err = a.int(); err != nil { // relkind
			return
		}
	}
	for range 2 { // owner, "false" (with oids)
		if _, _, err = a.str(); err != nil {
			return
		}
	}
	for { // dependencies, NULL-terminated
		var ok bool
		if _, ok, err = a.str(); err != nil || !ok {
			break
		}
	}
	if err != nil {
		return
	}
	// Custom format: the data state byte and offset.
	state := make([]byte, 1+a.offSize)
	if err = a.full(state); err != nil {
		return
	}
	if state[0] == offsetPosSet {
		a.offsetsSet = true
	}
	return
}

// offsetPosSet is K_OFFSET_POS_SET: the entry's data offset is recorded
// (an archive written to a file pg_dump could seek in).
const offsetPosSet = 2

// copyEnd is the end-of-data marker pg_dump writes after a table's rows.
var copyEnd = []byte("\\.\n\n\n")

// chunks reads length-prefixed chunks up to a zero length and counts the
// newlines in them, less the three of the end-of-data marker; fp, when
// not nil, takes the rows' COPY text (the table's fingerprint). pg_dump
// writes one chunk per row, so this runs millions of times a dump: the
// chunks are counted in the reader's buffer (Peek, Discard) rather than
// copied out of it, and the last bytes are kept in a small buffer of
// their own.
func (a *archReader) chunks(fp *fingerprint.Table) (int64, error) {
	var rows int64
	if a.tail == nil {
		a.tail = make([]byte, len(copyEnd))
	}
	tail := a.tail // the data's last bytes, right-aligned
	tailLen := 0
	for {
		n, err := a.int()
		if err != nil {
			return rows, err
		}
		if n == 0 {
			if tailLen == len(tail) && bytes.Equal(tail, copyEnd) {
				rows -= int64(bytes.Count(copyEnd, []byte{'\n'}))
				if fp != nil {
					fp.Remove([]byte(`\.`))
					fp.Remove(nil)
					fp.Remove(nil)
				}
			}
			return rows, nil
		}
		if n < 0 || n > 1<<30 {
			return rows, fmt.Errorf("bad chunk length %d", n)
		}
		for n > 0 {
			want := int(min(n, int64(a.r.Size())))
			p, err := a.r.Peek(want)
			if len(p) < want {
				return rows, noEOF(err)
			}
			rows += int64(bytes.Count(p, []byte{'\n'}))
			if fp != nil {
				fp.Write(p)
			}
			if len(p) >= len(tail) {
				copy(tail, p[len(p)-len(tail):])
				tailLen = len(tail)
			} else {
				copy(tail, tail[len(p):])
				copy(tail[len(tail)-len(p):], p)
				tailLen = min(tailLen+len(p), len(tail))
			}
			a.r.Discard(len(p))
			n -= int64(len(p))
		}
	}
}

// errArchiveUnsupported marks an archive opsdeck does not parse (another
// format version, compressed) but that may be perfectly good.
var errArchiveUnsupported = errors.New("unsupported archive")

// CoalesceArchive copies a -Z0 custom-format archive from src to dst,
// merging each table's data chunks into chunks of up to size bytes.
// pg_dump writes one chunk per row and pg_restore sends one message per
// chunk, so a restore of the merged archive costs far less CPU; the bytes
// pg_restore feeds to COPY are the same. Anything it does not rewrite —
// another format version, a compressed archive, one that records data
// offsets, large objects — is copied as it is.
func CoalesceArchive(dst io.Writer, src io.Reader, size int) (int64, error) {
	cw := &countWriter{w: dst}
	w := bufio.NewWriterSize(cw, archBuffer)
	a := &archReader{r: bufio.NewReaderSize(src, archBuffer), copy: w}
	verbatim := func() (int64, error) {
		if _, err := io.Copy(w, a.r); err != nil {
			return cw.n, err
		}
		err := w.Flush()
		return cw.n, err
	}
	if _, _, err := a.header(); err != nil {
		if errors.Is(err, errArchiveUnsupported) {
			return verbatim()
		}
		return cw.n, err
	}
	if a.offsetsSet {
		return verbatim()
	}
	buf := make([]byte, 0, size)
	for {
		typ, err := a.r.ReadByte()
		if err == io.EOF {
			err := w.Flush()
			return cw.n, err
		}
		if err != nil {
			return cw.n, err
		}
		w.WriteByte(typ)
		if _, err := a.int(); err != nil { // dump ID, copied
			return cw.n, err
		}
		if typ != blkData {
			// Large objects and the rest are passed on untouched.
			return verbatim()
		}
		if err := a.mergeChunks(w, buf); err != nil {
			return cw.n, err
		}
	}
}

// mergeChunks reads one data block's chunks (up to the zero length) and
// writes them to w as chunks of up to cap(buf) bytes.
func (a *archReader) mergeChunks(w *bufio.Writer, buf []byte) error {
	copying := a.copy
	a.copy = nil // lengths are rewritten, not copied
	defer func() { a.copy = copying }()
	flush := func() {
		if len(buf) > 0 {
			a.writeInt(w, int64(len(buf)))
			w.Write(buf)
			buf = buf[:0]
		}
	}
	for {
		n, err := a.int()
		if err != nil {
			return err
		}
		if n == 0 {
			flush()
			a.writeInt(w, 0)
			return nil
		}
		if n < 0 || n > 1<<30 {
			return fmt.Errorf("bad chunk length %d", n)
		}
		for n > 0 {
			if len(buf) == cap(buf) {
				flush()
			}
			m := min(n, int64(cap(buf)-len(buf)))
			start := len(buf)
			buf = buf[:start+int(m)]
			if _, err := io.ReadFull(a.r, buf[start:]); err != nil {
				return noEOF(err)
			}
			n -= m
		}
	}
}

// writeInt writes pg_dump's WriteInt: a sign byte, then intSize
// little-endian bytes.
func (a *archReader) writeInt(w *bufio.Writer, v int64) {
	sign := byte(0)
	if v < 0 {
		sign, v = 1, -v
	}
	w.WriteByte(sign)
	for i := 0; i < a.intSize; i++ {
		w.WriteByte(byte(v >> (8 * i)))
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
