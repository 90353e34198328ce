package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/opsdeck/opsdeck/ops/redact"
)

// Redacting wraps h so that no secret reaches it, whatever a caller logs:
// the message and every string in an attribute (values inside groups, an
// error's text, a fmt.Stringer's text, the strings of a []string, and
// anything else through its JSON form) go through [redact.String] with
// secrets — so each listed secret and any password embedded in a DSN or URL
// is masked. Attributes added with WithAttrs are redacted once, when added.
func Redacting(h slog.Handler, secrets ...string) slog.Handler {
	var s []string
	for _, v := range secrets {
		if v != "" && !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return &redacting{next: h, secrets: s}
}

// redacting is the slog.Handler Redacting returns.
type redacting struct {
	next    slog.Handler
	secrets []string
}

func (r *redacting) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r *redacting) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, r.str(rec.Message), rec.PC)
	attrs := make([]slog.Attr, 0, rec.NumAttrs())
	rec.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, r.attr(a))
		return true
	})
	out.AddAttrs(attrs...)
	return r.next.Handle(ctx, out)
}

func (r *redacting) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = r.attr(a)
	}
	return &redacting{next: r.next.WithAttrs(red), secrets: r.secrets}
}

func (r *redacting) WithGroup(name string) slog.Handler {
	return &redacting{next: r.next.WithGroup(r.str(name)), secrets: r.secrets}
}

func (r *redacting) str(s string) string { return redact.String(s, r.secrets...) }

// attr returns a with every string in its value redacted.
func (r *redacting) attr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(r.str(a.Value.String()))
	case slog.KindGroup:
		g := a.Value.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = r.attr(ga)
		}
		a.Value = slog.GroupValue(red...)
	case slog.KindAny:
		a.Value = r.any(a.Value.Any())
	}
	return a
}

// any redacts a value of any other type: its text when it has one, else
// its JSON form (kept as it is when nothing in it is secret).
func (r *redacting) any(v any) slog.Value {
	switch x := v.(type) {
	case nil:
		return slog.AnyValue(nil)
	case error:
		return slog.StringValue(r.str(x.Error()))
	case fmt.Stringer:
		return slog.StringValue(r.str(x.String()))
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = r.str(s)
		}
		return slog.AnyValue(out)
	case []byte:
		return slog.StringValue(r.str(string(x)))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return slog.StringValue(r.str(fmt.Sprintf("%+v", v)))
	}
	if red := r.str(string(b)); red != string(b) {
		if json.Valid([]byte(red)) {
			return slog.AnyValue(json.RawMessage(red))
		}
		return slog.StringValue(red)
	}
	return slog.AnyValue(v)
}
