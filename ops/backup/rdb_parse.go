package backup

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"slices"
	"strconv"
)

// Redis's CRC-64 (Jones polynomial, reflected, init 0, no final xor), as
// stored in the last 8 bytes of an RDB file.
var jonesTable = crc64.MakeTable(0x95AC9329AC4BC9B5)

// crcJones updates a Redis CRC-64 with p.
func crcJones(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, jonesTable, p)
}

// ErrRDB marks an RDB stream that does not parse or whose CRC is wrong.
var ErrRDB = errors.New("bad RDB")

// RDBSummary is what parsing an RDB to its end tells.
type RDBSummary struct {
	Version int
	// Keys and Expires count keys and keys with a TTL per database.
	Keys    map[int]int64
	Expires map[int]int64
	// Aux are the AUX fields (redis-ver, redis-bits, ctime, ...).
	Aux map[string]string
	// ChecksumDisabled is true when the server wrote a zero checksum
	// (rdbchecksum no); the file could then not be checked.
	ChecksumDisabled bool
	Size             int64
	// Digest is the stream's DEBUG DIGEST (SnapshotRDB computes it as the
	// bytes arrive); nil when not computed.
	Digest *RDBDigest
}

// crcTail computes the CRC of everything written except the last 8 bytes
// and keeps those 8 bytes: the checksum at the end of an RDB.
type crcTail struct {
	crc  uint64
	tail [8]byte
	have int
	n    int64
}

func (c *crcTail) Write(p []byte) (int, error) {
	n := len(p)
	c.n += int64(n)
	if c.have+len(p) <= 8 {
		copy(c.tail[c.have:], p)
		c.have += len(p)
		return n, nil
	}
	// Bytes that leave the tail window are final: hash them.
	all := make([]byte, 0, c.have+len(p))
	all = append(all, c.tail[:c.have]...)
	all = append(all, p...)
	cut := len(all) - 8
	c.crc = crcJones(c.crc, all[:cut])
	copy(c.tail[:], all[cut:])
	c.have = 8
	return n, nil
}

// rdbParser walks an RDB stream.
type rdbParser struct {
	r *bufio.Reader
	// recording makes every byte the walker reads go to rec as well: a
	// value's raw bytes, for its DUMP payload.
	recording bool
	rec       []byte
	// chk is the scratch of the value checks (rdb_validate.go).
	chk valueCheck
	// offset tells how many bytes of the stream were read so far, and
	// unpacked how many bytes the LZF strings kept so far unpacked to.
	offset   func() int64
	unpacked uint64
}

// keyFunc is told each key as it is walked: the file's RDB version, the
// key's database, name, expiry (Unix ms, 0 for none) and the raw bytes of
// its value, type byte first (name and value valid until it returns).
type keyFunc func(version, db int, key []byte, expireAt int64, raw []byte) error

// callbackError carries an error of a keyFunc through the walker, so that
// it is not reported as a damaged RDB.
type callbackError struct{ err error }

func (c callbackError) Error() string { return c.err.Error() }

// ParseRDB reads an RDB stream to its end: every opcode and value is
// walked (values are skipped, not decoded), the keys per database are
// counted, and the trailing CRC-64 is compared with the bytes read. Bytes
// after the checksum are an error.
func ParseRDB(r io.Reader) (RDBSummary, error) { return readRDB(r, nil) }

