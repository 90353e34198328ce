package backup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// The values whose RDB form is one packed blob (ziplists, listpacks,
// intsets, zipmaps, and the nodes of quicklists and streams) are checked
// here as redis-server checks them when it loads a file or a RESTORE
// payload with sanitize-dump-payload yes (rdbLoadObject in Redis's rdb.c,
// with ziplistValidateIntegrity, lpValidateIntegrity,
// intsetValidateIntegrity, zipmapValidateIntegrity and
// streamValidateListpackIntegrity): the header's byte and entry counts,
// every entry's encoding and lengths (a ziplist's previous-entry lengths, a
// listpack's back-lengths), the end marker, no entry reaching past the
// blob, and no duplicate set members or hash and zset fields. A blob that
// fails here is one the server refuses: a file it will not load, a RESTORE
// it answers with "Bad data format".
//
// An empty value of these encodings is refused too: a loading server
// skips it, RESTORE refuses it, so opsdeck's restore could not replay it.
//
// Not checked: the plain list, set, zset and hash encodings (an empty one,
// a member twice), and a stream's metadata after its nodes (its consumer
// groups and pending entries).

// valueCheck is the scratch the checks reuse from value to value.
type valueCheck struct {
	key, blob, lzf []byte
	intBuf         [8]byte
	fields         [][]byte
	ints           []byte
	nodes          map[[16]byte]struct{}
}

// rdbTypeNames names the value types of the RDB format.
var rdbTypeNames = map[byte]string{
	0: "string", 1: "list", 2: "set", 3: "zset", 4: "hash", 5: "zset",
	6: "module value", 7: "module value", 9: "hash zipmap", 10: "list ziplist",
	11: "set intset", 12: "zset ziplist", 13: "hash ziplist", 14: "list quicklist",
	15: "stream", 16: "hash listpack", 17: "zset listpack", 18: "list quicklist",
	19: "stream", 20: "set listpack", 21: "stream",
}

// keyError says which key's value failed to parse.
func keyError(key []byte, t byte, err error) error {
	k := key
	if len(k) > 120 {
		k = k[:120]
	}
	q := strconv.Quote(string(k))
	if len(k) < len(key) {
		q += fmt.Sprintf("… (%d bytes)", len(key))
	}
	if name, ok := rdbTypeNames[t]; ok {
		return fmt.Errorf("key %s (%s, type %d): %w", q, name, t, err)
	}
	return fmt.Errorf("key %s (type %d): %w", q, t, err)
}

// key reads a key into a reused buffer (valid until the next key).
func (p *rdbParser) key() ([]byte, error) {
	b, err := p.readString(p.chk.key[:0], true)
	if cap(b) <= 1<<20 {
		p.chk.key = b[:0]
	}
	return b, err
}

// blob reads a string into a reused buffer (valid until the next blob).
func (p *rdbParser) blob() ([]byte, error) {
	b, err := p.readString(p.chk.blob[:0], false)
	if cap(b) <= 1<<20 { // keep a small buffer for the next value
		p.chk.blob = b[:0]
	}
	return b, err
}

// readString reads a string into buf's space. kept says the caller hands
// it on to be kept (a key): its unpacking then counts against the LZF
// budget, as the AUX fields' do. A
// long one is read in chunks, so that a damaged length fails at the end of
// the stream rather than allocating its size first.
func (p *rdbParser) readString(buf []byte, kept bool) ([]byte, error) {
	n, special, err := p.lengthOrSpecial()
	if err != nil {
		return nil, err
	}
	if special {
		switch n {
		case 0, 1, 2: // an integer, as its decimal digits
			x := p.chk.intBuf[:1<<n]
			if err := p.full(x); err != nil {
				return nil, err
			}
			return strconv.AppendInt(buf, intEncoded(x), 10), nil
		case 3:
			clen, err := p.length()
			if err != nil {
				return nil, err
			}
			ulen, err := p.length()
			if err != nil {
				return nil, err
			}
			if clen > maxString || ulen > maxString {
				return nil, fmt.Errorf("compressed string of %d bytes (%d unpacked) is too long", clen, ulen)
			}
			if ulen > lzfMaxRatio*clen {
				return nil, fmt.Errorf("compressed string of %d bytes cannot unpack to %d", clen, ulen)
			}
			c, err := p.chunks(p.chk.lzf[:0], clen)
			if err != nil {
				return nil, err
			}
			if cap(c) <= 1<<20 {
				p.chk.lzf = c[:0]
			}
			if kept {
				if err := p.spendUnpacked(ulen); err != nil {
					return nil, err
				}
			}
			// Into buf, which the reader reuses from value to value: a
			// long run of highly packed values costs the largest once.
			return lzfDecompressTo(buf, c, int(ulen))
		}
		return nil, fmt.Errorf("unknown string encoding %d", n)
	}
	if n > maxString {
		return nil, fmt.Errorf("string of %d bytes is too long", n)
	}
	return p.chunks(buf, n)
}

