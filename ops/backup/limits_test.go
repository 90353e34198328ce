package backup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// The readers' answers to the crashers the fuzz targets found (their
// inputs are under testdata/fuzz as well): a length read from the input
// never sizes an allocation by itself.

// rdbLen encodes an RDB length.
func rdbLen(n int) []byte {
	switch {
	case n < 1<<6:
		return []byte{byte(n)}
	case n < 1<<14:
		return []byte{0x40 | byte(n>>8), byte(n)}
	}
	return binary.BigEndian.AppendUint32([]byte{0x80}, uint32(n))
}

// rdbOf frames body as an RDB of version 10 with its checksum.
func rdbOf(body ...[]byte) []byte {
	b := []byte("REDIS0010")
	for _, p := range body {
		b = append(b, p...)
	}
	b = append(b, 0xFF)
	return binary.LittleEndian.AppendUint64(b, crcJones(0, b))
}

// lzfName is an LZF-compressed key name: one literal byte, then refs back
// references of 264 bytes each (3 bytes apiece, LZF's best ratio).
func lzfName(refs int) []byte {
	c := []byte{0, 'a'}
	for range refs {
		c = append(c, 0xE0, 0xFF, 0x00)
	}
	out := append([]byte{0xC3}, rdbLen(len(c))...)
	out = append(out, rdbLen(1+264*refs)...)
	return append(out, c...)
}

func TestRDBLengthsAreNotTrusted(t *testing.T) {
	aux := func(val []byte) []byte { return append([]byte{0xFA, 1, 'k'}, val...) }
	gib := rdbLen(1 << 30)
	cases := []struct {
		name, want string
		data       []byte
	}{
		// An AUX value announcing 1 GiB, with 3 bytes there (found by
		// FuzzRDB: the string was allocated at its announced length).
		{"string", "unexpected EOF", rdbOf(aux(append(gib, "abc"...)))},
		{"LZF packed length", "unexpected EOF", rdbOf(aux(append(append([]byte{0xC3}, gib...), 5, 0, 'a')))},
		{"LZF unpacked length", "cannot unpack to", rdbOf(aux(append(append([]byte{0xC3, 2}, gib...), 0, 'a')))},
		// Keys whose names are nothing but back references: 85 times
		// their size each.
		{"LZF bomb", "more than opsdeck unpacks", rdbOf(bytes.Repeat(append(append([]byte{0}, lzfName(100)...), 0), 400))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			fuzzcheck.Run(t, len(tc.data), func() {
				_, err = ReadRDBEntries(bytes.NewReader(tc.data), func(RDBEntry) error { return nil })
			})
			if !errors.Is(err, ErrRDB) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}

	// A long name that packs well is read: the budget is for the file.
	long := rdbOf(append(append([]byte{0}, lzfName(400)...), 1, 'v'))
	var keys []string
	if _, err := ReadRDBEntries(bytes.NewReader(long), func(e RDBEntry) error {
		keys = append(keys, e.Key)
		return nil
	}); err != nil || len(keys) != 1 || keys[0] != strings.Repeat("a", 1+264*400) {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
}

// archInt and archStr encode pg_dump's WriteInt and WriteStr (4-byte ints).
func archInt(v int) []byte {
	sign := byte(0)
	if v < 0 {
		sign, v = 1, -v
	}
	return binary.LittleEndian.AppendUint32([]byte{sign}, uint32(v))
}

func archStr(s string) []byte { return append(archInt(len(s)), s...) }

// archiveOf is a -Z0 archive of format 1.14 with toc entries (given
// whole) and then body.
func archiveOf(toc [][]byte, body []byte) []byte {
	b := append([]byte("PGDMP"), 1, 14, 0, 4, 8, 1)
	b = append(b, archInt(0)...) // compression level
	for range 7 {
		b = append(b, archInt(0)...)
	}
	b = append(append(append(b, archStr("db")...), archStr("15.1")...), archStr("15.1")...)
	b = append(b, archInt(len(toc))...)
	for _, e := range toc {
		b = append(b, e...)
	}
	return append(b, body...)
}

func TestArchiveLengthsAreNotTrusted(t *testing.T) {
	var empty []byte // data blocks without a chunk
	for id := range 10000 {
		empty = append(append(append(empty, blkData), archInt(id)...), archInt(0)...)
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		// A TOC string announcing 1 GiB, with 3 bytes there.
		{"string", "unexpected EOF", archiveOf([][]byte{append(append(archInt(1), archInt(0)...), append(archInt(1<<30), "abc"...)...)}, nil)},
		// Each data block, 11 bytes, allocated a 64 KiB buffer.
		{"blocks", "", archiveOf(nil, empty)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			fuzzcheck.Run(t, len(tc.data), func() { _, err = CountArchive(bytes.NewReader(tc.data)) })
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("count: err = %v, want %q", err, tc.want)
			}
			fuzzcheck.Run(t, len(tc.data), func() { _, err = CoalesceArchive(io.Discard, bytes.NewReader(tc.data), 256<<10) })
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("coalesce: err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestManifestSizeIsNotTrusted(t *testing.T) {
	head := `{"format":1,"id":"20240501_020304","components":[`
	for _, in := range []string{
		// 3 bytes of input for each 176-byte Component: json.Unmarshal
		// allocated 354 times the document.
		head + strings.Repeat(`{},`, 100000) + `{}]}`,
		head + `{"files":[` + strings.Repeat(`{},`, 100000) + `{}]}]}`,
		head + `{"postgres":{"tables":[` + strings.Repeat(`1,`, 100000) + `1]}}]}`,
	} {
		var err error
		fuzzcheck.Run(t, len(in), func() { _, err = ParseManifest([]byte(in)) })
		if err == nil || !strings.Contains(err.Error(), "far more memory") {
			t.Errorf("%.60s…: err = %v", in, err)
		}
	}
	// A set with 100,000 tables is read.
	m := sampleManifest()
	c := &m.Components[0]
	for i := range 100000 {
		c.Postgres.Tables = append(c.Postgres.Tables, TableCount{Schema: "public", Name: fmt.Sprintf("t%d", i), Rows: int64(i)})
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(b)
	if err != nil || len(got.Components[0].Postgres.Tables) != 100001 {
		t.Fatal(err)
	}
}
