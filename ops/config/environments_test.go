package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access"
)

// twoEnvs is a file with shared settings at the top and two environments,
// in the mapping form.
const twoEnvs = `read_only: false
postgres:
  dsn: postgres://app@shared:5432/app
redis:
  url: redis://shared:6379/0
backup:
  dir: /var/backups/opsdeck
thresholds:
  cpu_percent: {warn: 70, crit: 85}
environments:
  prod:
    read_only: true
    postgres:
      dsn: postgres://app@prod:5432/app
    kubernetes:
      context: prod-cluster
      namespaces: [stockapp]
    thresholds:
      cpu_percent: {warn: 60}
  staging:
    colour: green
    redis:
      url: redis://staging:6379/1
    restore:
      writers: [stockapp/api]
`

func TestForEnv(t *testing.T) {
	cleanEnv(t)
	cfg, err := Parse("ops.yaml", []byte(twoEnvs))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.EnvNames(); !slices.Equal(got, []string{"prod", "staging"}) {
		t.Fatalf("EnvNames = %v", got)
	}
	prod, err := cfg.ForEnv("prod")
	if err != nil {
		t.Fatal(err)
	}
	staging, err := cfg.ForEnv("staging")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"prod's own dsn", prod.Postgres.DSN, "postgres://app@prod:5432/app"},
		{"prod inherits redis", prod.Redis.URL, "redis://shared:6379/0"},
		{"prod's context", prod.Kubernetes.Context, "prod-cluster"},
		{"prod's namespaces", prod.Kubernetes.Namespaces, []string{"stockapp"}},
		{"prod overrides warn only", prod.Thresholds.CPUPercent, Limit{60, 85}},
		{"prod keeps the other defaults", prod.Thresholds.MemoryPercent, Default().Thresholds.MemoryPercent},
		{"prod is read-only", prod.Env(), access.Env{Name: "prod", ReadOnly: true}},
		{"prod is red by default", prod.Colour(), "red"},
		{"prod's store", prod.Backup.Dir, filepath.Join("/var/backups/opsdeck", "prod")},
		{"staging inherits the dsn", staging.Postgres.DSN, "postgres://app@shared:5432/app"},
		{"staging's redis", staging.Redis.URL, "redis://staging:6379/1"},
		{"staging's writers", staging.RestoreWriters(), []Writer{{"stockapp", "api"}}},
		{"staging inherits thresholds", staging.Thresholds.CPUPercent, Limit{70, 85}},
		{"staging acts", staging.Env(), access.Env{Name: "staging"}},
		{"staging's colour", staging.Colour(), "green"},
		{"the top level is untouched", cfg.Postgres.DSN, "postgres://app@shared:5432/app"},
		{"the top level's store", cfg.Backup.Dir, "/var/backups/opsdeck"},
		{"switching from an environment", mustEnv(t, prod, "staging").Redis.URL, "redis://staging:6379/1"},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
	// An environment's problems are located in its section.
	if _, err := prod.ForEnv(""); err == nil || !strings.Contains(err.Error(), "none is chosen") || !strings.Contains(err.Error(), "prod, staging") {
		t.Errorf("no environment chosen: %v", err)
	}
}

func mustEnv(t *testing.T, c *Config, name string) *Config {
	t.Helper()
	r, err := c.ForEnv(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestForEnvForms(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		choose     string
		want       string // the chosen environment's name
		names      []string
		wantErr    string
	}{
		{name: "a file without environments is default", file: "postgres:\n  dsn: postgres://x@h/db\n", want: "default", names: []string{"default"}},
		{name: "default by name", file: "environments: {}\n", choose: "default", want: "default", names: []string{"default"}},
		{name: "no environments, another name", file: "read_only: true\n", choose: "prod", wantErr: `unknown environment "prod" — ops.yaml names: default`},
		{name: "the list form", file: "environments:\n  - name: prod\n  - name: default\n", want: "default", names: []string{"prod", "default"}},
		{name: "only environments", file: "environments:\n  staging:\n    read_only: true\n", choose: "staging", want: "staging", names: []string{"staging"}},
		{name: "unknown, with a suggestion", file: twoEnvs, choose: "stagign", wantErr: `unknown environment "stagign" (did you mean "staging"?) — ops.yaml names: prod, staging`},
		{name: "none chosen, no default", file: twoEnvs, wantErr: "ops.yaml names environments (prod, staging) and none is chosen — pass --env NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			cfg, err := Parse("ops.yaml", []byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			env, err := cfg.ForEnv(tc.choose)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if env.EnvName() != tc.want || env.Env().Name != tc.want {
				t.Errorf("chose %q, want %q", env.EnvName(), tc.want)
			}
			if got := cfg.EnvNames(); !slices.Equal(got, tc.names) {
				t.Errorf("EnvNames = %v, want %v", got, tc.names)
			}
		})
	}
}

