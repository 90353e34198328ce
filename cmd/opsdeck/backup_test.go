package main_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
)

// backupConfig writes the sandbox's config with a fresh store and state dir.
func backupConfig(t *testing.T, mutate func(*config.Config)) (path string, cfg *config.Config) {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	c := *sb.Config
	c.Backup.Dir = t.TempDir()
	c.StateDir = t.TempDir()
	if mutate != nil {
		mutate(&c)
	}
	path = filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	return path, &c
}

func TestBackupCLI(t *testing.T) {
	cfgPath, cfg := backupConfig(t, nil)
	r := opsdeck(t, nil, "--config", cfgPath, "backup", "redis")
	if r.code != 0 || !strings.Contains(r.stdout, "committed and verified") || !strings.Contains(r.stderr, "start redis") {
		t.Fatalf("backup redis: %+v", r)
	}
	r = opsdeck(t, nil, "--config", cfgPath, "backups", "list", "-o", "json")
	var list struct {
		Schema string           `json:"schema"`
		Items  []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Items) != 1 || list.Schema != "opsdeck.backups.list/v1" {
		t.Fatalf("list -o json: %v %+v", err, r)
	}
	raw := list.Items
	id := raw[0]["id"].(string)
	if raw[0]["verify_state"] != "verified" || raw[0]["kind"] != "redis" {
		t.Fatalf("row %v", raw[0])
	}
	if r := opsdeck(t, nil, "--config", cfgPath, "backups", "list"); r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Fatalf("list: %+v", r)
	}
	// A flipped byte: verify exits 2 and names the file.
	file := filepath.Join(cfg.Backup.Dir, id, "redis.rdb.zst")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x10
	os.WriteFile(file, b, 0o600)
	r = opsdeck(t, nil, "--config", cfgPath, "backups", "verify", id)
	if r.code != 2 || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "redis.rdb.zst") {
		t.Fatalf("verify of a damaged set: %+v", r)
	}
	r = opsdeck(t, nil, "--config", cfgPath, "backups", "prune", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Fatalf("prune --dry-run: %+v", r)
	}
	// Read-only refuses; the audit log says so.
	r = opsdeck(t, nil, "--config", cfgPath, "--read-only", "backup", "redis")
	if r.code != 2 || !strings.Contains(r.stderr, "read-only") {
		t.Fatalf("read-only backup: %+v", r)
	}
	audit, _ := os.ReadFile(filepath.Join(cfg.StateDir, "audit.log"))
	for _, w := range []string{`"action":"backup.create"`, `"action":"backup.verify"`, `"result":"refused"`} {
		if !strings.Contains(string(audit), w) {
			t.Errorf("audit lacks %s", w)
		}
	}
}

func TestBackupCLIWrongInput(t *testing.T) {
	cfgPath, cfg := backupConfig(t, nil)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no kind", []string{"backup"}, 3, "say what to back up"},
		{"bad kind", []string{"backup", "everything"}, 3, `unknown backup kind "everything"`},
		{"bad id", []string{"backups", "verify", "yesterday"}, 3, "want YYYYMMDD_HHMMSS"},
		{"ids and all", []string{"backups", "verify", "--all", "20261125_020000"}, 3, "not both"},
		{"unknown set", []string{"backups", "show", "20200101_000000"}, 3, "no backup set 20200101_000000"},
		{"verify empty store", []string{"backups", "verify"}, 1, "no backup sets"},
		{"bad output", []string{"backups", "list", "-o", "xml"}, 3, "unknown output format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := opsdeck(t, nil, append([]string{"--config", cfgPath}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("got %+v, want exit %d and %q", r, tt.code, tt.want)
			}
		})
	}
	// A lock held by another run: refused at once (exit 2), naming the holder.
	st, err := backup.NewLocalStore(cfg.Backup.Dir)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := backup.AcquireLock(st, "restore database", "carol")
	if err != nil {
		t.Fatal(err)
	}
	r := opsdeck(t, nil, "--config", cfgPath, "backup", "redis")
	rv := opsdeck(t, nil, "--config", cfgPath, "backups", "verify")
	lock.Release()
	if r.code != 2 || !strings.Contains(r.stderr, "locked") || !strings.Contains(r.stderr, "carol") {
		t.Fatalf("locked store: %+v", r)
	}
	// A verify is a reader: refused beside a restore, naming it.
	if rv.code != 2 || !strings.Contains(rv.stderr, "restore database is running") || !strings.Contains(rv.stderr, "carol") {
		t.Fatalf("verify on a locked store: %+v", rv)
	}
	// Beside a reader a backup runs, and a prune is refused naming it.
	reader, err := backup.AcquireLockFor(st, backup.LockReader, "deep verify", "dave")
	if err != nil {
		t.Fatal(err)
	}
	rb := opsdeck(t, nil, "--config", cfgPath, "backup", "redis")
	rp := opsdeck(t, nil, "--config", cfgPath, "backups", "prune", "--yes")
	reader.Release()
	if rb.code != 0 {
		t.Fatalf("backup beside a reader: %+v", rb)
	}
	if rp.code != 2 || !strings.Contains(rp.stderr, "deep verify is running") || !strings.Contains(rp.stderr, "dave") {
		t.Fatalf("prune beside a reader: %+v", rp)
	}
}

func TestBackupCLIWrongPassword(t *testing.T) {
	cfgPath, _ := backupConfig(t, func(c *config.Config) {
		u, _ := url.Parse(c.Postgres.DSN)
		u.User = url.UserPassword(u.User.Username(), "wrong-pw-123456")
		c.Postgres.DSN = u.String()
	})
	r := opsdeck(t, nil, "--config", cfgPath, "backup", "database")
	if r.code != 1 || !strings.Contains(r.stderr, "password authentication failed") || !strings.Contains(r.stderr, "nothing was kept") {
		t.Fatalf("wrong password: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, "wrong-pw-123456") || strings.Contains(r.stdout+r.stderr, sb.Postgres.Password) {
		t.Fatalf("password printed: %+v", r)
	}
}

// One exit-code rule for every command and output format: 0 done, 2
// refused or blocked with nothing changed (a damaged set, read-only), 3 a
// wrong command line (an unknown set, an unknown format).
func TestExitCodesOneRule(t *testing.T) {
	cfgPath, cfg := backupConfig(t, nil)
	take := func() string {
		t.Helper()
		r := opsdeck(t, nil, "--config", cfgPath, "backup", "redis", "-o", "json")
		var m struct {
			Manifest struct{ ID string } `json:"manifest"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil || m.Manifest.ID == "" {
			t.Fatalf("backup: %+v", r)
		}
		return m.Manifest.ID
	}
	good, damaged := take(), take()
	file := filepath.Join(cfg.Backup.Dir, damaged, "redis.rdb.zst")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x10
	os.WriteFile(file, b, 0o600)
	const unknown = "20200101_000000"

	for _, tc := range []struct {
		code int
		args []string
	}{
		{0, []string{"backups", "show", good}},
		{0, []string{"backups", "verify", good}},
		{0, []string{"restore", "redis", good, "--dry-run"}},
		{2, []string{"backups", "verify", damaged}},
		{2, []string{"restore", "redis", damaged, "--dry-run"}},
		{2, []string{"--read-only", "backup", "redis"}},
		{3, []string{"backups", "show", unknown}},
		{3, []string{"backups", "verify", unknown}},
		{3, []string{"restore", "redis", unknown, "--dry-run"}},
	} {
		for _, format := range []string{"text", "json", "yaml"} {
			args := append([]string{"--config", cfgPath}, tc.args...)
			args = append(args, "-o", format)
			r := opsdeck(t, nil, args...)
			if r.code != tc.code {
				t.Errorf("opsdeck %s -o %s: exit %d, want %d\n%s%s", strings.Join(tc.args, " "), format, r.code, tc.code, r.stdout, r.stderr)
			}
			if format == "text" || r.stdout == "" {
				continue
			}
			// One document, an object that names its schema.
			doc := []byte(r.stdout)
			if format == "yaml" {
				var err error
				if doc, err = yaml.YAMLToJSON(doc); err != nil {
					t.Errorf("opsdeck %s -o yaml: %v\n%s", strings.Join(tc.args, " "), err, r.stdout)
					continue
				}
			}
			var top struct{ Schema string }
			if err := json.Unmarshal(doc, &top); err != nil || !strings.HasPrefix(top.Schema, "opsdeck.") {
				t.Errorf("opsdeck %s -o %s: stdout is not one document with a schema (%v):\n%s", strings.Join(tc.args, " "), format, err, r.stdout)
			}
		}
	}
	if r := opsdeck(t, nil, "--config", cfgPath, "backups", "list", "-o", "xml"); r.code != 3 {
		t.Errorf("an unknown format: exit %d, want 3", r.code)
	}
}
