package logging

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSetup(t *testing.T) {
	tests := []struct {
		name      string
		debug     bool
		wantDebug bool
	}{
		{"info level drops debug", false, false},
		{"debug level keeps debug", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state", "opsdeck")
			log, closer, err := Setup(dir, tt.debug)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("dbg")
			log.Info("hello", KeyTarget, "postgres", Err(errors.New("boom")), Took(time.Now()))
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(Path(dir))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("log perms = %v, want 0600", st.Mode().Perm())
			}
			dst, _ := os.Stat(dir)
			if dst.Mode().Perm() != 0o700 {
				t.Errorf("dir perms = %v, want 0700", dst.Mode().Perm())
			}
			recs := readLines(t, Path(dir))
			var msgs []string
			for _, r := range recs {
				msgs = append(msgs, r["msg"].(string))
			}
			gotDebug := strings.Contains(strings.Join(msgs, ","), "dbg")
			if gotDebug != tt.wantDebug {
				t.Errorf("debug record present = %v, want %v (%v)", gotDebug, tt.wantDebug, msgs)
			}
			last := recs[len(recs)-1]
			if last[KeyTarget] != "postgres" || last[KeyErr] != "boom" {
				t.Errorf("unexpected record %v", last)
			}
			if _, ok := last[KeyDuration]; !ok {
				t.Errorf("missing %q in %v", KeyDuration, last)
			}
		})
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name        string
		size        int64
		wantRotated bool
	}{
		{"small file is kept", 100, false},
		{"big file is rotated", MaxSize + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(Path(dir), []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(Path(dir), tt.size); err != nil {
				t.Fatal(err)
			}
			_, closer, err := Setup(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			closer.Close()
			_, err = os.Stat(Path(dir) + ".1")
			if rotated := err == nil; rotated != tt.wantRotated {
				t.Errorf("rotated = %v, want %v", rotated, tt.wantRotated)
			}
			st, _ := os.Stat(Path(dir))
			if tt.wantRotated && st.Size() != 0 {
				t.Errorf("new log size = %d, want 0", st.Size())
			}
		})
	}
}

func TestSetupErrors(t *testing.T) {
	if _, _, err := Setup("", false); err == nil {
		t.Error("empty state dir accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, _, err := Setup(filepath.Join(file, "sub"), false); err == nil {
		t.Error("state dir under a file accepted")
	}
}

func TestDiscard(t *testing.T) {
	Discard().Error("nothing")
	OrDiscard(nil).Info("nothing")
	if l := Discard(); OrDiscard(l) != l {
		t.Error("OrDiscard replaced a non-nil logger")
	}
}
