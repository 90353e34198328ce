package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Schema names one kind of document a command prints with -o json or
// -o yaml. The Printer puts its ID first in the document, as the
// top-level "schema" field; a document whose value is a list is an
// object {"schema": ID, "items": [...]}, so that every document is an
// object that says what it is. docs/json.md lists them all, with the
// compatibility rule: renaming or removing a field, or changing its type,
// needs a new version (/v2); adding one does not.
type Schema struct {
	// ID is "opsdeck.<command>/v<N>": the command path joined by dots,
	// with a suffix when one command prints two kinds of document
	// (opsdeck.restore.plan/v1).
	ID string
	// Command is the command that prints it, without "opsdeck"
	// ("backups list").
	Command string
	// Type is the Go type of the value printed (a pointer's element).
	Type reflect.Type
}

// schemaID is the shape of a Schema's ID.
var schemaID = regexp.MustCompile(`^opsdeck\.[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*/v[1-9][0-9]*$`)

// schemas holds every Schema by ID.
var schemas = map[string]*Schema{}

// NewSchema registers the document id, printed by the command (its path
// under opsdeck) as a value of type T. Each command package declares its
// schemas as package variables; an ID of the wrong shape or registered
// twice panics at start-up.
func NewSchema[T any](id, command string) *Schema {
	if !schemaID.MatchString(id) {
		panic(fmt.Sprintf("cli: schema %q is not opsdeck.<command>/v<N>", id))
	}
	if _, ok := schemas[id]; ok {
		panic(fmt.Sprintf("cli: schema %q registered twice", id))
	}
	s := &Schema{ID: id, Command: command, Type: elem(reflect.TypeFor[T]())}
	schemas[id] = s
	return s
}

// Schemas returns every registered Schema, sorted by ID.
func Schemas() []*Schema {
	all := make([]*Schema, 0, len(schemas))
	for _, s := range schemas {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *Schema) int { return strings.Compare(a.ID, b.ID) })
	return all
}

// list reports whether the document's value is a list (it goes under
// "items").
func (s *Schema) list() bool {
	k := s.Type.Kind()
	return (k == reflect.Slice && s.Type.Elem().Kind() != reflect.Uint8) || k == reflect.Array
}

// Document returns v as the compact JSON document of s: v's own JSON
// with "schema" first, or {"schema", "items"} for a list. A value of
// another type than s's is a programming error, and so is a top-level
// "schema" field of another value.
func (s *Schema) Document(v any) ([]byte, error) {
	if t := elem(reflect.TypeOf(v)); t != s.Type {
		return nil, fmt.Errorf("schema %s is a %v, not a %v: register the type the command prints", s.ID, s.Type, t)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode %s: %w", s.ID, err)
	}
	body := bytes.TrimSpace(buf.Bytes())
	id, _ := json.Marshal(s.ID)
	head := append([]byte(`{"schema":`), id...)
	if s.list() {
		if string(body) == "null" {
			body = []byte("[]")
		}
		return append(append(append(head, `,"items":`...), body...), '}'), nil
	}
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("schema %s: the value is %s, not an object", s.ID, Clip(string(body), 20))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("schema %s: %w", s.ID, err)
	}
	if raw, ok := top["schema"]; ok {
		if !bytes.Equal(raw, id) {
			return nil, fmt.Errorf("schema %s: the value has its own schema field %s", s.ID, raw)
		}
		return body, nil // it says so already (opsdeck version)
	}
	if len(top) == 0 {
		return append(head, '}'), nil
	}
	return append(append(head, ','), body[1:]...), nil
}

// elem is t without its pointers.
func elem(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