func TestEnvironmentsDefaults(t *testing.T) {
	cleanEnv(t)
	cfg, err := Parse("ops.yaml", []byte("read_only: true\nenvironments:\n  production: {}\n  staging:\n    read_only: false\n  default: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env      string
		readOnly bool
		colour   string
		store    string
	}{
		{"production", true, "red", filepath.Join(Default().Backup.Dir, "production")},
		{"staging", false, "", filepath.Join(Default().Backup.Dir, "staging")},
		{"default", true, "", Default().Backup.Dir},
	} {
		env := mustEnv(t, cfg, tc.env)
		if env.ReadOnly != tc.readOnly || env.Colour() != tc.colour || env.Backup.Dir != tc.store {
			t.Errorf("%s: read-only %v, colour %q, store %s; want %v, %q, %s", tc.env, env.ReadOnly, env.Colour(), env.Backup.Dir, tc.readOnly, tc.colour, tc.store)
		}
	}

	// $OPSDECK_READ_ONLY wins over an environment's read_only: false.
	t.Setenv(EnvReadOnly, "1")
	cfg, err = Load(writeFile(t, "environments:\n  staging:\n    read_only: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !mustEnv(t, cfg, "staging").ReadOnly {
		t.Error("$OPSDECK_READ_ONLY was turned off by an environment")
	}
}

func TestEnvironmentsS3Prefix(t *testing.T) {
	cleanEnv(t)
	cfg, err := Parse("ops.yaml", []byte(`backup:
  s3: {endpoint: "minio:9000", bucket: backups, prefix: opsdeck, access_key: k, secret_key: s}
environments:
  prod: {}
  default: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if p := mustEnv(t, cfg, "prod").Backup.S3.Prefix; p != "opsdeck/prod/" {
		t.Errorf("prod's prefix = %q", p)
	}
	if p := mustEnv(t, cfg, "default").Backup.S3.Prefix; p != "opsdeck" {
		t.Errorf("default's prefix = %q", p)
	}
}

func writeFile(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ops.yaml")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEnvironmentsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		parse      bool // the error comes from Parse, not Validate
		want       string
	}{
		{"unknown key in an environment", "environments:\n  prod:\n    postgress: {}\n", true,
			`ops.yaml:3:5: field environments.prod: unknown field "postgress" (did you mean "postgres"?)`},
		{"a top-level-only key in an environment", "environments:\n  prod:\n    timeouts: {}\n", true,
			`ops.yaml:3:5: field environments.prod: unknown field "timeouts"`},
		{"wrong kind", "environments:\n  prod:\n    read_only: maybe\n", true,
			`ops.yaml:3:16: field environments.prod.read_only: expected true or false`},
		{"a misspelt section", "enviroments:\n  prod: {}\n", true,
			`ops.yaml:1:1: unknown field "enviroments" (did you mean "environments"?)`},
		{"a bad name", "environments:\n  Prod_1: {}\n", true,
			`ops.yaml:2:3: field environments.Prod_1: "Prod_1" is not a valid environment name`},
		{"named twice", "environments:\n  - name: prod\n  - name: prod\n", true,
			`ops.yaml:3:11: field environments[1]: environment "prod" is named twice (first on line 2)`},
		{"no name in the list", "environments:\n  - read_only: true\n", true,
			`field environments[0]: has no name`},
		{"not a mapping", "environments: prod\n", true,
			`field environments: expected a mapping of environment names`},
		{"an environment's bad value", "environments:\n  prod:\n    redis:\n      url: http://x\n", false,
			`ops.yaml:4:12: field environments.prod.redis.url: scheme "http" is not redis or rediss`},
		{"a bad colour", "environments:\n  prod:\n    colour: pink\n", false,
			`ops.yaml:3:13: field environments.prod.colour: "pink" is not a colour`},
		{"a shared directory", "backup:\n  dir: /b\nenvironments:\n  default:\n    backup: {dir: /b/staging}\n  staging: {}\n", false,
			`field environments.staging: environments default and staging share the backup store /b/staging — give each environment its own backup.dir`},
		{"a shared bucket and prefix", `environments:
  default:
    backup:
      s3: {endpoint: "m:9000", bucket: bkt, prefix: p/prod, access_key: k, secret_key: s}
  prod:
    backup:
      s3: {endpoint: "m:9000", bucket: bkt, prefix: p, access_key: k, secret_key: s}
`, false, `ops.yaml:7:53: field environments.prod.backup.s3.prefix: environments default and prod share the backup store s3://m:9000/bkt/p/prod`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			cfg, err := Parse("ops.yaml", []byte(tc.file))
			if !tc.parse {
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
		})
	}
}
