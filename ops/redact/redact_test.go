package redact

import (
	"reflect"
	"strings"
	"testing"
)

func TestDSN(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"url", "postgres://app:s3cret@db:5432/stocks?sslmode=require", "postgres://app:xxxxx@db:5432/stocks?sslmode=require"},
		{"url postgresql scheme", "postgresql://app:p%40ss@db/stocks", "postgresql://app:xxxxx@db/stocks"},
		{"url without password", "postgres://app@db/stocks", "postgres://app@db/stocks"},
		{"url password in query", "postgres://db/stocks?user=app&password=s3cret&sslmode=disable", "postgres://db/stocks?user=app&password=xxxxx&sslmode=disable"},
		{"keyword bare", "host=db user=app password=s3cret dbname=stocks", "host=db user=app password=xxxxx dbname=stocks"},
		{"keyword quoted with space", "host=db password='s3 cr\\'et' dbname=stocks", "host=db password='xxxxx' dbname=stocks"},
		{"keyword spaces around =", "host = db password = s3cret", "host = db password = xxxxx"},
		{"keyword no password", "host=db user=app sslkey=/etc/key.pem", "host=db user=app sslkey=/etc/key.pem"},
		{"keyword sslpassword", "host=db sslpassword=k3y", "host=db sslpassword=xxxxx"},
		{"keyword unterminated quote", "host=db password='abc", "host=db password='xxxxx'"},
		{"empty", "", ""},
		{"not a url", "://user:pw@host", "://user:pw@host"},
		{"unparseable url", "postgres://app:s3cret@db:notaport/x%zz", "postgres://app:xxxxx@db:notaport/x%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DSN(tt.in)
			if got != tt.want {
				t.Errorf("DSN(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "s3cret") || strings.Contains(got, "s3 cr") {
				t.Errorf("DSN(%q) leaked the password: %q", tt.in, got)
			}
		})
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"redis with password", "redis://:hunter2@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"redis user and password", "rediss://default:hunter2@cache:6380/1", "rediss://default:xxxxx@cache:6380/1"},
		{"no userinfo", "http://prometheus:9090", "http://prometheus:9090"},
		{"token in query", "http://am:9093/api?token=abc&x=1", "http://am:9093/api?token=xxxxx&x=1"},
		{"user only", "http://bob@host/", "http://bob@host/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URL(tt.in); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParams(t *testing.T) {
	in := map[string]any{
		"database":    "stocks",
		"dsn":         "host=db password=pw1",
		"target_url":  "redis://:pw2@cache:6379",
		"password":    "pw3",
		"api_token":   "tok",
		"s3_key":      "k",
		"Auth":        "basic",
		"count":       3,
		"nested":      map[string]any{"secret": "pw4", "name": "x"},
		"dsn_missing": nil,
		"note":        "connect to postgres://u:pw5@h/db failed",
	}
	want := map[string]any{
		"database":    "stocks",
		"dsn":         "host=db password=xxxxx",
		"target_url":  "redis://:xxxxx@cache:6379",
		"password":    Placeholder,
		"api_token":   Placeholder,
		"s3_key":      Placeholder,
		"Auth":        Placeholder,
		"count":       3,
		"nested":      map[string]any{"secret": Placeholder, "name": "x"},
		"dsn_missing": nil,
		"note":        "connect to postgres://u:xxxxx@h/db failed",
	}
	got := Params(in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Params:\n got %#v\nwant %#v", got, want)
	}
	if in["password"] != "pw3" {
		t.Error("Params modified its input")
	}
	if Params(nil) != nil {
		t.Error("Params(nil) should be nil")
	}
	secrets := Secrets(in)
	for _, s := range []string{"pw1", "pw2", "pw3", "tok", "pw4"} {
		if !contains(secrets, s) {
			t.Errorf("Secrets missing %q: %v", s, secrets)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestString(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"known secret", "auth failed for hunter2", []string{"hunter2"}, "auth failed for xxxxx"},
		{"longest first", "abc abcdef", []string{"abc", "abcdef"}, "xxxxx xxxxx"},
		{"escaped in url", "dial redis://:p%40ss@h failed", []string{"p@ss"}, "dial redis://:xxxxx@h failed"},
		{"embedded url dsn", `cannot parse "postgres://u:pw@h/db"`, nil, `cannot parse "postgres://u:xxxxx@h/db"`},
		{"embedded keyword dsn", "failed: host=h password=pw dbname=x", nil, "failed: host=h password=xxxxx dbname=x"},
		{"embedded quoted keyword", "failed: password='p w' x", nil, "failed: password='xxxxx' x"},
		{"empty secret ignored", "plain", []string{""}, "plain"},
		{"no secrets", "nothing here", nil, "nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPasswords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"postgres://u:pw@h/db", []string{"pw"}},
		{"host=h password='a b\\'c'", []string{"a b'c"}},
		{"host=h", nil},
	}
	for _, tt := range tests {
		if got := Passwords(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Passwords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStringSkipsPatternsOnlyWhenAbsent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, nothing to mask", "plain text, nothing to mask"},
		{"PassWord=abc host=x", "PassWord=xxxxx host=x"},
		{"x://u:p@h", "x://u:xxxxx@h"},
		{"paſſword=abc", "paſſword=xxxxx"}, // Unicode folding still goes to the pattern
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
