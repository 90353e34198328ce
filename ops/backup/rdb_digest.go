package backup

import (
	"crypto/sha1" //nolint:gosec // Redis's DEBUG DIGEST is SHA-1; this reproduces it, it secures nothing
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// RDBDigest is what Redis's DEBUG DIGEST gives for the data of an RDB
// stream, computed by opsdeck from the stream itself (production servers
// run with DEBUG disabled). It follows computeDatasetDigest and
// xorObjectDigest in Redis 7.0's debug.c: per key, SHA-1 mixes of the
// key's name, its type and its value's elements in their serialized form
// (integers as decimal text, sorted-set scores as printf's %.17g), XORed
// as SHA-1s over the unordered parts (set members, hash fields,
// sorted-set members, the keys of a database), "!!expire!!" XORed in for a key with a TTL (the
// TTL itself is not part of it). Redis 7.2 prints scores in their shortest
// form instead, so a sorted set with a score such as 0.1 digests
// differently on 7.2 servers: compare with a server of the version that
// wrote the set. A stream digests as its entries (each ID as "ms.seq",
// then its fields and values, in order); its consumer groups are not part
// of it, as in Redis.
type RDBDigest struct {
	// Dataset is DEBUG DIGEST of a server loaded with the whole stream.
	Dataset string `json:"dataset"`
	// DBs is, per database number, DEBUG DIGEST of a server holding only
	// that database.
	DBs map[int]string `json:"dbs"`
	// Keys counts the keys digested per database.
	Keys map[int]int64 `json:"keys"`
	// Buckets is, per database, its keys' digests XORed into buckets by
	// their names (FNV-1a; a power of two of them, four for each key, at
	// most 1024; 8 bytes each, base64): when a database's digest
	// differs, the buckets that differ narrow it down to the keys in
	// them (DigestRDBAgainst). Absent in sets taken before.
	Buckets map[int]string `json:"buckets,omitempty"`
	// Unsupported names the value types found that opsdeck cannot digest
	// (modules, zipmaps): when set, the digests are not
	// comparable and the proof falls back to key counts.
	Unsupported []string `json:"unsupported,omitempty"`
}

// KeyDigestFunc is told, per key, its database, name and what DEBUG
// DIGEST-VALUE answers for it (hex).
type KeyDigestFunc func(db int, key []byte, valueDigest string)

// ErrDigestUnsupported marks a value type DigestRDB cannot digest.
var ErrDigestUnsupported = errors.New("value type not digested")

// Redis object types as DEBUG DIGEST mixes them in (server.h's OBJ_*).
const (
	objString = 0
	objList   = 1
	objSet    = 2
	objZset   = 3
	objHash   = 4
	objStream = 6
)

// DigestRDB walks an RDB stream and computes its DEBUG DIGEST, per
// database and for the whole; onKey (optional) gets each key's value
// digest.
func DigestRDB(r io.Reader, onKey KeyDigestFunc) (RDBDigest, RDBSummary, error) {
	return digestRDB(r, onKey, nil)
}

// digestRDB is DigestRDB; onDigest (optional) gets each key's part of its
// database's digest.
func digestRDB(r io.Reader, onKey KeyDigestFunc, onDigest func(db int, key []byte, kd *[20]byte)) (RDBDigest, RDBSummary, error) {
	perDB := map[int]*[20]byte{}
	buckets := map[int][]uint64{}
	d := RDBDigest{DBs: map[int]string{}, Keys: map[int]int64{}, Buckets: map[int]string{}}
	unsupported := map[string]bool{}
	sum, err := readRDB(r, func(_ int, db int, key []byte, expireAt int64, raw []byte) error {
		// computeDatasetDigest: the key's name mixed into a zero digest,
		// then the value's parts; DIGEST-VALUE starts from zero instead.
		var kd [20]byte
		mixDigest(&kd, key)
		if err := digestValue(&kd, raw); err != nil {
			if errors.Is(err, ErrDigestUnsupported) {
				unsupported[err.Error()] = true
				return nil
			}
			return fmt.Errorf("digest key %q: %w", key, err)
		}
		if expireAt != 0 {
			xorDigest(&kd, []byte("!!expire!!"))
		}
		if onKey != nil {
			var vd [20]byte
			_ = digestValue(&vd, raw) // it digested above
			if expireAt != 0 {
				xorDigest(&vd, []byte("!!expire!!"))
			}
			onKey(db, key, hex.EncodeToString(vd[:]))
		}
		acc := perDB[db]
		if acc == nil {
			acc = new([20]byte)
			perDB[db] = acc
			buckets[db] = make([]uint64, maxDigestBuckets)
		}
		xorDigest(acc, kd[:])
		buckets[db][keyBucket(key, maxDigestBuckets)] ^= binary.BigEndian.Uint64(kd[:8])
		if onDigest != nil {
			onDigest(db, key, &kd)
		}
		d.Keys[db]++
		return nil
	})
	if err != nil {
		return d, sum, err
	}
	for u := range unsupported {
		d.Unsupported = append(d.Unsupported, u)
	}
	slices.Sort(d.Unsupported)
	var final [20]byte
	dbs := make([]int, 0, len(perDB))
	for db := range perDB {
		dbs = append(dbs, db)
	}
	slices.Sort(dbs)
	for _, db := range dbs {
		var aux [4]byte
		binary.BigEndian.PutUint32(aux[:], uint32(db))
		var one [20]byte
		mixDigest(&one, aux[:])
		mixDigest(&final, aux[:])
		for i := range final {
			final[i] ^= perDB[db][i]
			one[i] ^= perDB[db][i]
		}
		d.DBs[db] = hex.EncodeToString(one[:])
		d.Buckets[db] = encodeBuckets(foldBuckets(buckets[db], bucketCount(d.Keys[db])))
	}
	d.Dataset = hex.EncodeToString(final[:])
	return d, sum, nil
}

// maxDigestBuckets is how many buckets a database's key digests are
// XORed into as the stream is read, before they are folded to
// bucketCount's.
const maxDigestBuckets = 1024

// bucketCount is how many buckets a database of keys keys records: a
// power of two, four for each key (so that most keys have one to
// themselves), at most maxDigestBuckets.
func bucketCount(keys int64) int {
	n := 1
	for n < maxDigestBuckets && int64(n) < 4*keys {
		n *= 2
	}
	return n
}

// keyBucket is key's bucket among n (a power of two): so a key is in
// bucket i of n exactly when its bucket of maxDigestBuckets is i mod n.
func keyBucket(key []byte, n int) int {
	h := fnv.New32a()
	h.Write(key)
	return int(h.Sum32() & uint32(n-1))
}

// foldBuckets XORs maxDigestBuckets buckets down to n.
func foldBuckets(b []uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i, v := range b {
		out[i%n] ^= v
	}
	return out
}

func encodeBuckets(b []uint64) string {
	raw := make([]byte, 8*len(b))
	for i, v := range b {
		binary.BigEndian.PutUint64(raw[8*i:], v)
	}
	return base64.RawStdEncoding.EncodeToString(raw)
}

func decodeBuckets(s string) ([]uint64, error) {
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(raw) == 0 || len(raw)%8 != 0 || len(raw)/8 > maxDigestBuckets || (len(raw)/8)&(len(raw)/8-1) != 0 {
		return nil, fmt.Errorf("the recorded key buckets do not decode (%d bytes)", len(raw))
	}
	out := make([]uint64, len(raw)/8)
	for i := range out {
		out[i] = binary.BigEndian.Uint64(raw[8*i:])
	}
	return out, nil
}

// maxNamedKeys is how many keys DigestRDBAgainst names per differing
// bucket.
const maxNamedKeys = 8

// DigestRDBAgainst is DigestRDB of an RDB stream that also names the
// keys whose digests differ from those a set recorded (rec's Buckets; nil
// or none: no names): per database whose buckets differ, the keys the
// stream holds in each differing bucket — a bucket holding one key names
// it (exactly, when the database has as many keys as recorded); one
// holding several names them as candidates; one holding none says a key
// is missing. At most limit lines.
func DigestRDBAgainst(r io.Reader, rec *RDBDigest, limit int) (RDBDigest, RDBSummary, []string, error) {
	wanted := map[int][]uint64{}
	if rec != nil && len(rec.Unsupported) == 0 {
		for db, s := range rec.Buckets {
			b, err := decodeBuckets(s)
			if err != nil {
				return RDBDigest{}, RDBSummary{}, nil, fmt.Errorf("db%d: %w", db, err)
			}
			wanted[db] = b
		}
	}
	got := map[int][]uint64{}
	keys := map[int]map[int][]string{} // db → bucket → keys (at most maxNamedKeys)
	counts := map[int]map[int]int{}    // db → bucket → keys
	stored, sum, err := digestRDB(r, nil, func(db int, key []byte, kd *[20]byte) {
		w, ok := wanted[db]
		if !ok {
			return
		}
		if got[db] == nil {
			got[db], keys[db], counts[db] = make([]uint64, len(w)), map[int][]string{}, map[int]int{}
		}
		i := keyBucket(key, len(w))
		got[db][i] ^= binary.BigEndian.Uint64(kd[:8])
		if counts[db][i]++; len(keys[db][i]) < maxNamedKeys {
			keys[db][i] = append(keys[db][i], string(key))
		}
	})
	if err != nil || len(wanted) == 0 {
		return stored, sum, nil, err
	}
	var out []string
	for _, db := range slices.Sorted(maps.Keys(wanted)) {
		w, g := wanted[db], got[db]
		if g == nil {
			g = make([]uint64, len(w))
		}
		for i := range w {
			if w[i] == g[i] {
				continue
			}
			if len(out) == limit {
				return stored, sum, append(out, "… and more"), nil
			}
			ks, n := keys[db][i], counts[db][i]
			switch {
			case len(ks) == 0:
				out = append(out, fmt.Sprintf("db%d: a key the set recorded is missing", db))
			case len(ks) == 1 && stored.Keys[db] == rec.Keys[db]:
				out = append(out, fmt.Sprintf("db%d key %q", db, ks[0]))
			case len(ks) == 1:
				out = append(out, fmt.Sprintf("db%d key %q, or a key missing beside it", db, ks[0]))
			case n > len(ks):
				out = append(out, fmt.Sprintf("db%d: one of %d keys sharing a bucket: %s, …", db, n, quoteAll(ks)))
			default:
				out = append(out, fmt.Sprintf("db%d: one of keys %s", db, quoteAll(ks)))
			}
		}
	}
	return stored, sum, out, nil
}

func quoteAll(ks []string) string {
	q := make([]string, len(ks))
	for i, k := range ks {
		q[i] = strconv.Quote(k)
	}
	return strings.Join(q, ", ")
}

// xorDigest XORs the SHA-1 of p into d (debug.c's xorDigest).
func xorDigest(d *[20]byte, p []byte) {
	h := sha1.Sum(p) //nolint:gosec // see the import
	for i := range d {
		d[i] ^= h[i]
	}
}

// mixDigest XORs the SHA-1 of p into d, then replaces d by its own SHA-1
// (debug.c's mixDigest): order matters from here on.
func mixDigest(d *[20]byte, p []byte) {
	xorDigest(d, p)
	*d = sha1.Sum(d[:]) //nolint:gosec // see the import
}

func mixType(d *[20]byte, t uint32) {
	var aux [4]byte
	binary.BigEndian.PutUint32(aux[:], t)
	mixDigest(d, aux[:])
}

// element is one decoded element of a packed encoding.
type element struct {
	s     []byte
	v     int64
	isInt bool
}

func (e element) bytes() []byte {
	if e.isInt {
		return strconv.AppendInt(nil, e.v, 10)
	}
	return e.s
}

func (e element) float() (float64, error) {
	if e.isInt {
		return float64(e.v), nil
	}
	return strconv.ParseFloat(string(e.s), 64)
}

// scoreText is a score as debug.c prints it: %.17g.
func scoreText(f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return []byte("inf")
	case math.IsInf(f, -1):
		return []byte("-inf")
	case math.IsNaN(f):
		return []byte("nan")
	}
	return strconv.AppendFloat(nil, f, 'g', 17, 64)
}

