package backup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// The fuzz targets of the readers of stored bytes (fuzz_*_test.go): an
// RDB snapshot, a pg_dump archive (counted, and its chunks merged) and a
// manifest. Their seeds and testdata/fuzz run with the other tests;
// scripts/fuzz.sh (make test, make fuzz) runs each with -fuzz. No input
// may panic, hang, or allocate more than fuzzcheck.Limit of its size.

// seedFiles adds every file under testdata/dir, whole and cut short.
func seedFiles(f *testing.F, dir string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata/%s: %v", dir, err)
	}
	var all [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		all = append(all, b)
	}
	return all
}

// cuts returns b and a few prefixes of it.
func cuts(b []byte) [][]byte {
	out := [][]byte{b}
	for _, n := range []int{len(b) - 1, len(b) - 9, len(b) / 2, 32, 9} {
		if n > 0 && n < len(b) {
			out = append(out, b[:n])
		}
	}
	return out
}

func FuzzRDB(f *testing.F) {
	seeds := seedFiles(f, "rdb")
	seeds = append(seeds, rdbFile("0010"), rdbFile("0003"), rdbWithExpiries(time.Unix(2_000_000_000, 0)))
	for _, s := range seeds {
		for _, c := range cuts(s) {
			f.Add(c)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sum RDBSummary
		var err error
		fuzzcheck.Run(t, len(data), func() { sum, err = ParseRDB(bytes.NewReader(data)) })
		if err != nil && !errors.Is(err, ErrRDB) {
			t.Fatalf("error does not wrap ErrRDB: %v", err)
		}
		var keys int64
		var entErr error
		fuzzcheck.Run(t, len(data), func() {
			keys = 0
			_, entErr = ReadRDBEntries(bytes.NewReader(data), func(e RDBEntry) error {
				keys++
				if v, ok := DumpVersion(e.Payload); !ok || v != sum.Version {
					return fmt.Errorf("payload of %q has version %d, the file %d", e.Key, v, sum.Version)
				}
				return nil
			})
		})
		if entErr != nil && !errors.Is(entErr, ErrRDB) {
			t.Fatalf("entries: %v", entErr)
		}
		if entErr == nil {
			// Reading the keys may refuse what skipping them accepts
			// (a bad LZF name), never the reverse.
			if err != nil {
				t.Fatalf("entries read, but ParseRDB fails: %v", err)
			}
			var total int64
			for _, n := range sum.Keys {
				total += n
			}
			if total != keys {
				t.Fatalf("%d entries, the summary counts %d", keys, total)
			}
		}
	})
}
