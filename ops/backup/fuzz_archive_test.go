package backup

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

func FuzzCountArchive(f *testing.F) {
	for _, s := range seedFiles(f, "pgdump") {
		for _, c := range cuts(s) {
			f.Add(c)
		}
	}
	f.Add([]byte("PGDMP\x01\x0e\x00\x04\x08\x01\x01\x00\x00\x00\x06rest of the archive"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcheck.Run(t, len(data), func() { _, _ = CountArchive(bytes.NewReader(data)) })
	})
}

func FuzzCoalesceArchive(f *testing.F) {
	for _, s := range seedFiles(f, "pgdump") {
		for _, c := range cuts(s) {
			f.Add(c, uint16(64))
		}
		f.Add(s, uint16(1))
		f.Add(s, uint16(4096))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		chunk := int(size)%(16<<10) + 1
		fuzzcheck.Run(t, len(data), func() { _, _ = CoalesceArchive(io.Discard, bytes.NewReader(data), chunk) })
		// The merged archive holds the same rows.
		var out bytes.Buffer
		n, err := CoalesceArchive(&out, bytes.NewReader(data), chunk)
		if n != int64(out.Len()) {
			t.Fatalf("says %d bytes written, wrote %d", n, out.Len())
		}
		if err != nil {
			return
		}
		before, err := CountArchive(bytes.NewReader(data))
		if err != nil {
			return
		}
		after, err := CountArchive(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("the merged archive does not read: %v", err)
		}
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("counts differ:\n%v\n%v", before, after)
		}
	})
}
