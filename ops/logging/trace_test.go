package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// useDefault points slog.Default at a JSON handler into a buffer at level
// for the test.
func useDefault(t *testing.T, level slog.Level) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(Redacting(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level, AddSource: true}), "pw-secret")))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func TestSpan(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		err     error
		outcome string
	}{
		{"ok", nil, "ok"},
		{"error", errors.New("boom pw-secret"), "error"},
		{"canceled", fmt.Errorf("step: %w", context.Canceled), "canceled"},
		{"timeout", context.DeadlineExceeded, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := useDefault(t, slog.LevelDebug)
			end := Span(ctx, "backup.component", KeySet, "20260101_000000", KeyStep, "database")
			end(tt.err, KeyBytes, 42)
			recs := records(t, buf)
			if len(recs) != 2 {
				t.Fatalf("records = %v", recs)
			}
			st, en := recs[0], recs[1]
			if st["msg"] != "backup.component start" || st[KeySet] != "20260101_000000" || st[KeyStep] != "database" || st["level"] != "DEBUG" {
				t.Errorf("start = %v", st)
			}
			if en["msg"] != "backup.component end" || en[KeySet] != "20260101_000000" || en[KeyBytes] != float64(42) || en[KeyOutcome] != tt.outcome {
				t.Errorf("end = %v", en)
			}
			if _, ok := en[KeyDuration]; !ok {
				t.Errorf("end without %s: %v", KeyDuration, en)
			}
			if tt.err == nil && en[KeyErr] != nil {
				t.Errorf("ok end has an error: %v", en)
			}
			if tt.err != nil && en[KeyErr] == nil {
				t.Errorf("failed end has no error: %v", en)
			}
			if strings.Contains(buf.String(), "pw-secret") {
				t.Errorf("secret leaked: %s", buf)
			}
			// The source is the span's caller, not this package's helper.
			src, _ := st["source"].(map[string]any)
			if file, _ := src["file"].(string); !strings.HasSuffix(file, "trace_test.go") {
				t.Errorf("source = %v, want this test file", st["source"])
			}
		})
	}
}

func TestSpanOff(t *testing.T) {
	buf := useDefault(t, slog.LevelInfo)
	end := Span(context.Background(), "op", "k", "v")
	end(errors.New("x"))
	Call(context.Background(), ClassExec, "exec", time.Now(), nil, KeyCommand, "pg_dump")
	if buf.Len() != 0 {
		t.Errorf("debug off wrote %s", buf)
	}
	if Enabled(context.Background()) {
		t.Error("Enabled at level info")
	}
}

func TestCall(t *testing.T) {
	buf := useDefault(t, slog.LevelDebug)
	Call(context.Background(), ClassPostgres, "postgres query", time.Now().Add(-time.Millisecond), nil, KeyTarget, "app@db:5432/app", KeySQL, "SELECT")
	recs := records(t, buf)
	if len(recs) != 1 {
		t.Fatalf("records = %v", recs)
	}
	r := recs[0]
	if r["msg"] != "postgres query" || r[KeyClass] != ClassPostgres || r[KeySQL] != "SELECT" || r[KeyOutcome] != "ok" {
		t.Errorf("record = %v", r)
	}
	if d, _ := r[KeyDuration].(float64); d < float64(time.Millisecond) {
		t.Errorf("took = %v", r[KeyDuration])
	}
}

func BenchmarkSpanOff(b *testing.B) {
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io_discard{}, nil)))
	defer slog.SetDefault(prev)
	ctx := context.Background()
	for b.Loop() {
		Span(ctx, "op", KeyStep, "database")(nil)
	}
}
