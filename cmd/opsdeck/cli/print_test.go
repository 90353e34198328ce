package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// testSchema is the document the printer tests print.
var testSchema = NewSchema[map[string]string]("opsdeck.test/v1", "test")

func TestPrinterResult(t *testing.T) {
	for _, tc := range []struct {
		format Output
		want   string
	}{
		{"text", "text\n"},
		{"json", "{\n  \"schema\": \"opsdeck.test/v1\",\n  \"a\": \"<b>\"\n}\n"},
		{"yaml", "schema: opsdeck.test/v1\na: <b>\n"},
	} {
		var out bytes.Buffer
		p := &Printer{Out: &out, Format: tc.format}
		err := p.Result(testSchema, map[string]string{"a": "<b>"}, func() error {
			_, err := out.WriteString("text\n")
			return err
		})
		if err != nil || out.String() != tc.want {
			t.Errorf("-o %s: %q, %v; want %q", tc.format, out.String(), err, tc.want)
		}
	}
}

func TestOutputValidate(t *testing.T) {
	for _, f := range Formats {
		if err := Output(f).Validate(); err != nil {
			t.Errorf("-o %s: %v", f, err)
		}
	}
	err := Output("xml").Validate()
	if code, _ := Code(err); code != 3 || !strings.Contains(err.Error(), "-o text, -o json or -o yaml") {
		t.Errorf("-o xml: %v", err)
	}
}

// row, rows and tree are the shapes a document may have.
type row struct {
	ID   string `json:"id"`
	Size int64  `json:"size,omitempty"`
}

type tree struct {
	Schema string         `json:"schema"`
	Name   string         `json:"name"`
	Values map[string]any `json:"values"`
}

var (
	rowsSchema = NewSchema[[]row]("opsdeck.test.rows/v1", "test rows")
	treeSchema = NewSchema[tree]("opsdeck.test.tree/v1", "test tree")
)

func TestSchemaDocument(t *testing.T) {
	for _, tc := range []struct {
		s    *Schema
		v    any
		want string
	}{
		{rowsSchema, []row{{ID: "a", Size: 2}, {ID: "b"}}, `{"schema":"opsdeck.test.rows/v1","items":[{"id":"a","size":2},{"id":"b"}]}`},
		{rowsSchema, []row(nil), `{"schema":"opsdeck.test.rows/v1","items":[]}`},
		{treeSchema, &tree{Schema: "opsdeck.test.tree/v1", Name: "x"}, `{"schema":"opsdeck.test.tree/v1","name":"x","values":null}`},
		{testSchema, map[string]string{}, `{"schema":"opsdeck.test/v1"}`},
	} {
		got, err := tc.s.Document(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s %#v: %s, %v; want %s", tc.s.ID, tc.v, got, err, tc.want)
		}
	}
	// A value of another type, or with another schema field, is a mistake.
	if _, err := treeSchema.Document(row{}); err == nil {
		t.Error("a row printed as a tree")
	}
	for _, other := range []string{"", "opsdeck.other/v1"} {
		if _, err := treeSchema.Document(tree{Schema: other}); err == nil {
			t.Errorf("a tree with the schema field %q printed", other)
		}
	}
}

