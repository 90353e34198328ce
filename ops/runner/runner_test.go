package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > 1000 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// bothPaths runs f with stdout polled (Linux) and through os/exec's pipe.
func bothPaths(t *testing.T, f func(t *testing.T)) {
	for _, poll := range []bool{true, false} {
		t.Run(map[bool]string{true: "polled", false: "netpoller"}[poll], func(t *testing.T) {
			defer func(old bool) { pollStdout = old }(pollStdout)
			pollStdout = poll
			if poll && runtime.GOOS == "linux" {
				pp := newStdoutPipe()
				if pp == nil {
					t.Skip("the kernel refuses a large pipe here")
				}
				pp.w.Close()
				pp.Stop()
				pp.copyTo(io.Discard)
			}
			f(t)
		})
	}
}

func TestExec(t *testing.T) { bothPaths(t, testExec) }

func testExec(t *testing.T) {
	tests := []struct {
		name       string
		script     string
		stdout     func() *bytes.Buffer
		timeout    time.Duration
		wantOut    string
		wantErr    []string
		wantNotErr string
		wantCode   int
	}{
		{name: "streams stdout", script: `printf 'hello\nworld\n'`, wantOut: "hello\nworld\n"},
		{name: "env not argv", script: `printf '%s' "$SECRET_PW"`, wantOut: "s3cret"},
		{name: "exit status checked after the stream", script: `printf 'partial dump'; echo 'pg_dump: error: connection lost' >&2; exit 1`,
			wantOut: "partial dump", wantErr: []string{"exit status 1", "pg_dump: error: connection lost"}, wantCode: 1},
		{name: "keeps only the last stderr lines", script: `for i in $(seq 1 50); do echo "line $i" >&2; done; exit 3`,
			wantErr: []string{"line 50", "line 31"}, wantNotErr: "line 30\n", wantCode: 3},
		{name: "secrets redacted from stderr", script: `echo "password authentication failed: s3cret" >&2; exit 2`,
			wantErr: []string{"xxxxx"}, wantNotErr: "s3cret", wantCode: 2},
		{name: "timeout stops it", script: `sleep 30`, timeout: 200 * time.Millisecond, wantErr: []string{"stopped", "deadline exceeded"}, wantCode: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			var out bytes.Buffer
			var seen []string
			start := time.Now()
			err := Exec{KillGrace: time.Second}.Run(ctx, Cmd{
				Path: "sh", Args: []string{"-c", tt.script},
				Env: []string{"SECRET_PW=s3cret"}, Stdout: &out, StderrLines: 20,
				OnStderr: func(l string) { seen = append(seen, l) }, Secrets: []string{"s3cret"},
			})
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("want *Error, got %v", err)
			}
			if re.ExitCode != tt.wantCode {
				t.Errorf("exit code = %d, want %d", re.ExitCode, tt.wantCode)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.wantNotErr != "" && strings.Contains(err.Error()+"\n", tt.wantNotErr) {
				t.Errorf("error %q contains %q", err, tt.wantNotErr)
			}
		})
	}
}

func TestExecConsumerFailureStopsProgram(t *testing.T) {
	bothPaths(t, testExecConsumerFailureStopsProgram)
}

func testExecConsumerFailureStopsProgram(t *testing.T) {
	start := time.Now()
	err := Exec{KillGrace: time.Second}.Run(context.Background(), Cmd{
		Path: "sh", Args: []string{"-c", "yes dump-data"}, Stdout: &failWriter{},
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("want the writer's error, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("program was not stopped: %v", time.Since(start))
	}
}

func TestExecNotFound(t *testing.T) {
	err := Exec{}.Run(context.Background(), Cmd{Path: "/nonexistent/pg_dump"})
	if err == nil || !strings.Contains(err.Error(), "install it") {
		t.Fatalf("got %v", err)
	}
}

func TestFake(t *testing.T) {
	f := &Fake{Responses: map[string]Response{
		"pg_dump": {Stdout: "pg_dump (PostgreSQL) 15.18\n"},
		"psql":    {Stderr: []string{"FATAL: pw hunter2"}, Err: errors.New("exit status 2")},
	}}
	out, err := Output(context.Background(), f, Cmd{Path: "/usr/bin/pg_dump", Args: []string{"--version"}})
	if err != nil || out != "pg_dump (PostgreSQL) 15.18\n" {
		t.Fatalf("Output = %q, %v", out, err)
	}
	err = f.Run(context.Background(), Cmd{Path: "psql", Secrets: []string{"hunter2"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "FATAL") {
		t.Fatalf("fake error = %v", err)
	}
	if len(f.Calls) != 2 || f.Calls[0].String() != "/usr/bin/pg_dump --version" {
		t.Fatalf("calls = %v", f.Calls)
	}
}

// A large output arrives whole and in order, however the runner reads it.
func TestExecLargeOutput(t *testing.T) { bothPaths(t, testExecLargeOutput) }

func testExecLargeOutput(t *testing.T) {
	h := sha256.New()
	var n int64
	err := Exec{}.Run(context.Background(), Cmd{
		Path: "sh", Args: []string{"-c", "seq 1 3000000"},
		Stdout: writerFunc(func(p []byte) (int, error) { n += int64(len(p)); return h.Write(p) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	for i := 1; i <= 3000000; i++ {
		want.Write(strconv.AppendInt(nil, int64(i), 10))
		want.Write([]byte{'\n'})
	}
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Fatalf("stdout differs from seq's output (%d bytes)", n)
	}
}

// A grandchild that keeps stdout open does not hold Run past the grace.
func TestExecGrandchildHoldsStdout(t *testing.T) { bothPaths(t, testExecGrandchildHoldsStdout) }

func testExecGrandchildHoldsStdout(t *testing.T) {
	start := time.Now()
	var out bytes.Buffer
	err := Exec{KillGrace: 300 * time.Millisecond}.Run(context.Background(), Cmd{
		Path: "sh", Args: []string{"-c", "echo started; sleep 3 &"}, Stdout: &out,
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Run waited %v for the grandchild", took)
	}
	if err == nil {
		t.Fatal("want an error: stdout was not read to its end")
	}
	if out.String() != "started\n" {
		t.Errorf("stdout = %q", out.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