// digestValue mixes a value (its type byte, then its RDB form) into d as
// xorObjectDigest does, without the expire.
func digestValue(d *[20]byte, raw []byte) error {
	if len(raw) == 0 {
		return errors.New("empty value")
	}
	t, r := raw[0], &rawReader{b: raw[1:]}
	switch t {
	case 0:
		s, err := r.str()
		if err != nil {
			return err
		}
		mixType(d, objString)
		mixDigest(d, s)
		return nil
	case 1, 10, 14, 18:
		mixType(d, objList)
		return r.listElements(t, func(e element) { mixDigest(d, e.bytes()) })
	case 2, 11, 20:
		mixType(d, objSet)
		return r.setElements(t, func(e element) { xorDigest(d, e.bytes()) })
	case 3, 5, 12, 17:
		mixType(d, objZset)
		return r.zsetElements(t, func(m []byte, score float64) {
			var ed [20]byte
			mixDigest(&ed, m)
			mixDigest(&ed, scoreText(score))
			xorDigest(d, ed[:])
		})
	case 4, 13, 16:
		mixType(d, objHash)
		return r.hashElements(t, func(f, v []byte) {
			var ed [20]byte
			mixDigest(&ed, f)
			mixDigest(&ed, v)
			xorDigest(d, ed[:])
		})
	case 9:
		return fmt.Errorf("zipmap hash: %w", ErrDigestUnsupported)
	case 6, 7:
		return fmt.Errorf("module: %w", ErrDigestUnsupported)
	case 15, 19, 21:
		mixType(d, objStream)
		return r.streamEntries(func(id []byte, fields [][]byte) {
			mixDigest(d, id)
			for _, f := range fields {
				mixDigest(d, f)
			}
		})
	}
	return fmt.Errorf("type %d: %w", t, ErrDigestUnsupported)
}

