package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		env         map[string]string
		wantDSN     string
		wantRedis   string
		wantRO      bool
		wantDSNFrom string
	}{
		{name: "nothing set"},
		{
			name:        "DATABASE_URL",
			env:         map[string]string{"DATABASE_URL": "postgres://u:p@db/x", "PGHOST": "ignored"},
			wantDSN:     "postgres://u:p@db/x",
			wantDSNFrom: "DATABASE_URL",
		},
		{
			// Not copied into the DSN: pgx reads them when it parses it.
			name:        "libpq variables",
			env:         map[string]string{"PGHOST": "db", "PGPORT": "5433", "PGUSER": "app", "PGPASSWORD": "p w'd", "PGDATABASE": "stocks", "PGSSLMODE": "require"},
			wantDSNFrom: "PGHOST, $PGPORT, $PGUSER, $PGPASSWORD, $PGDATABASE",
		},
		{
			name: "PGSSLMODE alone is not a target",
			env:  map[string]string{"PGSSLMODE": "require"},
		},
		{
			name:    "file wins over environment",
			file:    "postgres:\n  dsn: host=filedb\nredis:\n  url: redis://file:6379\n",
			env:     map[string]string{"DATABASE_URL": "postgres://envdb/x", "REDIS_URL": "redis://env:6379"},
			wantDSN: "host=filedb", wantRedis: "redis://file:6379",
		},
		{
			name:      "REDIS_URL",
			env:       map[string]string{"REDIS_URL": "redis://:pw@cache:6379/2"},
			wantRedis: "redis://:pw@cache:6379/2",
		},
		{name: "read-only 1", env: map[string]string{"OPSDECK_READ_ONLY": "1"}, wantRO: true},
		{name: "read-only typo fails safe", env: map[string]string{"OPSDECK_READ_ONLY": "ture"}, wantRO: true},
		{name: "read-only 0", env: map[string]string{"OPSDECK_READ_ONLY": "0"}, wantRO: false},
		{name: "read-only false keeps file's true", file: "read_only: true\n", env: map[string]string{"OPSDECK_READ_ONLY": "false"}, wantRO: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := ""
			if tt.file != "" {
				path = filepath.Join(t.TempDir(), "c.yaml")
				os.WriteFile(path, []byte(tt.file), 0o600)
			}
			cfg, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Postgres.DSN != tt.wantDSN {
				t.Errorf("dsn = %q, want %q", cfg.Postgres.DSN, tt.wantDSN)
			}
			if cfg.Redis.URL != tt.wantRedis {
				t.Errorf("redis = %q, want %q", cfg.Redis.URL, tt.wantRedis)
			}
			if cfg.ReadOnly != tt.wantRO {
				t.Errorf("read_only = %v, want %v", cfg.ReadOnly, tt.wantRO)
			}
			if cfg.Postgres.Configured() != (tt.wantDSN != "" || tt.wantDSNFrom != "") {
				t.Errorf("Configured = %v", cfg.Postgres.Configured())
			}
			if got := cfg.EnvSource("postgres.dsn"); got != tt.wantDSNFrom {
				t.Errorf("EnvSource = %q, want %q", got, tt.wantDSNFrom)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// TestEnvS3Keys: the store's keys come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (a Secret's keys in a pod) when the file has none.
func TestEnvS3Keys(t *testing.T) {
	cleanEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	path := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := os.WriteFile(path, []byte("backup:\n  s3:\n    endpoint: s3.example:9000\n    bucket: b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Backup.S3.AccessKey != "AKIAENV" || cfg.Backup.S3.SecretKey != "envsecret" {
		t.Errorf("s3 keys = %q, %q; want the environment's", cfg.Backup.S3.AccessKey, cfg.Backup.S3.SecretKey)
	}
	if err := os.WriteFile(path, []byte("backup:\n  s3:\n    endpoint: s3.example:9000\n    bucket: b\n    access_key: AKIAFILE\n    secret_key: filesecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if cfg.Backup.S3.AccessKey != "AKIAFILE" || cfg.Backup.S3.SecretKey != "filesecret" {
		t.Errorf("s3 keys = %q, %q; want the file's", cfg.Backup.S3.AccessKey, cfg.Backup.S3.SecretKey)
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	cleanEnv(t)
	t.Setenv("DATABASE_URL", "postgres://u:hunter2@db:notaport/x")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("bad DATABASE_URL accepted")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "field postgres.dsn (from $DATABASE_URL): cannot parse DSN") {
		t.Errorf("message = %q", msg)
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("password leaked: %q", msg)
	}
}

// TestLibpqEnvironmentAsPgxReadsIt: with no DSN, PGSERVICE (in the file
// PGSERVICEFILE names) configures PostgreSQL, the password comes from
// PGPASSFILE, both as pgx parses them; the service's password is a
// secret; a DSN's own parameters win over the service and the variables.
func TestLibpqEnvironmentAsPgxReadsIt(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	service := filepath.Join(dir, "pg_service.conf")
	os.WriteFile(service, []byte("[stock]\nhost=db.internal\nport=6543\ndbname=stocks\nuser=ops\nsslmode=disable\n"), 0o600)
	pass := filepath.Join(dir, "pgpass")
	os.WriteFile(pass, []byte("db.internal:6543:stocks:ops:from-passfile\n*:*:*:ops:other\n"), 0o600)
	t.Setenv("PGSERVICEFILE", service)
	t.Setenv("PGSERVICE", "stock")
	t.Setenv("PGPASSFILE", pass)
	t.Setenv("PGHOST", "ignored.by.the.service")

	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Postgres.DSN != "" || !cfg.Postgres.Configured() {
		t.Fatalf("dsn %q, configured %v", cfg.Postgres.DSN, cfg.Postgres.Configured())
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cfg.Secrets(), "from-passfile") {
		t.Errorf("the password file's password is not a secret: %q", cfg.Secrets())
	}

	// A service that is not in the file: Validate says so.
	t.Setenv("PGSERVICE", "nope")
	cfg, _ = Load("")
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "postgres.dsn") || !strings.Contains(err.Error(), "PGSERVICE") {
		t.Errorf("missing service: %v", err)
	}
}