// readRDB walks an RDB stream to its end as ParseRDB describes, telling
// onKey (when set) each key with its value's raw bytes.
func readRDB(r io.Reader, onKey keyFunc) (RDBSummary, error) {
	tail := &crcTail{}
	p := &rdbParser{r: bufio.NewReaderSize(io.TeeReader(r, tail), 256<<10)}
	p.offset = func() int64 { return tail.n - int64(p.r.Buffered()) }
	s := RDBSummary{Keys: map[int]int64{}, Expires: map[int]int64{}, Aux: map[string]string{}}
	err := p.parse(&s, onKey)
	var cbErr callbackError
	if errors.As(err, &cbErr) {
		return s, cbErr.err
	}
	if err != nil {
		return s, fmt.Errorf("%w: %v (at byte %d)", ErrRDB, err, tail.n-int64(p.r.Buffered()))
	}
	// Drain: the stream must end right after the checksum. A reader that
	// fails at its end (a stored file whose checksum does not match) fails
	// the parse too.
	extra, derr := io.Copy(io.Discard, p.r)
	if derr != nil {
		return s, derr
	}
	if extra > 0 {
		return s, fmt.Errorf("%w: %d unexpected bytes after the checksum", ErrRDB, extra)
	}
	s.Size = tail.n
	if s.Version < 5 {
		return s, nil
	}
	if tail.have < 8 {
		return s, fmt.Errorf("%w: truncated: no checksum", ErrRDB)
	}
	want := binary.LittleEndian.Uint64(tail.tail[:])
	if want == 0 {
		s.ChecksumDisabled = true
		return s, nil
	}
	if tail.crc != want {
		return s, fmt.Errorf("%w: CRC-64 %016x does not match the stored %016x (the snapshot is damaged)", ErrRDB, tail.crc, want)
	}
	return s, nil
}

