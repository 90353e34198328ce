package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// stringer is a fmt.Stringer that quotes a secret.
type stringer string

func (s stringer) String() string { return "dial " + string(s) }

// payload is a struct that holds a secret in a field.
type payload struct {
	Name string
	DSN  string
}

func TestRedacting(t *testing.T) {
	const (
		pw     = "s3cr3t-PW!"
		s3Key  = "AKIA-secret-key-123"
		token  = "T000/B000/XXXXtoken"
		hidden = "unlisted-pw"
	)
	secrets := []string{pw, s3Key, token, "", pw}
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		// want must be in the output; the secrets never.
		want []string
	}{
		{"message", func(l *slog.Logger) { l.Info("connect with " + pw) }, []string{"connect with xxxxx"}},
		{"string attr", func(l *slog.Logger) { l.Info("m", "key", s3Key) }, []string{`"key":"xxxxx"`}},
		{"error attr", func(l *slog.Logger) { l.Info("m", Err(fmt.Errorf("auth failed for %s", pw))) }, []string{`"err":"auth failed for xxxxx"`}},
		{"error value", func(l *slog.Logger) { l.Info("m", "e", errors.New(token)) }, []string{`"e":"xxxxx"`}},
		{"nested group", func(l *slog.Logger) {
			l.Info("m", slog.Group("outer", slog.Group("inner", "v", "x"+pw+"y", "n", 3)))
		}, []string{`"outer":{"inner":{"v":"xxxxxxy","n":3}}`}},
		{"stringer", func(l *slog.Logger) { l.Info("m", "s", stringer(pw)) }, []string{`"s":"dial xxxxx"`}},
		{"string slice", func(l *slog.Logger) { l.Info("m", "args", []string{"-h", "db", pw}) }, []string{`"args":["-h","db","xxxxx"]`}},
		{"struct", func(l *slog.Logger) {
			l.Info("m", "p", payload{Name: "db", DSN: "host=db password=" + pw})
		}, []string{`"p":{"Name":"db","DSN":"host=db password=xxxxx"}`}},
		{"struct without a secret is kept", func(l *slog.Logger) { l.Info("m", "p", payload{Name: "db"}) }, []string{`"p":{"Name":"db","DSN":""}`}},
		{"unlisted URL password", func(l *slog.Logger) { l.Info("m", "url", "postgres://app:"+hidden+"@db/x") }, []string{`postgres://app:xxxxx@db/x`}},
		{"percent-encoded", func(l *slog.Logger) { l.Info("m", "url", "redis://:s3cr3t-PW%21@r:6379") }, []string{`redis://:xxxxx@r:6379`}},
		{"with attrs", func(l *slog.Logger) { l.With("dsn", "password="+pw).WithGroup("g").Info("m", "k", s3Key) }, []string{`"dsn":"password=xxxxx"`, `"g":{"k":"xxxxx"}`}},
		{"log valuer", func(l *slog.Logger) { l.Info("m", "v", valuer(pw)) }, []string{`"v":"xxxxx"`}},
		{"other kinds kept", func(l *slog.Logger) {
			l.Info("m", "n", 42, "ok", true, "took", time.Second, "nil", nil)
		}, []string{`"n":42`, `"ok":true`, `"took":1000000000`, `"nil":null`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(Redacting(slog.NewJSONHandler(&buf, nil), secrets...))
			tt.log(l)
			out := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %s:\n%s", w, out)
				}
			}
			for _, s := range []string{pw, s3Key, token, hidden, "s3cr3t-PW%21"} {
				if strings.Contains(out, s) {
					t.Errorf("secret %q leaked:\n%s", s, out)
				}
			}
		})
	}
}

// valuer resolves to a secret.
type valuer string

func (v valuer) LogValue() slog.Value { return slog.StringValue(string(v)) }

func TestRedactingEnabled(t *testing.T) {
	h := Redacting(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if h.Enabled(context.Background(), slog.LevelDebug) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("Enabled does not follow the wrapped handler")
	}
}

func TestSetupRedacts(t *testing.T) {
	dir := t.TempDir()
	log, closer, err := Setup(dir, true, "hunter2-long")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("dsn is postgres://u:hunter2-long@h/db", Err(errors.New("password=hunter2-long refused")))
	closer.Close()
	recs := readLines(t, Path(dir))
	if len(recs) != 1 {
		t.Fatalf("records = %v", recs)
	}
	if recs[0]["msg"] != "dsn is postgres://u:xxxxx@h/db" || recs[0][KeyErr] != "password=xxxxx refused" {
		t.Errorf("record = %v", recs[0])
	}
	if _, ok := recs[0]["source"]; !ok {
		t.Errorf("debug record without its source: %v", recs[0])
	}
}

func BenchmarkRedacting(b *testing.B) {
	l := slog.New(Redacting(slog.NewJSONHandler(io_discard{}, nil), "s3cr3t", "another-secret"))
	for b.Loop() {
		l.Info("postgres query", KeyClass, ClassPostgres, KeyTarget, "app@127.0.0.1:5432/app", KeySQL, "SELECT", KeyDuration, time.Millisecond)
	}
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }
