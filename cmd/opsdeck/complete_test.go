package main_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
)

// completions runs cobra's hidden __complete for args and returns the
// words offered (descriptions cut) and the directive line.
func completions(t *testing.T, env []string, args ...string) (words []string, directive string, r result) {
	t.Helper()
	r = opsdeck(t, env, append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %v: %+v", args, r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	directive = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		words = append(words, strings.SplitN(l, "\t", 2)[0])
	}
	return words, directive, r
}

func TestCompletionFromTheCatalog(t *testing.T) {
	cfgPath, cfg := backupConfig(t, nil)
	var ids = map[string]string{}
	for _, kind := range []string{"redis", "database"} {
		if kind == "database" {
			time.Sleep(time.Second) // set IDs are to the second
		}
		r := opsdeck(t, nil, "--config", cfgPath, "backup", kind, "-o", "json", "-q")
		var res struct {
			Manifest struct{ ID string } `json:"manifest"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil || res.Manifest.ID == "" {
			t.Fatalf("backup %s: %v %+v", kind, err, r)
		}
		ids[kind] = res.Manifest.ID
	}
	redisID, dbID := ids["redis"], ids["database"]

	words, dir, r := completions(t, nil, "--config", cfgPath, "backups", "show", "")
	if !slices.Equal(words, []string{dbID, redisID}) || dir != ":4" {
		t.Fatalf("backups show: %q %s %+v", words, dir, r)
	}
	if !strings.Contains(r.stdout, dbID+"\tdatabase · ") {
		t.Errorf("no description of the set: %q", r.stdout)
	}
	// --config from the environment, as the command reads it; the IDs
	// already given are not offered again; and only one ID for show.
	env := []string{"OPSDECK_CONFIG=" + cfgPath}
	if words, _, r := completions(t, env, "backups", "verify", dbID, ""); !slices.Equal(words, []string{redisID}) {
		t.Errorf("backups verify %s: %q %+v", dbID, words, r)
	}
	if words, _, r := completions(t, env, "backups", "show", dbID, ""); len(words) != 0 {
		t.Errorf("backups show ID: %q %+v", words, r)
	}
	if words, _, r := completions(t, env, "backups", "show", dbID[:6]); len(words) != 2 {
		t.Errorf("backups show prefix: %q %+v", words, r)
	}
	// restore and drill offer latest and the sets holding the kind.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"restore", "database", ""}, []string{"latest", dbID}},
		{[]string{"restore", "redis", ""}, []string{"latest", redisID}},
		{[]string{"restore", "full", ""}, []string{"latest"}},
		{[]string{"restore", "table", ""}, nil},
		{[]string{"drill", "redis", ""}, []string{"latest", redisID}},
		{[]string{"drill", "database", "l"}, []string{"latest"}},
		{[]string{"drill", "pitr", ""}, []string{"latest"}},
		{[]string{"restore", "re"}, []string{"redis", "recover"}},
		{[]string{"drill", ""}, []string{"database", "redis", "config", "pitr", "full"}},
	} {
		if words, _, r := completions(t, env, c.args...); !slices.Equal(words, c.want) {
			t.Errorf("%v: %q, want %q (%+v)", c.args, words, c.want, r)
		}
	}
	// Nothing of the configuration's secrets.
	_, _, r = completions(t, env, "backups", "show", "")
	for _, s := range cfg.Secrets() {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("completion prints the secret %q", s)
		}
	}
}

func TestCompletionOfWords(t *testing.T) {
	// No configuration needed: the words are opsdeck's own.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"maintain", ""}, []string{"full", "health", "cleanup", "db", "redis", "security", "capacity"}},
		{[]string{"backups", "list", "-o", ""}, []string{"text", "json", "yaml"}},
		{[]string{"drill", "redis", "--target", ""}, []string{"instance", "server"}},
		{[]string{"check", "--target", ""}, []string{"postgres", "redis", "kubernetes"}},
		{[]string{"metrics", "--source", "p"}, []string{"postgres", "prometheus"}},
		{[]string{"--color", ""}, []string{"auto", "always", "never"}},
		{[]string{"backup", "re"}, []string{"redis"}},
	} {
		if words, dir, r := completions(t, nil, c.args...); !slices.Equal(words, c.want) || dir != ":4" {
			t.Errorf("%v: %q %s, want %q (%+v)", c.args, words, dir, c.want, r)
		}
	}
}

func TestCompletionFailsQuietly(t *testing.T) {
	// A broken configuration: no sets, no error on stdout, exit 0.
	bad := writeConfig(t, "thresholdz: {}\npostgres:\n  dsn: postgres://u:hunter2@127.0.0.1:1/db\n")
	words, dir, r := completions(t, nil, "--config", bad, "backups", "show", "")
	if len(words) != 0 || dir != ":4" || r.stdout != ":4\n" || strings.Contains(r.stderr, "hunter2") {
		t.Fatalf("broken config: %+v", r)
	}
	// A store directory that is not there is not created.
	missing := filepath.Join(t.TempDir(), "none")
	p := writeConfig(t, "backup:\n  dir: "+missing+"\n")
	if words, _, r := completions(t, nil, "--config", p, "restore", "database", ""); !slices.Equal(words, []string{"latest"}) {
		t.Fatalf("missing store: %+v", r)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("completion created the store %s: %v", missing, err)
	}
	// An S3 endpoint that accepts and never answers: bounded.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := config.Default()
	c.StateDir = t.TempDir()
	c.Backup.S3 = config.S3Config{Endpoint: l.Addr().String(), Bucket: "backups", AccessKey: "AKIA", SecretKey: "sekrit-key", Insecure: true}
	hung := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := c.Write(hung); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	words, dir, r = completions(t, nil, "--config", hung, "backups", "show", "")
	if took := time.Since(start); took > 5*time.Second || len(words) != 0 || dir != ":4" || strings.Contains(r.stdout+r.stderr, "sekrit") {
		t.Fatalf("hung store: %s %+v", took, r)
	}
}