func (p *rdbParser) parse(s *RDBSummary, onKey keyFunc) error {
	head := make([]byte, 9)
	if _, err := io.ReadFull(p.r, head); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if string(head[:5]) != "REDIS" {
		return errors.New("not an RDB file (no REDIS header)")
	}
	v, err := strconv.Atoi(string(head[5:]))
	if err != nil {
		return fmt.Errorf("bad version %q", head[5:])
	}
	s.Version = v
	db := 0
	expiring := false
	var expireAt int64
	for {
		op, err := p.r.ReadByte()
		if err != nil {
			return fmt.Errorf("truncated: %w", noEOF(err))
		}
		switch op {
		case 0xFF: // EOF
			if v >= 5 {
				if _, err := p.r.Discard(8); err != nil {
					return fmt.Errorf("truncated checksum: %w", noEOF(err))
				}
			}
			return nil
		case 0xFE: // SELECTDB
			n, err := p.length()
			if err != nil {
				return err
			}
			db = int(n)
		case 0xFD: // EXPIRETIME (seconds)
			var x [4]byte
			if err := p.full(x[:]); err != nil {
				return err
			}
			expiring, expireAt = true, int64(binary.LittleEndian.Uint32(x[:]))*1000
		case 0xFC: // EXPIRETIME_MS
			var x [8]byte
			if err := p.full(x[:]); err != nil {
				return err
			}
			expiring, expireAt = true, int64(binary.LittleEndian.Uint64(x[:]))
		case 0xFB: // RESIZEDB
			if _, err := p.length(); err != nil {
				return err
			}
			if _, err := p.length(); err != nil {
				return err
			}
		case 0xFA: // AUX
			k, err := p.str(true)
			if err != nil {
				return err
			}
			val, err := p.str(true)
			if err != nil {
				return err
			}
			s.Aux[string(k)] = string(val)
		case 0xF9: // FREQ
			if _, err := p.r.ReadByte(); err != nil {
				return noEOF(err)
			}
		case 0xF8: // IDLE
			if _, err := p.length(); err != nil {
				return err
			}
		case 0xF7: // MODULE_AUX
			if _, err := p.length(); err != nil { // module id
				return err
			}
			if _, err := p.length(); err != nil { // when opcode
				return err
			}
			if _, err := p.length(); err != nil { // when
				return err
			}
			if err := p.moduleValue(); err != nil {
				return err
			}
		case 0xF6, 0xF5: // FUNCTION, FUNCTION2
			if _, err := p.str(false); err != nil {
				return err
			}
		default:
			key, err := p.key() // kept to name it if its value is bad
			if err != nil {
				return fmt.Errorf("key: %w", err)
			}
			if onKey != nil {
				p.recording, p.rec = true, append(p.rec[:0], op)
			}
			err = p.value(op)
			p.recording = false
			if err != nil {
				return keyError(key, op, err)
			}
			s.Keys[db]++
			if expiring {
				s.Expires[db]++
			}
			if onKey != nil {
				if err := onKey(v, db, key, expireAt, p.rec); err != nil {
					return callbackError{err}
				}
			}
			expiring, expireAt = false, 0
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// lengthOrSpecial reads a length; special is set for the encoded-string forms.
func (p *rdbParser) lengthOrSpecial() (n uint64, special bool, err error) {
	b, err := p.byte()
	if err != nil {
		return 0, false, noEOF(err)
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3F), false, nil
	case 1:
		b2, err := p.byte()
		if err != nil {
			return 0, false, noEOF(err)
		}
		return uint64(b&0x3F)<<8 | uint64(b2), false, nil
	case 2:
		switch b {
		case 0x80:
			var x [4]byte
			if err := p.full(x[:]); err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(x[:])), false, nil
		case 0x81:
			var x [8]byte
			if err := p.full(x[:]); err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(x[:]), false, nil
		}
		return 0, false, fmt.Errorf("bad length byte %#x", b)
	}
	return uint64(b & 0x3F), true, nil
}

func (p *rdbParser) length() (uint64, error) {
	n, special, err := p.lengthOrSpecial()
	if err == nil && special {
		err = errors.New("encoded value where a length was expected")
	}
	return n, err
}

// maxString bounds one string (Redis's own limit is 512 MiB).
const maxString = 1 << 30

// str reads a string; keep returns its bytes, else it is skipped.
func (p *rdbParser) str(keep bool) ([]byte, error) {
	n, special, err := p.lengthOrSpecial()
	if err != nil {
		return nil, err
	}
	if special {
		switch n {
		case 0, 1, 2:
			size := 1 << n
			b := make([]byte, size)
			if err := p.full(b); err != nil {
				return nil, err
			}
			return []byte(strconv.FormatInt(intEncoded(b), 10)), nil
		case 3: // LZF: compressed length, original length, data
			clen, err := p.length()
			if err != nil {
				return nil, err
			}
			ulen, err := p.length()
			if err != nil {
				return nil, err
			}
			if !keep {
				return nil, p.skip(clen)
			}
			if clen > maxString || ulen > maxString {
				return nil, fmt.Errorf("compressed string of %d bytes (%d unpacked) is too long", clen, ulen)
			}
			if ulen > lzfMaxRatio*clen {
				return nil, fmt.Errorf("compressed string of %d bytes cannot unpack to %d", clen, ulen)
			}
			c, err := p.readN(clen)
			if err != nil {
				return nil, err
			}
			if err := p.spendUnpacked(ulen); err != nil {
				return nil, err
			}
			return lzfDecompress(c, int(ulen))
		}
		return nil, fmt.Errorf("unknown string encoding %d", n)
	}
	if n > maxString {
		return nil, fmt.Errorf("string of %d bytes is too long", n)
	}
	if !keep {
		return nil, p.skip(n)
	}
	return p.readN(n)
}

// readN reads n bytes, recording them. The length is not trusted to size
// the buffer (a damaged one would allocate up to maxString for a few bytes
// of input): it grows with the bytes actually read.
func (p *rdbParser) readN(n uint64) ([]byte, error) {
	b := make([]byte, 0, min(n, 64<<10))
	for n > 0 {
		m := int(min(n, 64<<10))
		b = slices.Grow(b, m)
		if err := p.full(b[len(b) : len(b)+m]); err != nil {
			return nil, err
		}
		b = b[:len(b)+m]
		n -= uint64(m)
	}
	return b, nil
}

func (p *rdbParser) skip(n uint64) error {
	if n > maxString {
		return fmt.Errorf("length %d is too long", n)
	}
	if !p.recording {
		_, err := p.r.Discard(int(n))
		return noEOF(err)
	}
	// Recorded in chunks: a damaged length fails at the end of the
	// stream rather than allocating its size up front.
	for n > 0 {
		chunk := min(n, 64<<10)
		start := len(p.rec)
		p.rec = append(p.rec, make([]byte, chunk)...)
		if _, err := io.ReadFull(p.r, p.rec[start:]); err != nil {
			return noEOF(err)
		}
		n -= chunk
	}
	return nil
}

// byte reads one byte, recording it.
func (p *rdbParser) byte() (byte, error) {
	b, err := p.r.ReadByte()
	if err != nil {
		return 0, noEOF(err)
	}
	if p.recording {
		p.rec = append(p.rec, b)
	}
	return b, nil
}

// full fills b, recording it.
func (p *rdbParser) full(b []byte) error {
	if _, err := io.ReadFull(p.r, b); err != nil {
		return noEOF(err)
	}
	if p.recording {
		p.rec = append(p.rec, b...)
	}
	return nil
}

// LZF packs at most 88 bytes in 3 (a back reference of 264 bytes), so a
// string cannot unpack to more than lzfMaxRatio times its packed length.
const lzfMaxRatio = 88

// The strings the walker keeps (AUX fields, and key names for
// ReadRDBEntries) may unpack, all together, to lzfBudgetFactor times the
// bytes read plus lzfBudgetSlack: a file of nothing but back references
// would otherwise make a reader allocate 88 (and with the copy of the name,
// 176) times its size. Real names are far from it.
const (
	lzfBudgetFactor = 24
	lzfBudgetSlack  = 128 << 10
)

func lzfBudget(read uint64) uint64 { return lzfBudgetFactor*read + lzfBudgetSlack }

// lzfDecompress unpacks an LZF-compressed string of n bytes (Redis's
// lzf_d.c format: literal runs and back references).
// intEncoded is the value of an integer-encoded string: 1, 2 or 4 bytes,
// little-endian, signed.
func intEncoded(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
	return 0
}

// spendUnpacked counts n more unpacked bytes of the LZF strings the walk
// hands on (AUX fields, key names) against the budget for what was read.
func (p *rdbParser) spendUnpacked(n uint64) error {
	p.unpacked += n
	if read := uint64(p.offset()); p.unpacked > lzfBudget(read) {
		return fmt.Errorf("the compressed names and AUX fields so far unpack to %d bytes, more than opsdeck unpacks for the %d bytes read (%d× + %d): a crafted or damaged file", p.unpacked, read, lzfBudgetFactor, lzfBudgetSlack)
	}
	return nil
}

func lzfDecompress(in []byte, n int) ([]byte, error) { return lzfDecompressTo(nil, in, n) }

// lzfDecompressTo unpacks in into dst's space (grown to n when it is
// smaller), for a reader that reuses one buffer from value to value.
func lzfDecompressTo(dst, in []byte, n int) ([]byte, error) {
	out := slices.Grow(dst[:0], n)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			l := ctrl + 1
			if i+l > len(in) || len(out)+l > n {
				return nil, errors.New("LZF literal runs past its end")
			}
			out = append(out, in[i:i+l]...)
			i += l
			continue
		}
		l := ctrl >> 5
		if l == 7 {
			if i >= len(in) {
				return nil, errors.New("LZF back reference truncated")
			}
			l += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, errors.New("LZF back reference truncated")
		}
		ref := len(out) - (ctrl&0x1f)<<8 - int(in[i]) - 1
		i++
		l += 2
		if ref < 0 || len(out)+l > n {
			return nil, errors.New("LZF back reference out of range")
		}
		for j := range l { // may overlap: copy byte by byte
			out = append(out, out[ref+j])
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("LZF string unpacks to %d bytes, not %d", len(out), n)
	}
	return out, nil
}

