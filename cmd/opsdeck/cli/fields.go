package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Field is one key path of a Schema's documents and its JSON type.
type Field struct {
	// Path is the key path from the top: "results[].status" is the status
	// of each element of the results list, "keys.*" each value of the keys
	// object (a Go map).
	Path string
	// Type is the JSON type: string, number, boolean, object, array, or
	// null (an interface, or a value that encodes itself as null).
	Type string
}

// String is the field as a golden file line: path, a tab, type.
func (f Field) String() string { return f.Path + "\t" + f.Type }

// Fields returns the key paths of s's documents with their JSON types,
// "schema" first. They are read from a sample document: a value of s's
// type with every field set (one element in each list and map, "*" the
// key of a map), printed as the Printer prints it, so
// tags, omitempty, embedded structs and types that encode themselves
// count as they do in the real output. A recursive type is followed
// once. A test compares them with golden files: a path that disappears
// or changes type needs a new version of the schema.
func (s *Schema) Fields() ([]Field, error) {
	v := reflect.New(s.Type)
	fill(v.Elem(), map[reflect.Type]bool{})
	if s.Type.Kind() == reflect.Struct {
		setSchemaField(v.Elem(), s.ID)
	}
	doc, err := s.Document(v.Interface())
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var fields []Field
	seen := map[string]bool{}
	if err := paths(dec, "", func(path, typ string) {
		if !seen[path] {
			seen[path] = true
			fields = append(fields, Field{path, typ})
		}
	}); err != nil {
		return nil, fmt.Errorf("fields of %s: %w", s.ID, err)
	}
	return fields[1:], nil // the document itself
}

// GoldenText is the fields as a golden file holds them: a header naming
// the schema, then a line per field.
func (s *Schema) GoldenText() (string, error) {
	fields, err := s.Fields()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: the fields of `opsdeck %s -o json` (path<TAB>JSON type)\n", s.ID, s.Command)
	for _, f := range fields {
		b.WriteString(f.String() + "\n")
	}
	return b.String(), nil
}

// anyKey is the key of a sample map with integer keys; paths writes it
// as "*".
const anyKey = 97

// fill sets every settable part of v to a non-zero value; onStack holds
// the struct types being filled, so that a recursive type stops.
func fill(v reflect.Value, onStack map[reflect.Type]bool) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.String:
		v.SetString("x")
	case reflect.Pointer:
		if onStack[t.Elem()] {
			return
		}
		p := reflect.New(t.Elem())
		fill(p.Elem(), onStack)
		v.Set(p)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("x")) // base64; raw JSON refuses it (below)
			break
		}
		if onStack[elem(t.Elem())] {
			return
		}
		s := reflect.MakeSlice(t, 1, 1)
		fill(s.Index(0), onStack)
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), onStack)
		}
	case reflect.Map:
		if onStack[elem(t.Elem())] {
			return
		}
		k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		switch t.Key().Kind() {
		case reflect.String:
			k.SetString("*")
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			k.SetInt(anyKey)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			k.SetUint(anyKey)
		default:
			fill(k, onStack)
		}
		fill(e, onStack)
		m := reflect.MakeMap(t)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		onStack[t] = true
		defer delete(onStack, t)
		for i := range t.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f, onStack)
			}
		}
	}
	if !marshals(v) {
		v.SetZero() // a type that refuses what fill made of it
	}
}

// marshals reports whether v encodes as JSON.
func marshals(v reflect.Value) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := json.Marshal(v.Interface())
	return err == nil
}

// setSchemaField sets the struct v's own "schema" field, if it has one,
// to id, as a value that names its schema does.
func setSchemaField(v reflect.Value, id string) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == "schema" && f.Type.Kind() == reflect.String {
			v.Field(i).SetString(id)
		}
	}
}

// paths reads the next JSON value of dec and reports it at path, and
// what is under it: an object's keys after a dot, a list's elements
// after "[]".
func paths(dec *json.Decoder, path string, add func(path, typ string)) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			add(path, "array")
			for dec.More() {
				if err := paths(dec, path+"[]", add); err != nil {
					return err
				}
			}
		} else {
			add(path, "object")
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if key == strconv.Itoa(anyKey) {
					key = "*"
				}
				if err := paths(dec, join(key), add); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token()
		return err
	case json.Number:
		add(path, "number")
	case string:
		add(path, "string")
	case bool:
		add(path, "boolean")
	default:
		add(path, "null")
	}
	return nil
}