// rawReader reads the RDB encodings of one value held in memory.
type rawReader struct {
	b []byte
	p int
}

func (r *rawReader) need(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.p) {
		return nil, io.ErrUnexpectedEOF
	}
	out := r.b[r.p : r.p+int(n)]
	r.p += int(n)
	return out, nil
}

// length reads an RDB length; special is set for the string encodings
// (then n is the encoding: 0-2 integers, 3 LZF).
func (r *rawReader) length() (n uint64, special bool, err error) {
	b, err := r.need(1)
	if err != nil {
		return 0, false, err
	}
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0] & 0x3F), false, nil
	case 1:
		c, err := r.need(1)
		if err != nil {
			return 0, false, err
		}
		return uint64(b[0]&0x3F)<<8 | uint64(c[0]), false, nil
	case 3:
		return uint64(b[0] & 0x3F), true, nil
	}
	switch b[0] {
	case 0x80:
		c, err := r.need(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(c)), false, nil
	case 0x81:
		c, err := r.need(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(c), false, nil
	}
	return 0, false, fmt.Errorf("bad length byte %#02x", b[0])
}

func (r *rawReader) count() (int, error) {
	n, special, err := r.length()
	if err != nil {
		return 0, err
	}
	if special || n > uint64(len(r.b)) {
		return 0, fmt.Errorf("bad element count %d", n)
	}
	return int(n), nil
}