func (p *rdbParser) strings(n uint64) error {
	for i := uint64(0); i < n; i++ {
		if _, err := p.str(false); err != nil {
			return err
		}
	}
	return nil
}

// value walks a value of the given type: skipped, or read and checked
// when packed (rdb_validate.go).
func (p *rdbParser) value(t byte) error {
	switch t {
	case 0: // string
		_, err := p.str(false)
		return err
	case 9, 10, 11, 12, 13, 16, 17, 20: // single-blob encodings, checked as Redis does
		return p.encoded(t)
	case 14, 18: // quicklist of ziplists; quicklist2: container kind, blob
		return p.quicklist(t)
	case 1, 2: // list, set
		n, err := p.length()
		if err != nil {
			return err
		}
		return p.strings(n)
	case 4: // hash
		n, err := p.length()
		if err != nil {
			return err
		}
		return p.strings(2 * n)
	case 3: // zset: member, score as a length-prefixed string
		n, err := p.length()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if _, err := p.str(false); err != nil {
				return err
			}
			l, err := p.byte()
			if err != nil {
				return noEOF(err)
			}
			if l < 253 {
				if err := p.skip(uint64(l)); err != nil {
					return err
				}
			}
		}
		return nil
	case 5: // zset2: member, binary double
		n, err := p.length()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if _, err := p.str(false); err != nil {
				return err
			}
			if err := p.skip(8); err != nil {
				return err
			}
		}
		return nil
	case 6:
		return errors.New("module value of the pre-4.0 format cannot be walked")
	case 7: // module2
		if _, err := p.length(); err != nil {
			return err
		}
		return p.moduleValue()
	case 15, 19, 21:
		return p.stream(t)
	}
	return fmt.Errorf("unknown value type %d (written by a newer Redis than this opsdeck knows)", t)
}