// chunks appends n bytes of the stream to buf, 64 KiB at a time.
func (p *rdbParser) chunks(buf []byte, n uint64) ([]byte, error) {
	for n > 0 {
		chunk := int(min(n, 64<<10))
		start := len(buf)
		buf = slices.Grow(buf, chunk)[:start+chunk]
		if err := p.full(buf[start:]); err != nil {
			return nil, err
		}
		n -= uint64(chunk)
	}
	return buf, nil
}

// encoded reads and checks a value of one of the single-blob encodings.
func (p *rdbParser) encoded(t byte) error {
	b, err := p.blob()
	if err != nil {
		return err
	}
	n := 1 // zipmaps and intsets are never empty when valid
	switch t {
	case 9: // hash zipmap (Redis < 2.6)
		err = p.chk.zipmap(b)
	case 10: // list ziplist
		n, err = ziplistEntries(b, nil)
	case 11: // set intset
		err = checkIntset(b)
	case 12, 13: // zset, hash ziplist: field (member), value (score) pairs
		n, err = p.chk.ziplistPairs(b)
	case 16, 17: // hash, zset listpack: pairs
		n, err = p.chk.listpackUnique(b, true)
	case 20: // set listpack
		n, err = p.chk.listpackUnique(b, false)
	}
	switch {
	case err != nil && !errors.Is(err, errDuplicate):
		return fmt.Errorf("integrity check failed: %w", err)
	case err == nil && n == 0:
		return errEmpty
	}
	return err
}

// errEmpty is a value without members.
var errEmpty = errors.New("empty: a loading redis-server skips it and RESTORE refuses it")

// quicklist reads and checks a list of type 14 (nodes are ziplists) or
// 18 (nodes are listpacks, or plain strings).
func (p *rdbParser) quicklist(t byte) error {
	n, err := p.length()
	if err != nil {
		return err
	}
	full := false // a node with entries
	for i := uint64(0); i < n; i++ {
		container := uint64(2) // packed
		if t == 18 {
			if container, err = p.length(); err != nil {
				return err
			}
			if container != 1 && container != 2 {
				return fmt.Errorf("integrity check failed: node %d of %d: container %d is neither plain (1) nor packed (2)", i+1, n, container)
			}
		}
		b, err := p.blob()
		if err != nil {
			return err
		}
		if len(b) == 0 {
			return fmt.Errorf("node %d of %d is empty", i+1, n)
		}
		entries := 1 // a plain node is one string
		switch {
		case container == 1:
		case t == 14:
			entries, err = ziplistEntries(b, nil)
		default:
			entries, err = listpackEntries(b, true, nil)
		}
		if err != nil {
			return fmt.Errorf("integrity check failed: node %d of %d: %w", i+1, n, err)
		}
		full = full || entries > 0 // an empty node is skipped by the server
	}
	if !full {
		return errEmpty
	}
	return nil
}

// streamNodes reads and checks the n nodes of a stream: a 16-byte master
// ID (each once) and a listpack of entries.
func (p *rdbParser) streamNodes(n uint64) error {
	if p.chk.nodes == nil {
		p.chk.nodes = map[[16]byte]struct{}{}
	}
	clear(p.chk.nodes)
	for i := uint64(0); i < n; i++ {
		id, err := p.blob()
		if err != nil {
			return err
		}
		if len(id) != 16 {
			return fmt.Errorf("node %d of %d: its key has %d bytes, a stream ID 16", i+1, n, len(id))
		}
		k := [16]byte(id)
		if _, dup := p.chk.nodes[k]; dup {
			return fmt.Errorf("node %d of %d: master ID %d-%d appears twice", i+1, n, binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(k[8:]))
		}
		p.chk.nodes[k] = struct{}{}
		lp, err := p.blob()
		if err != nil {
			return err
		}
		if err := checkStreamListpack(lp); err != nil {
			return fmt.Errorf("integrity check failed: node %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

// errDuplicate marks a member or field that appears twice.
var errDuplicate = errors.New("duplicate")

// unique fails when two of the scratch fields are equal (they are sorted).
func (c *valueCheck) unique(what string) error {
	f := c.fields
	switch {
	case len(f) < 2:
		return nil
	case len(f) <= 8:
		for i := range f {
			for j := i + 1; j < len(f); j++ {
				if bytes.Equal(f[i], f[j]) {
					return fmt.Errorf("%w %s %s", errDuplicate, what, quoteField(f[i]))
				}
			}
		}
		return nil
	}
	slices.SortFunc(f, bytes.Compare)
	for i := 1; i < len(f); i++ {
		if bytes.Equal(f[i-1], f[i]) {
			return fmt.Errorf("%w %s %s", errDuplicate, what, quoteField(f[i]))
		}
	}
	return nil
}

func quoteField(b []byte) string {
	if len(b) > 60 {
		return strconv.Quote(string(b[:60])) + "…"
	}
	return strconv.Quote(string(b))
}

// reset empties the scratch fields.
func (c *valueCheck) reset() {
	c.fields, c.ints = c.fields[:0], c.ints[:0]
}

// add keeps an entry's value (a string, or an integer as its decimal
// digits, which is how Redis compares them).
func (c *valueCheck) add(s []byte, v int64, isInt bool) {
	if isInt {
		start := len(c.ints)
		c.ints = strconv.AppendInt(c.ints, v, 10)
		s = c.ints[start:len(c.ints):len(c.ints)]
	}
	c.fields = append(c.fields, s)
}

// ziplistPairs checks a zset or hash ziplist: an even number of entries,
// no field twice.
func (c *valueCheck) ziplistPairs(b []byte) (int, error) {
	c.reset()
	n, err := ziplistEntries(b, func(i int, s []byte, v int64, isInt bool) {
		if i%2 == 0 {
			c.add(s, v, isInt)
		}
	})
	if err != nil {
		return 0, err
	}
	if n%2 != 0 {
		return 0, fmt.Errorf("%d entries: a field without its value", n)
	}
	return n, c.unique("field")
}

// listpackUnique checks a set listpack (no member twice) or a hash or
// zset one (pairs: an even number of entries, no field twice).
func (c *valueCheck) listpackUnique(b []byte, pairs bool) (int, error) {
	c.reset()
	n, err := listpackEntries(b, true, func(i int, s []byte, v int64, isInt bool) {
		if !pairs || i%2 == 0 {
			c.add(s, v, isInt)
		}
	})
	if err != nil {
		return 0, err
	}
	if pairs && n%2 != 0 {
		return 0, fmt.Errorf("%d entries: a field without its value", n)
	}
	if pairs {
		return n, c.unique("field")
	}
	return n, c.unique("member")
}

// entryFunc is told each entry of a ziplist or listpack: its index and its
// value, a string (valid until the blob is reused) or an integer.
type entryFunc func(i int, s []byte, v int64, isInt bool)

// Ziplist layout: zlbytes (uint32), zltail (uint32), zllen (uint16), the
// entries, 0xFF. An entry: the previous entry's length (1 byte, or 0xFE
// and a uint32), an encoding with the length, the data.
const (
	zlHeader = 10
	zlEnd    = 0xFF
)

// ziplistEntries checks a ziplist as ziplistValidateIntegrity does (deep)
// and returns its number of entries.
func ziplistEntries(zl []byte, fn entryFunc) (int, error) {
	size := len(zl)
	if size < zlHeader+1 {
		return 0, fmt.Errorf("ziplist of %d bytes is shorter than its header and end", size)
	}
	if n := binary.LittleEndian.Uint32(zl); uint64(n) != uint64(size) {
		return 0, fmt.Errorf("ziplist header says %d bytes, the blob has %d", n, size)
	}
	if zl[size-1] != zlEnd {
		return 0, fmt.Errorf("ziplist does not end with 0xFF (its last byte is %#02x)", zl[size-1])
	}
	tail := int64(binary.LittleEndian.Uint32(zl[4:]))
	last := int64(size - 1) // the end marker
	if tail > last {
		return 0, fmt.Errorf("ziplist tail offset %d is past its end (%d)", tail, last)
	}
	headerCount := int(binary.LittleEndian.Uint16(zl[8:]))
	count := 0
	p, prev, prevRaw := int64(zlHeader), int64(-1), int64(0)
	for zl[p] != zlEnd {
		// Every offset is checked against the blob before it is read.
		prevLenSize := int64(1)
		if zl[p] >= 0xFE {
			prevLenSize = 5
		}
		if p+prevLenSize > last {
			return 0, fmt.Errorf("ziplist entry %d (byte %d): its header runs past the end", count, p)
		}
		enc := zl[p+prevLenSize]
		if enc < 0xC0 {
			enc &= 0xC0
		}
		var lenSize, dataLen int64
		switch {
		case enc == 0x00:
			lenSize = 1
		case enc == 0x40:
			lenSize = 2
		case enc == 0x80:
			lenSize = 5
		case enc == 0xFE:
			lenSize, dataLen = 1, 1
		case enc == 0xC0:
			lenSize, dataLen = 1, 2
		case enc == 0xF0:
			lenSize, dataLen = 1, 3
		case enc == 0xD0:
			lenSize, dataLen = 1, 4
		case enc == 0xE0:
			lenSize, dataLen = 1, 8
		case enc >= 0xF1 && enc <= 0xFD:
			lenSize = 1
		default:
			return 0, fmt.Errorf("ziplist entry %d (byte %d): bad encoding %#02x", count, p, zl[p+prevLenSize])
		}
		h := p + prevLenSize
		if h+lenSize > last {
			return 0, fmt.Errorf("ziplist entry %d (byte %d): its header runs past the end", count, p)
		}
		prevLen := int64(zl[p])
		if prevLenSize == 5 {
			prevLen = int64(binary.LittleEndian.Uint32(zl[p+1:]))
		}
		switch enc {
		case 0x00:
			dataLen = int64(zl[h] & 0x3F)
		case 0x40:
			dataLen = int64(zl[h]&0x3F)<<8 | int64(zl[h+1])
		case 0x80:
			dataLen = int64(binary.BigEndian.Uint32(zl[h+1:]))
		}
		headerSize := prevLenSize + lenSize
		if p+headerSize+dataLen > last {
			return 0, fmt.Errorf("ziplist entry %d (byte %d) of %d bytes runs past the end (%d)", count, p, headerSize+dataLen, last)
		}
		if p-prevLen < zlHeader {
			return 0, fmt.Errorf("ziplist entry %d (byte %d): previous-entry length %d reaches before the first entry", count, p, prevLen)
		}
		if prevLen != prevRaw {
			return 0, fmt.Errorf("ziplist entry %d (byte %d): previous-entry length %d, the previous entry has %d bytes", count, p, prevLen, prevRaw)
		}
		if fn != nil {
			d := zl[p+headerSize : p+headerSize+dataLen]
			if enc < 0xC0 {
				fn(count, d, 0, false)
			} else {
				fn(count, nil, ziplistInt(enc, d), true)
			}
		}
		prevRaw = headerSize + dataLen
		prev = p
		p += headerSize + dataLen
		count++
	}
	if p != last {
		return 0, fmt.Errorf("ziplist has an end marker at byte %d, before its end (%d)", p, last)
	}
	if prev >= 0 && prev != tail {
		return 0, fmt.Errorf("ziplist tail offset %d, but its last entry is at byte %d", tail, prev)
	}
	if headerCount != 0xFFFF && count != headerCount {
		return 0, fmt.Errorf("ziplist header counts %d entries, it holds %d", headerCount, count)
	}
	return count, nil
}

// ziplistInt decodes an integer entry's data.
func ziplistInt(enc byte, d []byte) int64 {
	switch enc {
	case 0xFE:
		return int64(int8(d[0]))
	case 0xC0:
		return int64(int16(binary.LittleEndian.Uint16(d)))
	case 0xF0:
		return int64(int32(uint32(d[0])<<8|uint32(d[1])<<16|uint32(d[2])<<24) >> 8)
	case 0xD0:
		return int64(int32(binary.LittleEndian.Uint32(d)))
	case 0xE0:
		return int64(binary.LittleEndian.Uint64(d))
	}
	return int64(enc&0x0F) - 1 // 0xF1..0xFD: 0..12
}

// Listpack layout: total bytes (uint32), number of elements (uint16), the
// entries, 0xFF. An entry: encoding with the length, the data, the
// back-length (the entry's size so far, 7 bits a byte, read backwards).
const (
	lpHeader = 6
	lpEnd    = 0xFF
)

// lpHeaderOK checks a listpack's header and end marker, as
// lpValidateIntegrity does without deep.
func lpHeaderOK(lp []byte) error {
	size := len(lp)
	if size < lpHeader+1 {
		return fmt.Errorf("listpack of %d bytes is shorter than its header and end", size)
	}
	if n := binary.LittleEndian.Uint32(lp); uint64(n) != uint64(size) {
		return fmt.Errorf("listpack header says %d bytes, the blob has %d", n, size)
	}
	if lp[size-1] != lpEnd {
		return fmt.Errorf("listpack does not end with 0xFF (its last byte is %#02x)", lp[size-1])
	}
	return nil
}

// lpNext checks the entry at p (not the end marker) as lpValidateNext
// does and returns the offset of the next one.
func lpNext(lp []byte, p int64, i int) (int64, error) {
	last := int64(len(lp) - 1)
	b := lp[p]
	var lenBytes, size int64
	switch {
	case b&0x80 == 0: // 7-bit unsigned integer
		lenBytes, size = 1, 1
	case b&0xC0 == 0x80: // string up to 63 bytes
		lenBytes, size = 1, 1+int64(b&0x3F)
	case b&0xE0 == 0xC0: // 13-bit integer
		lenBytes, size = 1, 2
	case b == 0xF1:
		lenBytes, size = 1, 3
	case b == 0xF2:
		lenBytes, size = 1, 4
	case b == 0xF3:
		lenBytes, size = 1, 5
	case b == 0xF4:
		lenBytes, size = 1, 9
	case b&0xF0 == 0xE0: // string up to 4095 bytes
		lenBytes = 2
	case b == 0xF0: // string up to 2^32-1 bytes
		lenBytes = 5
	default:
		return 0, fmt.Errorf("listpack entry %d (byte %d): bad encoding %#02x", i, p, b)
	}
	if p+lenBytes > last {
		return 0, fmt.Errorf("listpack entry %d (byte %d): its header runs past the end", i, p)
	}
	switch lenBytes {
	case 2:
		size = 2 + (int64(b&0x0F)<<8 | int64(lp[p+1]))
	case 5:
		size = 5 + int64(binary.LittleEndian.Uint32(lp[p+1:]))
	}
	backLen := lpBackLenSize(size)
	size += backLen
	if p+size > last {
		return 0, fmt.Errorf("listpack entry %d (byte %d) of %d bytes runs past the end (%d)", i, p, size, last)
	}
	next := p + size
	if got, ok := lpDecodeBackLen(lp, next-1); !ok || got+backLen != size {
		return 0, fmt.Errorf("listpack entry %d (byte %d): its back-length does not match its size (%d bytes)", i, p, size-backLen)
	}
	return next, nil
}

// lpBackLenSize is the number of bytes the back-length of an entry of l
// bytes takes.
func lpBackLenSize(l int64) int64 {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// lpDecodeBackLen reads the back-length that ends at i (its last byte),
// backwards; false when it takes more than 5 bytes.
func lpDecodeBackLen(lp []byte, i int64) (int64, bool) {
	var v int64
	for shift := 0; ; shift += 7 {
		if i < 0 || shift > 28 {
			return 0, false
		}
		v |= int64(lp[i]&127) << shift
		if lp[i]&128 == 0 {
			return v, true
		}
		i--
	}
}

// lpValue decodes the (checked) entry at p: a string or an integer.
func lpValue(lp []byte, p int64) (s []byte, v int64, isInt bool) {
	b := lp[p]
	switch {
	case b&0x80 == 0:
		return nil, int64(b), true
	case b&0xC0 == 0x80:
		return lp[p+1 : p+1+int64(b&0x3F)], 0, false
	case b&0xE0 == 0xC0:
		u := int64(b&0x1F)<<8 | int64(lp[p+1])
		if u >= 1<<12 {
			u -= 1 << 13
		}
		return nil, u, true
	case b == 0xF1:
		return nil, int64(int16(binary.LittleEndian.Uint16(lp[p+1:]))), true
	case b == 0xF2:
		u := int32(uint32(lp[p+1])<<8|uint32(lp[p+2])<<16|uint32(lp[p+3])<<24) >> 8
		return nil, int64(u), true
	case b == 0xF3:
		return nil, int64(int32(binary.LittleEndian.Uint32(lp[p+1:]))), true
	case b == 0xF4:
		return nil, int64(binary.LittleEndian.Uint64(lp[p+1:])), true
	case b&0xF0 == 0xE0:
		n := int64(b&0x0F)<<8 | int64(lp[p+1])
		return lp[p+2 : p+2+n], 0, false
	}
	n := int64(binary.LittleEndian.Uint32(lp[p+1:])) // 0xF0
	return lp[p+5 : p+5+n], 0, false
}

// listpackEntries checks a listpack as lpValidateIntegrity does (deep;
// the header's count of entries when counted) and returns its number of
// entries.
func listpackEntries(lp []byte, counted bool, fn entryFunc) (int, error) {
	if err := lpHeaderOK(lp); err != nil {
		return 0, err
	}
	last := int64(len(lp) - 1)
	count := 0
	p := int64(lpHeader)
	for lp[p] != lpEnd {
		next, err := lpNext(lp, p, count)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			s, v, isInt := lpValue(lp, p)
			fn(count, s, v, isInt)
		}
		count++
		p = next
	}
	if p != last {
		return 0, fmt.Errorf("listpack has an end marker at byte %d, before its end (%d)", p, last)
	}
	if n := int(binary.LittleEndian.Uint16(lp[4:])); counted && n != 0xFFFF && n != count {
		return 0, fmt.Errorf("listpack header counts %d entries, it holds %d", n, count)
	}
	return count, nil
}

// checkStreamListpack checks a stream node's listpack as
// streamValidateListpackIntegrity does (deep): a master entry (count,
// deleted count, field names, a 0), then each entry (flags, ID, its
// fields unless it has the master's, values, its number of elements),
// and nothing after.
func checkStreamListpack(lp []byte) error {
	if err := lpHeaderOK(lp); err != nil {
		return err
	}
	r := lpReader{lp: lp, p: lpHeader}
	entries, err := r.int("entry count")
	if err != nil {
		return err
	}
	deleted, err := r.int("deleted count")
	if err != nil {
		return err
	}
	masterFields, err := r.int("master field count")
	if err != nil {
		return err
	}
	for j := int64(0); j < masterFields; j++ {
		if err := r.skip("master field"); err != nil {
			return err
		}
	}
	zero, err := r.int("master terminator")
	if err != nil {
		return err
	}
	if zero != 0 {
		return fmt.Errorf("stream listpack: master entry ends with %d, not 0", zero)
	}
	for n := entries + deleted; n != 0; n-- {
		fields, extra := masterFields, int64(3)
		flags, err := r.int("entry flags")
		if err != nil {
			return err
		}
		if _, err := r.int("entry ID (ms)"); err != nil {
			return err
		}
		if _, err := r.int("entry ID (seq)"); err != nil {
			return err
		}
		if flags&2 == 0 { // not STREAM_ITEM_FLAG_SAMEFIELDS
			if fields, err = r.int("entry field count"); err != nil {
				return err
			}
			for j := int64(0); j < fields; j++ {
				if err := r.skip("entry field"); err != nil {
					return err
				}
			}
			extra += fields + 1
		}
		for j := int64(0); j < fields; j++ {
			if err := r.skip("entry value"); err != nil {
				return err
			}
		}
		lpCount, err := r.int("entry element count")
		if err != nil {
			return err
		}
		if lpCount != fields+extra {
			return fmt.Errorf("stream listpack entry %d: it says %d elements, it has %d", r.i-1, lpCount, fields+extra)
		}
	}
	if lp[r.p] != lpEnd {
		return fmt.Errorf("stream listpack: entries after the last one (byte %d of %d)", r.p, len(lp))
	}
	return nil
}

// lpReader walks a listpack's entries, checking each.
type lpReader struct {
	lp []byte
	p  int64
	i  int
}

func (r *lpReader) skip(what string) error {
	if r.lp[r.p] == lpEnd {
		return fmt.Errorf("stream listpack ends before its %s (entry %d)", what, r.i)
	}
	next, err := lpNext(r.lp, r.p, r.i)
	if err != nil {
		return err
	}
	r.p = next
	r.i++
	return nil
}

// int reads an integer entry (or a string of one, as Redis's string2ll
// takes it).
func (r *lpReader) int(what string) (int64, error) {
	at := r.p
	if err := r.skip(what); err != nil {
		return 0, err
	}
	s, v, isInt := lpValue(r.lp, at)
	if isInt {
		return v, nil
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != string(s) {
		return 0, fmt.Errorf("stream listpack entry %d: its %s is %s, not an integer", r.i-1, what, quoteField(s))
	}
	return v, nil
}

// checkIntset checks an intset as intsetValidateIntegrity does (deep):
// encoding (2, 4 or 8 bytes an integer), count, size, and its integers
// strictly increasing.
func checkIntset(b []byte) error {
	if len(b) < 8 {
		return fmt.Errorf("intset of %d bytes is shorter than its header", len(b))
	}
	enc := binary.LittleEndian.Uint32(b)
	if enc != 2 && enc != 4 && enc != 8 {
		return fmt.Errorf("intset encoding %d is not 2, 4 or 8 bytes", enc)
	}
	n := uint64(binary.LittleEndian.Uint32(b[4:]))
	if 8+n*uint64(enc) != uint64(len(b)) {
		return fmt.Errorf("intset of %d %d-byte integers would take %d bytes, the blob has %d", n, enc, 8+n*uint64(enc), len(b))
	}
	if n == 0 {
		return errors.New("intset is empty")
	}
	at := func(i int) int64 {
		d := b[8+i*int(enc):]
		switch enc {
		case 2:
			return int64(int16(binary.LittleEndian.Uint16(d)))
		case 4:
			return int64(int32(binary.LittleEndian.Uint32(d)))
		}
		return int64(binary.LittleEndian.Uint64(d))
	}
	prev := at(0)
	for i := 1; i < int(n); i++ {
		cur := at(i)
		if cur <= prev {
			return fmt.Errorf("intset integer %d (%d) is not above the one before (%d): out of order or twice", i, cur, prev)
		}
		prev = cur
	}
	return nil
}

// zipmap checks a zipmap as zipmapValidateIntegrity does (deep), and
// that no field appears twice (as loading one does).
func (c *valueCheck) zipmap(zm []byte) error {
	size := int64(len(zm))
	if size < 2 {
		return fmt.Errorf("zipmap of %d bytes is shorter than its header and end", size)
	}
	if zm[size-1] != 0xFF {
		return fmt.Errorf("zipmap does not end with 0xFF (its last byte is %#02x)", zm[size-1])
	}
	out := func(p int64) bool { return p < 2 || p > size-1 }
	c.reset()
	count := 0
	p := int64(1)
	length := func() (n, s int64, err error) {
		s = 1
		if zm[p] >= 254 {
			s = 5
		}
		if out(p + s) {
			return 0, 0, fmt.Errorf("zipmap entry %d (byte %d): its length runs past the end", count, p)
		}
		n = int64(zm[p])
		if s == 5 {
			n = int64(binary.LittleEndian.Uint32(zm[p+1:]))
		}
		return n, s, nil
	}
	for zm[p] != 0xFF {
		l, s, err := length()
		if err != nil {
			return err
		}
		field := p + s
		p += s + l
		if out(p) {
			return fmt.Errorf("zipmap entry %d: its field of %d bytes runs past the end", count, l)
		}
		c.fields = append(c.fields, zm[field:p])
		if l, s, err = length(); err != nil {
			return err
		}
		p += s
		free := int64(zm[p])
		p += 1 + l + free
		count++
		if out(p) {
			return fmt.Errorf("zipmap entry %d: its value of %d bytes (and %d free) runs past the end", count-1, l, free)
		}
	}
	if count == 0 {
		return errors.New("zipmap is empty")
	}
	if zm[0] != 254 && int(zm[0]) != count {
		return fmt.Errorf("zipmap header counts %d entries, it holds %d", zm[0], count)
	}
	return c.unique("field")
}
