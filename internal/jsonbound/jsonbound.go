// Package jsonbound decodes JSON read from a place opsdeck does not
// control (a backup store) without letting a small document make the
// decoder allocate far more than its size.
//
// encoding/json allocates a whole element for each element of a slice,
// and grows the slice as it goes: `[{},{},…]` into a slice of a 176-byte
// struct allocates about a kilobyte for every 3 bytes of input. Unmarshal
// first walks the document along the type it decodes into, adding up
// what the decoder will allocate (elements with their growth, map
// entries, pointed-to values, strings), and refuses a document whose cost
// exceeds Factor times its size plus Slack — far above what any document
// opsdeck writes costs (an indented manifest costs a few times its size).
package jsonbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

const (
	// Factor and Slack bound the estimated allocation of a document.
	Factor = 32
	Slack  = 256 << 10
	// growth is what growing a slice or a map element by element costs
	// per element, in elements: the appends' copies add up to a few
	// times the final size.
	growth = 6
)

// ErrTooCostly is returned for a document that decodes to far more
// memory than its size.
var ErrTooCostly = errors.New("JSON document would decode to far more memory than its size")

// Unmarshal is json.Unmarshal(data, v) for a pointer v, after checking
// that decoding data does not cost more than Factor times its size plus
// Slack. A document that is not valid JSON gets json.Unmarshal's error.
func Unmarshal(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || !json.Valid(data) {
		return json.Unmarshal(data, v) // its error
	}
	w := walker{data: data, limit: int64(Factor)*int64(len(data)) + Slack}
	if err := w.value(t.Elem()); err != nil {
		return fmt.Errorf("%w (more than %d bytes for %d)", err, w.limit, len(data))
	}
	return json.Unmarshal(data, v)
}

// walker steps through a valid JSON document (json.Valid) along the type
// it decodes into, adding up the cost. It allocates nothing itself, but
// for a key with escapes.
type walker struct {
	data  []byte
	pos   int
	cost  int64
	limit int64
}

func (w *walker) add(n int64) error {
	w.cost += n
	if w.cost > w.limit {
		return ErrTooCostly
	}
	return nil
}

func (w *walker) space() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// next skips white space and returns the byte there, not consumed.
func (w *walker) next() byte {
	w.space()
	if w.pos == len(w.data) {
		return 0
	}
	return w.data[w.pos]
}

// value walks one value that decodes into t (nil: one that is skipped).
func (w *walker) value(t reflect.Type) error {
	c := w.next()
	if c == 'n' { // null: nothing allocated
		w.pos += len("null")
		return nil
	}
	for t != nil && t.Kind() == reflect.Pointer {
		if err := w.add(int64(t.Elem().Size())); err != nil {
			return err
		}
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		t = nil // any: not charged (none in what opsdeck decodes)
	}
	switch c {
	case '[':
		w.pos++
		return w.array(t)
	case '{':
		w.pos++
		return w.object(t)
	case '"':
		raw, _ := w.str()
		if t != nil {
			return w.add(int64(len(raw)))
		}
		return nil
	}
	// A number, true or false.
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return nil
		}
		w.pos++
	}
	return nil
}

// str consumes a string and returns its bytes between the quotes, and
// whether they hold an escape.
func (w *walker) str() (raw []byte, escaped bool) {
	w.pos++ // "
	start := w.pos
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case '\\':
			escaped = true
			w.pos += 2 // \uXXXX: the hex digits are neither quote nor backslash
		case '"':
			raw = w.data[start:w.pos]
			w.pos++
			return raw, escaped
		default:
			w.pos++
		}
	}
	return w.data[start:], escaped
}

func (w *walker) array(t reflect.Type) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	if w.next() == ']' {
		w.pos++
		return nil
	}
	for {
		if elem != nil && t.Kind() == reflect.Slice {
			if err := w.add(growth * int64(elem.Size())); err != nil {
				return err
			}
		}
		if err := w.value(elem); err != nil {
			return err
		}
		c := w.next()
		w.pos++
		if c != ',' {
			return nil // ]
		}
	}
}

func (w *walker) object(t reflect.Type) error {
	if w.next() == '}' {
		w.pos++
		return nil
	}
	for {
		w.next()
		raw, escaped := w.str()
		key := raw
		if escaped {
			var s string
			if err := json.Unmarshal(w.data[w.pos-len(raw)-2:w.pos], &s); err != nil {
				return err
			}
			key = []byte(s)
		}
		w.next()
		w.pos++ // :
		var ft reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Map:
			ft = t.Elem()
			if err := w.add(growth*int64(t.Key().Size()+t.Elem().Size()) + int64(len(key))); err != nil {
				return err
			}
		case t.Kind() == reflect.Struct:
			ft = field(t, key)
		}
		if err := w.value(ft); err != nil {
			return err
		}
		c := w.next()
		w.pos++
		if c != ',' {
			return nil // }
		}
	}
}

// field is the type of the field of struct t that key decodes into, as
// encoding/json matches it (the JSON name, else the same name in another
// case); nil for none. Embedded structs are not looked into.
func field(t reflect.Type, key []byte) reflect.Type {
	var fold reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if string(key) == name {
			return f.Type
		}
		if fold == nil && bytes.EqualFold(key, []byte(name)) {
			fold = f.Type
		}
	}
	return fold
}
