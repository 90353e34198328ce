package jsonbound

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// big is an element that costs far more than the 3 bytes of `{},`.
type big struct {
	A, B, C, D string
	Items      []big       `json:"items,omitempty"`
	Next       *big        `json:"next,omitempty"`
	When       time.Time   `json:"when"`
	Counts     map[int]int `json:"counts,omitempty"`
	Tags       []string    `json:"tags,omitempty"`
	Pad        [64]byte    `json:"-"`
}

type doc struct {
	Name  string          `json:"name"`
	Items []big           `json:"items"`
	ByKey map[string]*big `json:"by_key"`
	Any   any             `json:"any"`
	N     float64         `json:"n"`
}

func TestUnmarshalRefusesCostly(t *testing.T) {
	for _, in := range []string{
		`{"items":[` + strings.Repeat(`{},`, 100000) + `{}]}`,
		`{"items":[{"items":[` + strings.Repeat(`{},`, 100000) + `{}]}]}`,
		`{"items":[` + strings.Repeat(`null,`, 100000) + `null]}`,
		`{"\u0069tems":[` + strings.Repeat(`1,`, 100000) + `1]}`, // escaped key
		`{"ITEMS":[` + strings.Repeat(`1,`, 100000) + `1]}`,      // key in another case
		`{"by_key":{` + strings.Repeat(`"":{},`, 100000) + `"":{}}}`,
	} {
		var d doc
		err := Unmarshal([]byte(in), &d)
		if !errors.Is(err, ErrTooCostly) {
			t.Errorf("%.40s…: err = %v", in, err)
		}
	}
	// What opsdeck writes passes.
	d := doc{Name: "x", Items: []big{{A: "a", Tags: []string{"t"}, Counts: map[int]int{1: 2}, Next: &big{}}}, ByKey: map[string]*big{"k": {}}}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var got doc
	if err := Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got.Items[0].Counts, d.Items[0].Counts) {
		t.Fatalf("%v %+v", err, got)
	}
}

// FuzzUnmarshal: Unmarshal decodes what json.Unmarshal decodes, the same
// way, unless the document costs too much — and then decoding it does not
// allocate more than fuzzcheck allows.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"name":"x","items":[{"A":"a","items":[{}],"next":{"next":null},"when":"2024-01-02T03:04:05Z","counts":{"1":2},"tags":["t"]}],"by_key":{"k":{}},"any":[1,{"a":"b"}],"n":1e3}`))
	f.Add([]byte(`{"items":[{},{},{},{},{},{},{},{}]}`))
	f.Add([]byte(`{"\u0069tems":[null],"Name":"\ud83d\ude00","NAME":"x"}`))
	f.Add([]byte(`[1,2,"3"]`))
	f.Add([]byte(`{"items":{"a":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want doc
		var err error
		fuzzcheck.Run(t, len(data), func() {
			got = doc{}
			err = Unmarshal(data, &got)
		})
		if errors.Is(err, ErrTooCostly) {
			return
		}
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("err = %v, json.Unmarshal's %v", err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded\n%+v\njson.Unmarshal\n%+v", got, want)
		}
	})
}
