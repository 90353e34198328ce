package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/version"
)

func openTemp(t *testing.T) (*Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "opsdeck", "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func lines(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestOpenPermissions(t *testing.T) {
	l, path := openTemp(t)
	_ = l
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file perms = %v, want 0600", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("dir perms = %v, want 0700", dst.Mode().Perm())
	}

	// An existing world-readable file is tightened.
	loose := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(loose, 0o644)
	l2, err := Open(loose)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	st, _ = os.Stat(loose)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("loose file perms = %v, want 0600", st.Mode().Perm())
	}

	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
}

func TestEndResults(t *testing.T) {
	t.Setenv("SUDO_USER", "")
	t.Setenv("USER", "alice")
	tests := []struct {
		name       string
		err        error
		wantResult string
		wantErr    string
	}{
		{"success", nil, ResultOK, ""},
		{"failure", errors.New("pg_dump exited 1"), ResultError, "pg_dump exited 1"},
		{"read-only", fmt.Errorf("backup: %w", ErrReadOnly), ResultRefused, "read-only"},
		{"refused", fmt.Errorf("typed name mismatch: %w", ErrRefused), ResultRefused, "typed name mismatch"},
		{"secret in error", errors.New(`connect "postgres://app:pw123@db/stocks": refused`), ResultError, "postgres://app:xxxxx@db/stocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, path := openTemp(t)
			params := map[string]any{"database": "stocks", "password": "pw123", "dsn": "host=db password=pw123"}
			e := l.Begin("backup.create", "postgres/stocks", params)
			if err := e.End(tt.err); err != nil {
				t.Fatal(err)
			}
			recs := lines(t, path)
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			r := recs[0]
			if r.Result != tt.wantResult {
				t.Errorf("result = %q, want %q", r.Result, tt.wantResult)
			}
			if !strings.Contains(r.Error, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", r.Error, tt.wantErr)
			}
			raw, _ := os.ReadFile(path)
			if strings.Contains(string(raw), "pw123") {
				t.Errorf("secret leaked into the audit log: %s", raw)
			}
			if r.Who != "alice" || r.Action != "backup.create" || r.Target != "postgres/stocks" || r.ID == "" {
				t.Errorf("unexpected record %+v", r)
			}
			if r.OpsdeckVersion != version.String() || r.OpsdeckVersion == "" {
				t.Errorf("opsdeck_version = %q, want %q", r.OpsdeckVersion, version.String())
			}
			if r.Params["database"] != "stocks" || r.Params["dsn"] != "host=db password=xxxxx" {
				t.Errorf("params = %v", r.Params)
			}
			if r.End.Before(r.Start) || r.DurationMS < 0 {
				t.Errorf("bad times %v..%v (%d ms)", r.Start, r.End, r.DurationMS)
			}
			if err := e.End(nil); err == nil {
				t.Error("second End succeeded")
			}
			if got := len(lines(t, path)); got != 1 {
				t.Errorf("second End wrote a record: %d lines", got)
			}
		})
	}
}

func TestRefuseAndIdentity(t *testing.T) {
	t.Setenv("SUDO_USER", "bob")
	l, path := openTemp(t)
	l.AddSecrets("topsecret")
	if err := l.Refuse("restore.run", "stocks", fmt.Errorf("topsecret: %w", ErrReadOnly)); err != nil {
		t.Fatal(err)
	}
	s := l.WithSSH(SSH{User: "carol", KeyFingerprint: "SHA256:abc", RemoteAddr: "10.0.0.1:5555"})
	if err := s.Begin("maintain.vacuum", "stocks", nil).End(nil); err != nil {
		t.Fatal(err)
	}
	if err := l.WithWho("dave").Refuse("x", "y", nil); err != nil {
		t.Fatal(err)
	}
	recs := lines(t, path)
	if len(recs) != 3 {
		t.Fatalf("got %d records", len(recs))
	}
	if recs[0].Result != ResultRefused || recs[0].Who != "bob" || recs[0].SSH != nil || strings.Contains(recs[0].Error, "topsecret") {
		t.Errorf("refused record = %+v", recs[0])
	}
	if recs[1].SSH == nil || recs[1].SSH.User != "carol" || recs[1].SSH.KeyFingerprint != "SHA256:abc" {
		t.Errorf("ssh record = %+v", recs[1])
	}
	if recs[2].Who != "dave" || recs[2].Result != ResultRefused {
		t.Errorf("who record = %+v", recs[2])
	}
}

