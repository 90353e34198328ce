package runbook_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/runbook"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line    string
		args    []string
		wantErr string
	}{
		{"opsdeck check", []string{"check"}, ""},
		{"  opsdeck   check --target postgres,redis  ", []string{"check", "--target", "postgres,redis"}, ""},
		{`opsdeck maintain full --report 'my report.md'`, []string{"maintain", "full", "--report", "my report.md"}, ""},
		{`opsdeck x "a \"quoted\" word"`, []string{"x", `a "quoted" word`}, ""},
		{"opsdeck check # the morning check", []string{"check"}, ""},
		{"opsdeck backups list --since=24h", []string{"backups", "list", "--since=24h"}, ""},
		{"opsdeck check | grep CRIT", nil, `uses "|"`},
		{"opsdeck restore database <ID>", nil, `uses "<"`},
		{"opsdeck backup database && echo done", nil, `uses "&"`},
		{"opsdeck check; rm -rf /", nil, `uses ";"`},
		{"opsdeck check --config $HOME/x", nil, `uses "$"`},
		{`opsdeck check --config "$HOME/x"`, nil, `inside quotes`},
		{"opsdeck check --target 'postgres", nil, "unclosed ' quote"},
		{"kubectl get pods", nil, "is not an opsdeck command"},
		{"", nil, "is not an opsdeck command"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, err := runbook.ParseCommand(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(c.Args, tt.args) {
				t.Fatalf("= %q, %v; want %q", c.Args, err, tt.args)
			}
			// String quotes what needs quoting and parses back.
			back, err := runbook.ParseCommand(c.String())
			if err != nil || !reflect.DeepEqual(back.Args, c.Args) {
				t.Errorf("String() %q parses back to %q, %v", c.String(), back.Args, err)
			}
		})
	}
}

func TestCommandClassification(t *testing.T) {
	tests := []struct {
		line        string
		readOnly    bool
		interactive bool
	}{
		{"opsdeck check", true, false},
		{"opsdeck check --target postgres -o json", true, false},
		{"opsdeck --config /etc/opsdeck.yaml check", true, false},
		{"opsdeck config show", true, false},
		{"opsdeck config validate", true, false},
		{"opsdeck metrics", true, false},
		{"opsdeck metrics --watch", true, true},
		{"opsdeck logs deploy/api --since 10m", true, false},
		{"opsdeck logs api-1 --previous --container app", true, false},
		{"opsdeck logs deploy/api -f", true, true},
		{"opsdeck backups list", true, false},
		{"opsdeck backups verify --all", false, false},
		{"opsdeck backups prune --dry-run", true, false},
		{"opsdeck backups prune", false, false},
		{"opsdeck backup database", false, false},
		{"opsdeck restore database latest --dry-run", true, false},
		{"opsdeck restore database latest", false, false},
		{"opsdeck maintain health", true, false},
		{"opsdeck maintain security", true, false},
		{"opsdeck maintain db --dry-run", true, false},
		{"opsdeck maintain db", false, false},
		{"opsdeck maintain cleanup --yes", false, false},
		{"opsdeck monitoring render --out ./monitoring", false, false},
		{"opsdeck restore --help", true, false},
		{"opsdeck --version", true, false},
		{"opsdeck", false, true},
		{"opsdeck --read-only", false, true},
		{"opsdeck demo", false, true},
		{"opsdeck serve", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, err := runbook.ParseCommand(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ReadOnly(); got != tt.readOnly {
				t.Errorf("ReadOnly() = %v, want %v", got, tt.readOnly)
			}
			if got := c.Interactive(); got != tt.interactive {
				t.Errorf("Interactive() = %v, want %v", got, tt.interactive)
			}
		})
	}
}

func TestConfirmWord(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"opsdeck restore database latest", "stockdb"},
		{"opsdeck restore full 20261124_020000", "stockdb"},
		{"opsdeck restore database latest --target-db stockdb_drill", "stockdb_drill"},
		{"opsdeck restore database latest --target-db=scratch", "scratch"},
		{"opsdeck restore config latest", "stockapp"},
		{"opsdeck restore redis latest", "flushall"},
		{"opsdeck restore recover", "recover"},
		{"opsdeck restore database latest --dry-run", ""},
		{"opsdeck backup database", ""},
		{"opsdeck maintain cleanup", ""},
	}
	for _, tt := range []struct{ line, want string }{
		{"opsdeck restore database latest", "database"},
		{"opsdeck restore config latest", "config"},
	} {
		c, _ := runbook.ParseCommand(tt.line)
		if got := c.ConfirmWord("", ""); got != tt.want {
			t.Errorf("%s with no names known: ConfirmWord = %q, want %q", tt.line, got, tt.want)
		}
	}
	for _, tt := range tests {
		c, err := runbook.ParseCommand(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ConfirmWord("stockdb", "stockapp"); got != tt.want {
			t.Errorf("%s: ConfirmWord = %q, want %q", tt.line, got, tt.want)
		}
	}
}
