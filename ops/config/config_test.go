package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cleanEnv isolates a test from the caller's environment.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"DATABASE_URL", "REDIS_URL", "OPSDECK_READ_ONLY", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGSERVICE", "PGSERVICEFILE", "PGPASSFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(v, "")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "cfg"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Chdir(t.TempDir())
}

// plain strips the origin metadata so configs can be compared.
func plain(c *Config) Config {
	p := *c
	p.meta = nil
	p.Path = ""
	return p
}

func TestDefault(t *testing.T) {
	cleanEnv(t)
	home := os.Getenv("HOME")
	d := Default()
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"cpu", d.Thresholds.CPUPercent, Limit{80, 90}},
		{"memory", d.Thresholds.MemoryPercent, Limit{85, 90}},
		{"disk", d.Thresholds.DiskPercent, Limit{90, 95}},
		{"api p95", d.Thresholds.APIP95, DurationLimit{2 * time.Second, 5 * time.Second}},
		{"api errors", d.Thresholds.APIErrorRatePercent, Limit{1, 5}},
		{"db connections", d.Thresholds.DBConnectionsPercent, Limit{80, 95}},
		{"cache hit (lower is worse)", d.Thresholds.CacheHitRatioPercent, Limit{90, 80}},
		{"redis memory", d.Thresholds.RedisMemoryPercent, Limit{90, 95}},
		{"redis hit (lower is worse)", d.Thresholds.RedisHitRatePercent, Limit{90, 80}},
		{"longest tx", d.Thresholds.LongestTransaction, DurationLimit{5 * time.Minute, 30 * time.Minute}},
		{"replication lag", d.Thresholds.ReplicationLag, DurationLimit{30 * time.Second, 5 * time.Minute}},
		{"pod restarts", d.Thresholds.PodRestarts, Limit{3, 10}},
		{"check timeout", d.Timeouts.Check, 5 * time.Second},
		{"connect timeout", d.Timeouts.Connect, 3 * time.Second},
		{"state dir", d.StateDir, filepath.Join(home, "state", "opsdeck")},
		{"backup dir", d.Backup.Dir, filepath.Join(home, "data", "opsdeck", "backups")},
		{"namespaces (the context's)", d.Kubernetes.Namespaces, []string(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if err := d.Validate(); err != nil {
		t.Errorf("Default() does not validate: %v", err)
	}
}

func TestDefaultXDGFallback(t *testing.T) {
	cleanEnv(t)
	home := os.Getenv("HOME")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	t.Setenv("XDG_CONFIG_HOME", "")
	d := Default()
	if want := filepath.Join(home, ".local", "state", "opsdeck"); d.StateDir != want {
		t.Errorf("StateDir = %q, want %q", d.StateDir, want)
	}
	if want := filepath.Join(home, ".local", "share", "opsdeck", "backups"); d.Backup.Dir != want {
		t.Errorf("Backup.Dir = %q, want %q", d.Backup.Dir, want)
	}
	if want := filepath.Join(home, ".config", "opsdeck", "config.yaml"); SearchPaths()[0] != want {
		t.Errorf("SearchPaths()[0] = %q, want %q", SearchPaths()[0], want)
	}
}

func TestExampleMatchesDefault(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(path, []byte(ExampleYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	if got, want := plain(cfg), plain(Default()); !reflect.DeepEqual(got, want) {
		t.Errorf("example differs from Default():\n got %+v\nwant %+v", got, want)
	}
	if cfg.Line("thresholds.cpu_percent.warn") == 0 {
		t.Error("no line recorded for thresholds.cpu_percent.warn")
	}
}

func TestLoadSearch(t *testing.T) {
	tests := []struct {
		name     string
		user     string // content of $XDG_CONFIG_HOME/opsdeck/config.yaml
		local    string // content of ./opsdeck.yaml
		wantPath string // "user", "local" or ""
		wantNS   string
	}{
		{"none found gives defaults", "", "", "", ""},
		{"user file", "kubernetes:\n  namespaces: [user]\n", "", "user", "user"},
		{"local file", "", "kubernetes:\n  namespaces: [local]\n", "local", "local"},
		{"user file wins", "kubernetes:\n  namespaces: [user]\n", "kubernetes:\n  namespaces: [local]\n", "user", "user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			userPath := UserConfigPath()
			if tt.user != "" {
				os.MkdirAll(filepath.Dir(userPath), 0o700)
				os.WriteFile(userPath, []byte(tt.user), 0o600)
			}
			if tt.local != "" {
				os.WriteFile(LocalFileName, []byte(tt.local), 0o600)
			}
			cfg, err := Load("")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"user": userPath, "local": LocalFileName, "": ""}[tt.wantPath]
			if cfg.Path != want {
				t.Errorf("Path = %q, want %q", cfg.Path, want)
			}
			if got := cfg.Kubernetes.Namespaces; tt.wantNS == "" && len(got) != 0 || tt.wantNS != "" && (len(got) != 1 || got[0] != tt.wantNS) {
				t.Errorf("namespaces = %v, want [%s]", got, tt.wantNS)
			}
		})
	}
}

func TestLoadMissingExplicitPath(t *testing.T) {
	cleanEnv(t)
	_, err := Load("nope.yaml")
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml does not exist") {
		t.Errorf("err = %v, want a does-not-exist error", err)
	}
}

func TestLoadKeepsDefaults(t *testing.T) {
	cleanEnv(t)
	src := "thresholds:\n  cpu_percent:\n    crit: 97\ntimeouts:\n  check: 10s\npostgres:\nstate_dir: ~/st\n"
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(src), 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Thresholds.CPUPercent != (Limit{Warn: 80, Crit: 97}) {
		t.Errorf("cpu = %+v", cfg.Thresholds.CPUPercent)
	}
	if cfg.Timeouts != (Timeouts{Check: 10 * time.Second, Connect: 3 * time.Second}) {
		t.Errorf("timeouts = %+v", cfg.Timeouts)
	}
	if cfg.Thresholds.MemoryPercent != (Limit{85, 90}) {
		t.Errorf("memory default lost: %+v", cfg.Thresholds.MemoryPercent)
	}
	if want := filepath.Join(os.Getenv("HOME"), "st"); cfg.StateDir != want {
		t.Errorf("state_dir = %q, want %q", cfg.StateDir, want)
	}
	if cfg.Path != path || cfg.Line("timeouts.check") != 5 {
		t.Errorf("Path %q, line of timeouts.check %d", cfg.Path, cfg.Line("timeouts.check"))
	}
}

func TestParseEmpty(t *testing.T) {
	cleanEnv(t)
	for _, src := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := Parse("opsdeck.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if !reflect.DeepEqual(plain(cfg), plain(Default())) {
			t.Errorf("%q: not the defaults", src)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cleanEnv(t)
	tests := []struct {
		name string
		src  string
		want []string // each must appear in the error text
	}{
		{
			name: "typo at top level",
			src:  "read_only: false\npostgres:\n  dsn: \"\"\nredis:\n  url: \"\"\n\n  \nthresholdz:\n  cpu_percent: {warn: 1, crit: 2}\n",
			want: []string{`opsdeck.yaml:8:1: unknown field "thresholdz" (did you mean "thresholds"?)`},
		},
		{
			name: "typo nested",
			src:  "thresholds:\n  cpu_percnt:\n    warn: 70\n",
			want: []string{`opsdeck.yaml:2:3: field thresholds: unknown field "cpu_percnt" (did you mean "cpu_percent"?)`},
		},
		{
			name: "key in the wrong section",
			src:  "dsn: postgres://x\n",
			want: []string{`opsdeck.yaml:1:1: unknown field "dsn" (did you mean "postgres.dsn"?)`, "move it"},
		},
		{
			name: "unknown with no close match lists fields",
			src:  "timeouts:\n  zzzzzzzz: 1s\n",
			want: []string{`opsdeck.yaml:2:3: field timeouts: unknown field "zzzzzzzz"`, "valid fields here: check, connect"},
		},
		{
			name: "word for a duration",
			src:  "timeouts:\n  check: fast\n",
			want: []string{`opsdeck.yaml:2:10: field timeouts.check: "fast" is not a duration — use Go duration syntax`},
		},
		{
			name: "bare number for a duration",
			src:  "thresholds:\n  api_p95:\n    warn: 2\n",
			want: []string{`opsdeck.yaml:3:11: field thresholds.api_p95.warn: expected a duration, got the number 2`, `"2s"`},
		},
		{
			name: "text for a number",
			src:  "thresholds:\n  cpu_percent: {warn: \"80%\", crit: 90}\n",
			want: []string{`opsdeck.yaml:2:23: field thresholds.cpu_percent.warn: expected a number, got "80%"`},
		},
		{
			name: "text for a bool",
			src:  "read_only: sometimes\n",
			want: []string{`opsdeck.yaml:1:12: field read_only: expected true or false, got "sometimes"`},
		},
		{
			name: "scalar for a list",
			src:  "kubernetes:\n  namespaces: default\n",
			want: []string{`opsdeck.yaml:2:15: field kubernetes.namespaces: expected a list, got "default"`},
		},
		{
			name: "scalar for a section",
			src:  "postgres: postgres://x\n",
			want: []string{`opsdeck.yaml:1:11: field postgres: expected a mapping, got "postgres://x"`},
		},
		{
			name: "list for a string",
			src:  "redis:\n  url: [a, b]\n",
			want: []string{`opsdeck.yaml:2:8: field redis.url: expected a text value, got a list`},
		},
		{
			name: "document is a list",
			src:  "- a\n- b\n",
			want: []string{`opsdeck.yaml:1:1: the configuration must be a mapping`},
		},
		{
			name: "duplicate key",
			src:  "redis:\n  url: redis://a\n  url: redis://b\n",
			want: []string{`opsdeck.yaml:3:3: mapping key "url" already defined`, "keep only one"},
		},
		{
			name: "syntax error",
			src:  "postgres:\n  dsn: {host: x\n",
			want: []string{`opsdeck.yaml:2:`, "fix the YAML syntax"},
		},
		{
			name: "two documents",
			src:  "read_only: true\n---\nread_only: false\n",
			want: []string{`opsdeck.yaml:2:1: more than one YAML document`},
		},
		{
			name: "all problems at once",
			src:  "thresholdz: {}\ntimeouts:\n  check: fast\n  connect: 1\n",
			want: []string{`opsdeck.yaml:1:1: unknown field "thresholdz"`, `opsdeck.yaml:3:10: field timeouts.check`, `opsdeck.yaml:4:12: field timeouts.connect`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("opsdeck.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a *FieldError: %T", err)
			}
		})
	}
}

func TestLoadErrorNamesFile(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "opsdeck.yaml")
	os.WriteFile(path, []byte("\n\ntimeouts:\n  check: fast\n"), 0o600)
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":4:10: field timeouts.check:") {
		t.Errorf("err = %v", err)
	}
}