func TestNilLog(t *testing.T) {
	var l *Log
	if err := l.Begin("a", "b", nil).End(errors.New("x")); err != nil {
		t.Error(err)
	}
	if err := l.Refuse("a", "b", nil); err != nil {
		t.Error(err)
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
}

func TestClosedLog(t *testing.T) {
	l, _ := openTemp(t)
	e := l.Begin("a", "b", nil)
	l.Close()
	if err := e.End(nil); err == nil {
		t.Error("End on a closed log succeeded")
	}
}

// TestConcurrentAppend has several Log instances (as separate processes
// would) and many goroutines append to one file; every line must be intact
// and earlier content must be preserved.
func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(`{"id":"pre","action":"old","result":"ok","start":"2020-01-01T00:00:00Z","end":"2020-01-01T00:00:00Z"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const logs, workers, perWorker = 3, 8, 10
	big := strings.Repeat("p", 4096)
	var wg sync.WaitGroup
	for i := 0; i < logs; i++ {
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < perWorker; n++ {
					e := l.Begin("test.write", fmt.Sprintf("l%d-w%d-n%d", i, w, n), map[string]any{"pad": big})
					if err := e.End(nil); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	recs := lines(t, path)
	if want := 1 + logs*workers*perWorker; len(recs) != want {
		t.Fatalf("got %d records, want %d", len(recs), want)
	}
	if recs[0].ID != "pre" {
		t.Errorf("existing content was not preserved: first id %q", recs[0].ID)
	}
	seen := map[string]bool{}
	for _, r := range recs[1:] {
		if seen[r.Target] {
			t.Errorf("duplicate target %s", r.Target)
		}
		seen[r.Target] = true
		if r.Params["pad"] != big {
			t.Errorf("record %s has a damaged param", r.Target)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func rec(id, action, who, result string, start time.Time) string {
	r := Record{ID: id, Action: action, Target: "stocks", Who: who, Result: result, Start: start, End: start}
	b, _ := json.Marshal(r)
	return string(b) + "\n"
}

func TestRead(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	good := rec("1", "backup.create", "alice", ResultOK, t0) +
		rec("2", "restore.run", "bob", ResultError, t0.Add(time.Minute)) +
		rec("3", "backup.delete", "alice", ResultRefused, t0.Add(2*time.Minute))
	tests := []struct {
		name        string
		content     string
		filter      Filter
		wantIDs     []string
		wantCorrupt bool
	}{
		{"all newest first", good, Filter{}, []string{"3", "2", "1"}, false},
		{"truncated last line tolerated", good + `{"id":"4","act`, Filter{}, []string{"3", "2", "1"}, false},
		{"corrupt middle line reported", rec("1", "a", "x", "ok", t0) + "garbage\n" + rec("2", "a", "x", "ok", t0.Add(time.Second)), Filter{}, []string{"2", "1"}, true},
		{"blank lines ignored", good + "\n\n", Filter{}, []string{"3", "2", "1"}, false},
		{"action prefix", good, Filter{Action: "backup."}, []string{"3", "1"}, false},
		{"exact action", good, Filter{Action: "restore.run"}, []string{"2"}, false},
		{"who", good, Filter{Who: "bob"}, []string{"2"}, false},
		{"result", good, Filter{Result: ResultRefused}, []string{"3"}, false},
		{"since until", good, Filter{Since: t0.Add(30 * time.Second), Until: t0.Add(2 * time.Minute)}, []string{"2"}, false},
		{"limit keeps newest", good, Filter{Limit: 2}, []string{"3", "2"}, false},
		{"target", good, Filter{Target: "nope"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Read(writeFile(t, tt.content), tt.filter)
			if tt.wantCorrupt != errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, wantCorrupt %v", err, tt.wantCorrupt)
			}
			if !tt.wantCorrupt && err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	recs, err := Read(filepath.Join(t.TempDir(), "none.jsonl"), Filter{})
	if err != nil || len(recs) != 0 {
		t.Errorf("Read(missing) = %v, %v", recs, err)
	}
}

func TestReadAfterWrite(t *testing.T) {
	l, path := openTemp(t)
	for i := 0; i < 3; i++ {
		if err := l.Begin("a", fmt.Sprint(i), nil).End(nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	recs, err := Read(path, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Target != "2" || recs[2].Target != "0" {
		t.Errorf("unexpected order: %+v", recs)
	}
}

func TestCurrentUser(t *testing.T) {
	tests := []struct {
		sudo, user, want string
	}{
		{"root-helper", "root", "root-helper"},
		{"", "alice", "alice"},
	}
	for _, tt := range tests {
		t.Setenv("SUDO_USER", tt.sudo)
		t.Setenv("USER", tt.user)
		if got := CurrentUser(); got != tt.want {
			t.Errorf("CurrentUser() = %q, want %q", got, tt.want)
		}
	}
	t.Setenv("SUDO_USER", "")
	t.Setenv("USER", "")
	if CurrentUser() == "" {
		t.Error("CurrentUser() empty without env")
	}
}

func TestSetParam(t *testing.T) {
	l, path := openTemp(t)
	e := l.Begin("incident.bundle", "/tmp/b.tar.zst", nil)
	e.SetParam("size", 4096)
	e.SetParam("password", "hunter2")
	if err := e.End(nil); err != nil {
		t.Fatal(err)
	}
	recs := lines(t, path)
	if len(recs) != 1 || recs[0].Params["size"] != float64(4096) || recs[0].Params["password"] != "REDACTED" {
		t.Fatalf("records %+v", recs)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "hunter2") {
		t.Fatalf("a secret parameter is in the log:\n%s", b)
	}
}
