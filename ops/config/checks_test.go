package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateChecks(t *testing.T) {
	good := HTTPCheck{Name: "api-health", URL: "https://api.example.com/healthz"}
	tests := []struct {
		name   string
		mutate func(c *ChecksConfig)
		want   []string
	}{
		{"defaults", func(c *ChecksConfig) {}, nil},
		{"good", func(c *ChecksConfig) {
			c.HTTP = []HTTPCheck{good, {Name: "web", URL: "http://web:8080/", ExpectStatus: 204, MaxLatency: time.Second, Requests: 5}}
			c.Migrations = MigrationsCheck{Table: "public.schema_migrations", Column: "version", Expected: "20261201"}
		}, nil},
		{"no name", func(c *ChecksConfig) { c.HTTP = []HTTPCheck{{URL: good.URL}} }, []string{`checks.http[0].name: "" is not a valid name`}},
		{"twice", func(c *ChecksConfig) { c.HTTP = []HTTPCheck{good, good} }, []string{`checks.http[1].name: "api-health" is already used by checks.http[0]`}},
		{"no url", func(c *ChecksConfig) { c.HTTP = []HTTPCheck{{Name: "x"}} }, []string{"checks.http[0].url: is empty"}},
		{"not http", func(c *ChecksConfig) { c.HTTP = []HTTPCheck{{Name: "x", URL: "ftp://h/"}} }, []string{`checks.http[0].url: scheme "ftp" is not http or https`}},
		{"status", func(c *ChecksConfig) { c.HTTP = []HTTPCheck{{Name: "x", URL: good.URL, ExpectStatus: 42}} }, []string{"checks.http[0].expect_status: 42 is not an HTTP status"}},
		{"latency", func(c *ChecksConfig) { c.HTTP = []HTTPCheck{{Name: "x", URL: good.URL, MaxLatency: -time.Second}} }, []string{"checks.http[0].max_latency: -1s is negative"}},
		{"requests", func(c *ChecksConfig) { c.HTTP = []HTTPCheck{{Name: "x", URL: good.URL, Requests: 5000}} }, []string{"checks.http[0].requests: 5000 is not from 1 to 1000"}},
		{"table", func(c *ChecksConfig) { c.Migrations.Expected, c.Migrations.Table = "1", "schema migrations" }, []string{`checks.migrations.table: "schema migrations" is not a table name`}},
		{"column", func(c *ChecksConfig) { c.Migrations.Expected, c.Migrations.Column = "1", "v;drop" }, []string{`checks.migrations.column: "v;drop" is not a column name`}},
		{"off is not judged", func(c *ChecksConfig) { c.Migrations.Table = "no good" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			c := Default()
			tt.mutate(&c.Checks)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v lacks %q", err, w)
				}
			}
		})
	}
}

func TestChecksFromFile(t *testing.T) {
	cleanEnv(t)
	src := "checks:\n  http:\n    - name: api\n      url: https://ops:s3cret@api.example.com/healthz?token=t0ken\n      max_latency: 300ms\n  migrations: {expected: \"42\"}\n"
	cfg, err := Parse("opsdeck.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := cfg.Checks.HTTP[0].WithDefaults(cfg.Thresholds)
	if h.Requests != 20 || h.ExpectStatus != 200 || h.MaxLatency != 300*time.Millisecond {
		t.Fatalf("defaults: %+v", h)
	}
	if d := (HTTPCheck{}).WithDefaults(cfg.Thresholds); d.MaxLatency != cfg.Thresholds.APIP95.Warn {
		t.Fatalf("max_latency default %v", d.MaxLatency)
	}
	m := cfg.Checks.Migrations
	if !m.Configured() || m.Table != "schema_migrations" || m.Column != "version" {
		t.Fatalf("migrations: %+v", m)
	}
	for _, s := range []string{"s3cret", "t0ken"} {
		if !slices.Contains(cfg.Secrets(), s) {
			t.Errorf("Secrets lacks %q", s)
		}
	}
	out, err := cfg.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || strings.Contains(string(out), "t0ken") || !strings.Contains(string(out), "api.example.com/healthz") {
		t.Fatalf("redacted:\n%s", out)
	}
	if !strings.Contains(cfg.Checks.HTTP[0].URL, "s3cret") {
		t.Fatal("Redacted changed the original")
	}
	if _, err := Parse("opsdeck.yaml", []byte("checks:\n  http:\n    - name: a\n      urll: http://x/\n")); err == nil || !strings.Contains(err.Error(), `did you mean "url"`) {
		t.Fatalf("unknown key: %v", err)
	}
}
