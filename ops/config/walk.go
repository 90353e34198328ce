package config

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

var durationType = reflect.TypeOf(time.Duration(0))

// walker checks a YAML document against the Config type before it is
// decoded: unknown keys, duplicate keys and values of the wrong kind are
// reported with their position (the decoder reports some of these without
// one), and the position of every value is recorded.
type walker struct {
	file string
	pos  map[string]position
	errs []error
}

func posOf(tk *token.Token) position {
	if tk == nil || tk.Position == nil {
		return position{}
	}
	return position{Line: tk.Position.Line, Col: tk.Position.Column}
}

func (w *walker) fail(p position, field, reason, hint string) {
	w.errs = append(w.errs, &FieldError{File: w.file, Line: p.Line, Col: p.Col, Field: field, Reason: reason, Hint: hint})
}

// unwrap strips tags and anchors; it reports false for aliases, whose target
// the walker does not follow (the decoder resolves and checks them).
func unwrap(n ast.Node) (ast.Node, bool) {
	for {
		switch x := n.(type) {
		case *ast.TagNode:
			n = x.Value
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			return n, false
		default:
			return n, true
		}
	}
}

// yamlFields maps the yaml keys of struct type t to their field types.
func yamlFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// leafIndex maps every key name in the Config tree to the full paths where it
// is valid, to suggest "postgres.dsn" for a misplaced "dsn".
var leafIndex = func() map[string][]string {
	idx := map[string][]string{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		fields, names := yamlFields(t)
		for _, n := range names {
			p := join(prefix, n)
			idx[n] = append(idx[n], p)
			if ft := fields[n]; ft.Kind() == reflect.Struct {
				walk(p, ft)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
	return idx
}()

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func describe(n ast.Node) string {
	switch x := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(x.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.NullNode:
		return "nothing"
	case *ast.BoolNode:
		return strconv.FormatBool(x.Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + n.GetToken().Value
	}
	return n.Type().String()
}

// walk checks node n against type t at the dotted path.
func (w *walker) walk(path string, n ast.Node, t reflect.Type) {
	if n == nil {
		return
	}
	n, ok := unwrap(n)
	if !ok {
		return
	}
	if _, isNull := n.(*ast.NullNode); isNull {
		return // an empty value keeps the default
	}
	p := posOf(n.GetToken())
	switch {
	case t == durationType:
		s, isStr := n.(*ast.StringNode)
		if !isStr {
			hint := `write a Go duration with a unit, such as "30s", "5m" or "1h30m"`
			if _, isInt := n.(*ast.IntegerNode); isInt {
				hint = `a bare number has no unit — write e.g. "` + n.GetToken().Value + `s"`
			}
			w.fail(p, path, "expected a duration, got "+describe(n), hint)
			return
		}
		if _, err := time.ParseDuration(s.Value); err != nil {
			w.fail(p, path, fmt.Sprintf("%q is not a duration", s.Value), `use Go duration syntax such as "500ms", "5s", "2m" or "1h30m"`)
		}
	case t.Kind() == reflect.Struct:
		w.walkStruct(path, n, t)
	case t.Kind() == reflect.Slice:
		seq, isSeq := n.(*ast.SequenceNode)
		if !isSeq {
			w.fail(p, path, "expected a list, got "+describe(n), `write one "- item" per line, or [a, b]`)
			return
		}
		for i, v := range seq.Values {
			ep := fmt.Sprintf("%s[%d]", path, i)
			if v != nil {
				w.pos[ep] = posOf(v.GetToken())
			}
			w.walk(ep, v, t.Elem())
		}
	case t.Kind() == reflect.String:
		switch n.(type) {
		case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
			w.fail(p, path, "expected a text value, got "+describe(n), "write a single value, quoted if it contains ': ' or '#'")
		}
	case t.Kind() == reflect.Bool:
		if _, isBool := n.(*ast.BoolNode); !isBool {
			w.fail(p, path, "expected true or false, got "+describe(n), "write true or false without quotes")
		}
	case t.Kind() == reflect.Float64:
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode:
		default:
			w.fail(p, path, "expected a number, got "+describe(n), "write a plain number without quotes or units, such as 80 or 2.5")
		}
	}
}

func (w *walker) walkStruct(path string, n ast.Node, t reflect.Type) {
	p := posOf(n.GetToken())
	mn, isMap := n.(ast.MapNode)
	if !isMap {
		hint := "write its fields as indented \"key: value\" lines"
		if path == "" {
			w.fail(p, path, "the configuration must be a mapping of keys to values, got "+describe(n), "start from `opsdeck config example`")
			return
		}
		w.fail(p, path, "expected a mapping, got "+describe(n), hint)
		return
	}
	fields, names := yamlFields(t)
	seen := map[string]position{}
	it := mn.MapRange()
	for it.Next() {
		k, v := it.Key(), it.Value()
		if _, merge := k.(*ast.MergeKeyNode); merge {
			continue
		}
		kp := posOf(k.GetToken())
		name := k.GetToken().Value
		if s, isStr := k.(*ast.StringNode); isStr {
			name = s.Value
		}
		ft, known := fields[name]
		if !known {
			w.unknown(path, name, kp, names)
			continue
		}
		child := join(path, name)
		if first, dup := seen[name]; dup {
			w.fail(kp, child, fmt.Sprintf("set twice (first on line %d)", first.Line), "keep only one")
			continue
		}
		seen[name] = kp
		vp := kp
		if v != nil {
			if _, isNull := v.(*ast.NullNode); !isNull {
				vp = posOf(v.GetToken())
			}
		}
		w.pos[child] = vp
		w.walk(child, v, ft)
	}
}

func (w *walker) unknown(path, name string, p position, names []string) {
	if path == "" {
		names = append(slices.Clone(names), environmentsKey) // read apart by Parse
	}
	reason := fmt.Sprintf("unknown field %q", name)
	hint := ""
	if s := suggest(name, names); s != "" {
		reason += fmt.Sprintf(" (did you mean %q?)", s)
	} else if elsewhere := leafIndex[strings.ToLower(name)]; len(elsewhere) > 0 {
		reason += fmt.Sprintf(" (did you mean %q?)", elsewhere[0])
		hint = "move it under the right section"
	} else {
		sorted := append([]string(nil), names...)
		sort.Strings(sorted)
		hint = "remove it; valid fields here: " + strings.Join(sorted, ", ")
	}
	w.errs = append(w.errs, &FieldError{File: w.file, Line: p.Line, Col: p.Col, Field: path, Reason: reason, Hint: hint})
}
