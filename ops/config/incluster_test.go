package config

import (
	"strings"
	"testing"
)

func TestValidateInCluster(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // substrings; nil means valid
	}{
		{"services and secrets", func(c *Config) {
			c.Postgres.DSN = "postgres://app@postgres/stocks?sslmode=disable"
			c.Postgres.Service, c.Postgres.Port, c.Postgres.PasswordSecret = "stockapp/postgres", 5433, "stockapp/postgres#password"
			c.Redis.URL = "redis://redis:6379/0"
			c.Redis.Service, c.Redis.PasswordSecret = "stockapp/redis", "stockapp/redis.auth#redis-password"
		}, nil},
		{"a secret alone", func(c *Config) { c.Postgres.PasswordSecret = "stockapp/postgres#password" }, nil},
		{"service without namespace", func(c *Config) {
			c.Postgres.DSN = "postgres://app@postgres/stocks"
			c.Postgres.Service = "postgres"
		}, []string{`field postgres.service: "postgres" is not namespace/name`}},
		{"service not a name", func(c *Config) {
			c.Redis.URL = "redis://redis:6379/0"
			c.Redis.Service = "stockapp/Redis_1"
		}, []string{`field redis.service: "Redis_1" in "stockapp/Redis_1" is not a Kubernetes name`}},
		{"service without dsn", func(c *Config) { c.Postgres.Service = "stockapp/postgres" }, []string{"field postgres.service: is set but postgres.dsn is empty"}},
		{"service without url", func(c *Config) { c.Redis.Service = "stockapp/redis" }, []string{"field redis.service: is set but redis.url is empty"}},
		{"port out of range", func(c *Config) {
			c.Redis.URL = "redis://redis:6379/0"
			c.Redis.Service, c.Redis.Port = "stockapp/redis", 70000
		}, []string{"field redis.port: 70000 is not a port"}},
		{"port without service", func(c *Config) { c.Postgres.Port = 5432 }, []string{"field postgres.port: is set but postgres.service is empty"}},
		{"secret without key", func(c *Config) { c.Postgres.PasswordSecret = "stockapp/postgres" }, []string{`field postgres.password_secret: "stockapp/postgres" is not namespace/name#key`}},
		{"secret bad key", func(c *Config) { c.Redis.PasswordSecret = "stockapp/redis#a key" }, []string{`key "a key"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseSecretRef(t *testing.T) {
	ref, err := ParseSecretRef("stockapp/postgres-credentials#password")
	if err != nil || ref != (SecretRef{"stockapp", "postgres-credentials", "password"}) || ref.String() != "stockapp/postgres-credentials#password" {
		t.Fatalf("ParseSecretRef = %+v, %v", ref, err)
	}
	if c := Default(); c.Postgres.ServicePort() != 5432 || c.Redis.ServicePort() != 6379 {
		t.Errorf("default ports %d, %d", c.Postgres.ServicePort(), c.Redis.ServicePort())
	}
}
