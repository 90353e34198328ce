// Package pgwal knows PostgreSQL's write-ahead log as files: LSNs,
// segment and timeline-history file names, and the page headers every
// WAL page starts with. It reads no server; the streamer (ops/wal) and
// the archive's catalog and verify (ops/backup) build on it.
package pgwal

import (
	"fmt"
	"strconv"
	"strings"
)

// LSN is a position in the WAL: a byte offset from its start.
type LSN uint64

// String formats l as PostgreSQL does: "16/B374D848".
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint32(l>>32), uint32(l)) }

// ParseLSN reads "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("bad LSN %q: want two hex numbers like 16/B374D848", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad LSN %q: want two hex numbers like 16/B374D848", s)
	}
	return LSN(h<<32 | l), nil
}

// MarshalText implements encoding.TextMarshaler: JSON holds "16/B374D848".
func (l LSN) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *LSN) UnmarshalText(b []byte) error {
	v, err := ParseLSN(string(b))
	*l = v
	return err
}