// str reads a string in any of its encodings, integers as decimal text.
func (r *rawReader) str() ([]byte, error) {
	n, special, err := r.length()
	if err != nil {
		return nil, err
	}
	if !special {
		return r.need(n)
	}
	switch n {
	case 0, 1, 2:
		b, err := r.need(1 << n)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, intEncoded(b), 10), nil
	case 3:
		clen, cs, err := r.length()
		if err != nil || cs {
			return nil, errors.New("bad LZF length")
		}
		ulen, us, err := r.length()
		if err != nil || us {
			return nil, errors.New("bad LZF length")
		}
		c, err := r.need(clen)
		if err != nil {
			return nil, err
		}
		return lzfDecompress(c, int(ulen))
	}
	return nil, fmt.Errorf("bad string encoding %d", n)
}

// packed decodes a ziplist (zl) or listpack blob into its elements.
func packed(blob []byte, zl bool) ([]element, error) {
	var out []element
	fn := func(_ int, s []byte, v int64, isInt bool) {
		out = append(out, element{s: s, v: v, isInt: isInt})
	}
	var err error
	if zl {
		_, err = ziplistEntries(blob, fn)
	} else {
		_, err = listpackEntries(blob, false, fn)
	}
	return out, err
}

func (r *rawReader) blobElements(zl bool) ([]element, error) {
	b, err := r.str()
	if err != nil {
		return nil, err
	}
	return packed(b, zl)
}

