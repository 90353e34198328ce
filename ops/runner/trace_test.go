package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
)

func TestExecTrace(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		code    string
		outcome string
		bytes   string
	}{
		{"ok", `printf 'hello'`, "0", "ok", "5"},
		{"exit status", `printf 'ab'; exit 3`, "3", "error", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := loggingtest.Capture(t)
			c := Cmd{Path: "sh", Args: []string{"-c", tt.script, "sh", "--password=s3cret-arg"},
				Env: []string{"PGPASSWORD=env-secret-9"}, Secrets: []string{"s3cret-arg"}}
			Exec{}.Run(context.Background(), c)
			rs := rec.Find(t, "exec", logging.KeyClass, logging.ClassExec, logging.KeyExitCode, tt.code,
				logging.KeyOutcome, tt.outcome, logging.KeyBytes, tt.bytes)
			if len(rs) != 1 {
				t.Fatalf("records = %v\n%s", rs, rec)
			}
			cmd, _ := rs[0][logging.KeyCommand].(string)
			if !strings.HasPrefix(cmd, "sh -c ") || !strings.HasSuffix(cmd, "--password=xxxxx") {
				t.Errorf("cmd = %q", cmd)
			}
			if _, ok := rs[0][logging.KeyDuration]; !ok {
				t.Errorf("record without its duration: %v", rs[0])
			}
			for _, s := range []string{"s3cret-arg", "env-secret-9"} {
				if strings.Contains(rec.String(), s) {
					t.Errorf("the trace holds %q:\n%s", s, rec)
				}
			}
		})
	}
}