// moduleValue skips module-serialized opcodes up to their EOF.
func (p *rdbParser) moduleValue() error {
	for {
		op, err := p.length()
		if err != nil {
			return err
		}
		switch op {
		case 0:
			return nil
		case 1, 2:
			_, err = p.length()
		case 3:
			err = p.skip(4)
		case 4:
			err = p.skip(8)
		case 5:
			_, err = p.str(false)
		default:
			return fmt.Errorf("unknown module opcode %d", op)
		}
		if err != nil {
			return err
		}
	}
}

func (p *rdbParser) lengths(n int) error {
	for range n {
		if _, err := p.length(); err != nil {
			return err
		}
	}
	return nil
}

// stream skips a stream of type 15 (v1), 19 (v2) or 21 (v3).
func (p *rdbParser) stream(t byte) error {
	n, err := p.length()
	if err != nil {
		return err
	}
	if err := p.streamNodes(n); err != nil { // node keys and listpacks
		return err
	}
	if err := p.lengths(3); err != nil { // length, last id ms, seq
		return err
	}
	if t >= 19 {
		if err := p.lengths(5); err != nil { // first id, max deleted id, entries added
			return err
		}
	}
	groups, err := p.length()
	if err != nil {
		return err
	}
	for range groups {
		if _, err := p.str(false); err != nil {
			return err
		}
		if err := p.lengths(2); err != nil {
			return err
		}
		if t >= 19 {
			if err := p.lengths(1); err != nil { // entries read
				return err
			}
		}
		pel, err := p.length()
		if err != nil {
			return err
		}
		for range pel {
			if err := p.skip(16 + 8); err != nil { // id, delivery time
				return err
			}
			if _, err := p.length(); err != nil { // delivery count
				return err
			}
		}
		consumers, err := p.length()
		if err != nil {
			return err
		}
		for range consumers {
			if _, err := p.str(false); err != nil {
				return err
			}
			skip := uint64(8) // seen time
			if t >= 21 {
				skip += 8 // active time
			}
			if err := p.skip(skip); err != nil {
				return err
			}
			cpel, err := p.length()
			if err != nil {
				return err
			}
			if err := p.skip(16 * cpel); err != nil {
				return err
			}
		}
	}
	return nil
}
