package fingerprint

import (
	"bytes"
	"testing"
)

func TestOrderIndependentAndExact(t *testing.T) {
	rows := []string{"1\talice\t2024-01-01", "2\tbob\t\\N", "3\tcarol\t2024-03-03", "", "2\tbob\t\\N"}
	var a, b, c Table
	for _, r := range rows {
		a.Add([]byte(r))
	}
	for i := len(rows) - 1; i >= 0; i-- {
		b.Add([]byte(rows[i]))
	}
	if a.Digest() != b.Digest() {
		t.Fatalf("order changed the digest: %v vs %v", a.Digest(), b.Digest())
	}
	// The same rows as one stream cut at every odd place.
	var stream []byte
	for _, r := range rows {
		stream = append(append(stream, r...), '\n')
	}
	for len(stream) > 0 {
		n := min(3, len(stream))
		c.Write(stream[:n])
		stream = stream[n:]
	}
	if err := c.Close(); err != nil || c.Digest() != a.Digest() {
		t.Fatalf("stream: %v %v, want %v", c.Digest(), err, a.Digest())
	}
	var d Table
	for _, r := range rows {
		d.Add([]byte(r))
	}
	d.Remove([]byte(rows[0]))
	d.Add([]byte("1\talice\t2024-01-02"))
	if d.Digest().Sum == a.Digest().Sum || d.Rows() != a.Rows() {
		t.Fatalf("a changed row kept the digest")
	}
	var e Table
	e.Write([]byte("x\n\\.\n\n\n"))
	e.Remove([]byte(`\.`))
	e.Remove(nil)
	e.Remove(nil)
	var f Table
	f.Add([]byte("x"))
	if e.Digest() != f.Digest() {
		t.Fatalf("remove: %v vs %v", e.Digest(), f.Digest())
	}
	var z Table
	if z.Sum() != "00000000000000000000000000000000" || !bytes.Equal([]byte(z.Digest().Sum), []byte(z.Sum())) {
		t.Fatal(z.Sum())
	}
	var m1, m2 Table
	m1.Add([]byte(rows[0]))
	m2.Add([]byte(rows[1]))
	m1.Merge(&m2)
	var m3 Table
	m3.Add([]byte(rows[1]))
	m3.Add([]byte(rows[0]))
	if m1.Digest() != m3.Digest() {
		t.Fatal("merge")
	}
}
