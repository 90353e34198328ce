package backup

import (
	"encoding/binary"
	"io"
	"time"
)

// RDBEntry is one key of an RDB stream, ready to be replayed with RESTORE.
type RDBEntry struct {
	// DB is the database number the key is in.
	DB int
	// Key is the key's name (binary-safe).
	Key string
	// Payload is what DUMP returns for the key: the value's type byte and
	// raw RDB bytes, the RDB version of the file (2 bytes, little-endian)
	// and the CRC-64 of everything before it (8 bytes, little-endian).
	// RESTORE refuses it on a server whose RDB version is older than the
	// file's. The entry owns it: it may be kept after the callback.
	Payload []byte
	// ExpireAt is the absolute expiry in Unix milliseconds, 0 for none.
	ExpireAt int64
}

// Expired reports whether the key's expiry has passed at now.
func (e RDBEntry) Expired(now time.Time) bool {
	return e.ExpireAt > 0 && e.ExpireAt <= now.UnixMilli()
}

// ReadRDBEntries walks an RDB stream as ParseRDB does and calls fn with
// each key in file order. Only one value is held at a time (plus the
// payloads fn keeps), so memory is bounded by the largest value, not by
// the file. An error from fn stops the walk and is returned as it is; a
// stream that does not parse or whose CRC-64 does not match returns an
// error wrapping ErrRDB — after the keys before the damage (for a bad
// checksum, all of them) were passed on.
func ReadRDBEntries(r io.Reader, fn func(RDBEntry) error) (RDBSummary, error) {
	return readRDB(r, func(version, db int, key []byte, expireAt int64, raw []byte) error {
		return fn(RDBEntry{DB: db, Key: string(key), Payload: DumpPayload(raw, version), ExpireAt: expireAt})
	})
}

// DumpPayload frames the raw bytes of a value (type byte first) as DUMP
// does: followed by the RDB version and the CRC-64 (Jones) of everything
// before it, both little-endian.
func DumpPayload(raw []byte, rdbVersion int) []byte {
	out := make([]byte, len(raw)+10)
	n := copy(out, raw)
	binary.LittleEndian.PutUint16(out[n:], uint16(rdbVersion))
	binary.LittleEndian.PutUint64(out[n+2:], crcJones(0, out[:n+2]))
	return out
}

// DumpVersion returns the RDB version in the trailer of a DUMP payload,
// false when the payload is too short to have one. A server's own DUMP
// tells the newest RDB version it reads.
func DumpVersion(payload []byte) (int, bool) {
	if len(payload) < 11 {
		return 0, false
	}
	return int(binary.LittleEndian.Uint16(payload[len(payload)-10:])), true
}