// TestYAMLIsTheJSONDocument reads the YAML back with another YAML library
// (YAML 1.1 rules, as older readers have them): it must be the JSON
// document, strings that look like something else included.
func TestYAMLIsTheJSONDocument(t *testing.T) {
	values := map[string]any{}
	for i, s := range []string{"yes", "no", "on", "off", "y", "n", "true", "null", "~", "", " lead", "trail ", "1e3", "0x1F", "012",
		"1.5", "2026-01-02T03:04:05Z", "2026-01-02", "a: b", "- x", "#x", "a #b", "line\nline", "tab\there", "é ✓", "<b>&", "'q'", `"q"`, "@x", "%x", "*x", "!x", "{a}", "[a]", "|", ">"} {
		values[fmt.Sprintf("s%02d", i)] = s
	}
	values["n"] = []any{0, -1, 1.5, 1e21, 9007199254740991, 0.1}
	values["b"] = []any{true, false, nil}
	values["o"] = map[string]any{"yes": "no", "empty": map[string]any{}, "list": []any{}, "1": ".5", "2": []string{"3", "inf", "-1e-3"}}
	v := tree{Schema: treeSchema.ID, Name: "x", Values: values}
	doc, err := treeSchema.Document(v)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (&Printer{Out: &out, Format: "yaml"}).PrintDocument(treeSchema, v); err != nil {
		t.Fatal(err)
	}
	back, err := yaml.YAMLToJSON(out.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var want, got any
	if err := json.Unmarshal(doc, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(back, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("YAML read back:\n%s\nwant\n%s\nYAML:\n%s", back, doc, out.String())
	}
}

func TestPrintStream(t *testing.T) {
	for _, tc := range []struct {
		format Output
		want   string
	}{
		{"json", `{"schema":"opsdeck.test/v1","a":"1"}` + "\n" + `{"schema":"opsdeck.test/v1","a":"2"}` + "\n"},
		{"yaml", "---\nschema: opsdeck.test/v1\na: \"1\"\n---\nschema: opsdeck.test/v1\na: \"2\"\n"},
	} {
		var out bytes.Buffer
		p := &Printer{Out: &out, Format: tc.format}
		for _, a := range []string{"1", "2"} {
			if err := p.PrintStream(testSchema, map[string]string{"a": a}); err != nil {
				t.Fatal(err)
			}
		}
		if out.String() != tc.want {
			t.Errorf("-o %s stream:\n%s\nwant:\n%s", tc.format, out.String(), tc.want)
		}
	}
}

func TestSchemaFields(t *testing.T) {
	type inner struct {
		At   time.Time `json:"at"`
		Took int64     `json:"took,string"`
		Next *inner    `json:"next,omitempty"`
	}
	type Embedded struct {
		Kind string `json:"kind"`
	}
	type doc struct {
		Embedded
		Rows    []row            `json:"rows"`
		Counts  map[string]int   `json:"counts,omitempty"`
		Inner   *inner           `json:"inner"`
		Results []health.Result  `json:"results"`
		Raw     json.RawMessage  `json:"raw"`
		Skipped string           `json:"-"`
		Any     any              `json:"any"`
		Blob    []byte           `json:"blob"`
		Named   map[string][]row `json:"named"`
		ByDB    map[uint8]int64  `json:"by_db"`
		hidden  string
	}
	s := &Schema{ID: "opsdeck.test.fields/v1", Command: "test fields", Type: reflect.TypeFor[doc]()}
	fields, err := s.Fields()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		got = append(got, f.Path+" "+f.Type)
	}
	want := []string{"schema string", "kind string", "rows array", "rows[] object", "rows[].id string", "rows[].size number",
		"counts object", "counts.* number", "inner object", "inner.at string", "inner.took string",
		// health.Result encodes itself: its fields as it writes them.
		"results array", "results[] object", "results[].target string", "results[].check string", "results[].status string",
		"results[].value string", "results[].threshold string", "results[].hint string", "results[].runbook string", "results[].took_ms number",
		"raw null", "any null", "blob string", "named object", "named.* array", "named.*[] object", "named.*[].id string", "named.*[].size number",
		"by_db object", "by_db.* number"}
	if !slices.Equal(got, want) {
		t.Errorf("fields:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_ = doc{}.hidden
}

func TestPrinterTableAndStatus(t *testing.T) {
	var out bytes.Buffer
	p := &Printer{Out: &out}
	tb := p.Table("TARGET", "STATUS", "VALUE")
	tb.Row("postgres", p.Status(health.OK), Clip("a long value that is clipped", 10))
	tb.Row("redis", p.Status(health.Crit), "x")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "TARGET    STATUS  VALUE\npostgres  OK      a long va…\nredis     CRIT    x\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	p.Colour = true
	if got := p.Status(health.Warn); got != "\x1b[33mWARN   \x1b[0m" {
		t.Errorf("coloured status %q", got)
	}
}

func TestPrinterProgress(t *testing.T) {
	var errw bytes.Buffer
	p := &Printer{Err: &errw}
	at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	events := []progress.Event{
		{At: at, Kind: progress.Start, Step: "database"},
		{At: at, Kind: progress.Advance, Step: "database", Done: 1, Total: 4},
		{At: at, Kind: progress.Advance, Step: "database", Done: 2, Total: 4}, // within 2s of the last: dropped
		{At: at, Kind: progress.Warn, Step: "database", Message: "slow"},
		{At: at, Kind: progress.Finish, Step: "database"},
	}
	all := p.Progress(false)
	for _, e := range events {
		all(e)
	}
	want := "02:00:00 start database\n02:00:00 advance database 1/4\n02:00:00 warn database: slow\n02:00:00 finish database\n"
	if errw.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", errw.String(), want)
	}
	errw.Reset()
	quiet := p.Progress(true)
	for _, e := range events {
		quiet(e)
	}
	if got := errw.String(); got != "02:00:00 warn database: slow\n" {
		t.Errorf("quiet progress: %q", got)
	}
	if strings.Contains(Clip("ok", 10), "…") {
		t.Error("a short value was clipped")
	}
}