// eachStr reads a count and that many strings (a list's or a set's
// plain encoding), handing each to fn.
func (r *rawReader) eachStr(fn func(element)) error {
	n, err := r.count()
	if err != nil {
		return err
	}
	for range n {
		s, err := r.str()
		if err != nil {
			return err
		}
		fn(element{s: s})
	}
	return nil
}

func (r *rawReader) listElements(t byte, fn func(element)) error {
	switch t {
	case 1:
		return r.eachStr(fn)
	case 10:
		es, err := r.blobElements(true)
		for _, e := range es {
			fn(e)
		}
		return err
	}
	nodes, err := r.count()
	if err != nil {
		return err
	}
	for range nodes {
		container := uint64(2) // quicklist (14): every node a ziplist
		if t == 18 {
			if container, _, err = r.length(); err != nil {
				return err
			}
		}
		if container == 1 { // PLAIN: the element itself
			s, err := r.str()
			if err != nil {
				return err
			}
			fn(element{s: s})
			continue
		}
		es, err := r.blobElements(t == 14)
		if err != nil {
			return err
		}
		for _, e := range es {
			fn(e)
		}
	}
	return nil
}

func (r *rawReader) setElements(t byte, fn func(element)) error {
	switch t {
	case 2:
		return r.eachStr(fn)
	case 11:
		b, err := r.str()
		if err != nil {
			return err
		}
		if err := checkIntset(b); err != nil {
			return err
		}
		enc, n := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
		for i := range n {
			d := b[8+i*enc:]
			var v int64
			switch enc {
			case 2:
				v = int64(int16(binary.LittleEndian.Uint16(d)))
			case 4:
				v = int64(int32(binary.LittleEndian.Uint32(d)))
			default:
				v = int64(binary.LittleEndian.Uint64(d))
			}
			fn(element{v: v, isInt: true})
		}
		return nil
	}
	es, err := r.blobElements(false)
	for _, e := range es {
		fn(e)
	}
	return err
}

func (r *rawReader) zsetElements(t byte, fn func(member []byte, score float64)) error {
	switch t {
	case 3, 5:
		n, err := r.count()
		if err != nil {
			return err
		}
		for range n {
			m, err := r.str()
			if err != nil {
				return err
			}
			var score float64
			if t == 5 {
				b, err := r.need(8)
				if err != nil {
					return err
				}
				score = math.Float64frombits(binary.LittleEndian.Uint64(b))
			} else {
				l, err := r.need(1)
				if err != nil {
					return err
				}
				switch l[0] {
				case 253:
					score = math.NaN()
				case 254:
					score = math.Inf(1)
				case 255:
					score = math.Inf(-1)
				default:
					b, err := r.need(uint64(l[0]))
					if err != nil {
						return err
					}
					if score, err = strconv.ParseFloat(string(b), 64); err != nil {
						return err
					}
				}
			}
			fn(m, score)
		}
		return nil
	}
	es, err := r.blobElements(t == 12)
	if err != nil {
		return err
	}
	if len(es)%2 != 0 {
		return errors.New("sorted set with a member without a score")
	}
	for i := 0; i < len(es); i += 2 {
		f, err := es[i+1].float()
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		fn(es[i].bytes(), f)
	}
	return nil
}

func (r *rawReader) hashElements(t byte, fn func(field, value []byte)) error {
	if t == 4 {
		n, err := r.count()
		if err != nil {
			return err
		}
		for range n {
			f, err := r.str()
			if err != nil {
				return err
			}
			v, err := r.str()
			if err != nil {
				return err
			}
			fn(f, v)
		}
		return nil
	}
	es, err := r.blobElements(t == 13)
	if err != nil {
		return err
	}
	if len(es)%2 != 0 {
		return errors.New("hash with a field without a value")
	}
	for i := 0; i < len(es); i += 2 {
		fn(es[i].bytes(), es[i+1].bytes())
	}
	return nil
}

// Stream listpack entry flags (t_stream.c).
const (
	streamItemDeleted    = 1
	streamItemSameFields = 2
)

// streamEntries calls fn with each live entry of a stream value, in
// order: its ID as "ms.seq" and its fields and values alternating. The
// metadata after the nodes (length, IDs, consumer groups) is not read.
func (r *rawReader) streamEntries(fn func(id []byte, fieldsValues [][]byte)) error {
	nodes, err := r.count()
	if err != nil {
		return err
	}
	for range nodes {
		key, err := r.str()
		if err != nil {
			return err
		}
		if len(key) != 16 {
			return fmt.Errorf("stream node key of %d bytes, not 16", len(key))
		}
		masterMS, masterSeq := binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:])
		es, err := r.blobElements(false)
		if err != nil {
			return err
		}
		if err := streamNode(es, masterMS, masterSeq, fn); err != nil {
			return err
		}
	}
	return nil
}

// streamNode walks one node's listpack: the master entry (count,
// deleted, the master fields, a 0), then each entry (flags, ID deltas,
// its fields unless it has the master's, values, its element count).
func streamNode(es []element, masterMS, masterSeq uint64, fn func([]byte, [][]byte)) error {
	i := 0
	next := func() (element, error) {
		if i >= len(es) {
			return element{}, errors.New("stream node ends inside an entry")
		}
		i++
		return es[i-1], nil
	}
	num := func() (int64, error) {
		e, err := next()
		if err != nil {
			return 0, err
		}
		if !e.isInt {
			v, perr := strconv.ParseInt(string(e.s), 10, 64)
			if perr != nil {
				return 0, fmt.Errorf("stream node: %q is not a number", e.s)
			}
			return v, nil
		}
		return e.v, nil
	}
	if _, err := num(); err != nil { // live entries
		return err
	}
	if _, err := num(); err != nil { // deleted entries
		return err
	}
	nf, err := num()
	if err != nil {
		return err
	}
	if nf < 0 || int(nf) > len(es) {
		return fmt.Errorf("stream node: %d master fields", nf)
	}
	master := make([][]byte, nf)
	for j := range master {
		e, err := next()
		if err != nil {
			return err
		}
		master[j] = e.bytes()
	}
	if _, err := num(); err != nil { // the master entry's terminator
		return err
	}
	for i < len(es) {
		flags, err := num()
		if err != nil {
			return err
		}
		dms, err := num()
		if err != nil {
			return err
		}
		dseq, err := num()
		if err != nil {
			return err
		}
		var fv [][]byte
		if flags&streamItemSameFields != 0 {
			for _, f := range master {
				v, err := next()
				if err != nil {
					return err
				}
				fv = append(fv, f, v.bytes())
			}
		} else {
			n, err := num()
			if err != nil {
				return err
			}
			if n < 0 || int(n) > len(es) {
				return fmt.Errorf("stream entry with %d fields", n)
			}
			for range n {
				f, err := next()
				if err != nil {
					return err
				}
				v, err := next()
				if err != nil {
					return err
				}
				fv = append(fv, f.bytes(), v.bytes())
			}
		}
		if _, err := num(); err != nil { // the entry's element count
			return err
		}
		if flags&streamItemDeleted != 0 {
			continue
		}
		id := fmt.Appendf(nil, "%d.%d", masterMS+uint64(dms), masterSeq+uint64(dseq))
		fn(id, fv)
	}
	return nil
}
