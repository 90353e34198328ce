// Package loggingtest captures the debug trace for tests: slog.Default is
// pointed at a debug-level JSON handler (through logging.Redacting) that
// writes into memory until the test ends.
package loggingtest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// Records is the captured log.
type Records struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Capture makes slog.Default write every record, debug included, into the
// returned Records until t ends (then the previous default is restored).
// secrets are masked as logging.Setup masks the configuration's. Tests
// that capture must not run in parallel: the default logger is global.
func Capture(t testing.TB, secrets ...string) *Records {
	t.Helper()
	r := &Records{}
	prev := slog.Default()
	h := slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug})
	slog.SetDefault(slog.New(logging.Redacting(h, secrets...)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return r
}

// Write implements io.Writer for the handler.
func (r *Records) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

// String is the captured log as written: JSON lines.
func (r *Records) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// All decodes every record.
func (r *Records) All(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(r.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// Find returns the records whose message is msg and whose attributes hold
// every key-value pair of match (compared as their text).
func (r *Records) Find(t testing.TB, msg string, match ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range r.All(t) {
		if m["msg"] != msg || !Has(m, match...) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// Has reports whether rec holds every key-value pair of match (values
// compared as their text).
func Has(rec map[string]any, match ...string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		v, ok := rec[match[i]]
		if !ok {
			return false
		}
		s, isStr := v.(string)
		if !isStr {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if s != match[i+1] {
			return false
		}
	}
	return true
}
