package redis_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/redis"
)

func TestNewClientURL(t *testing.T) {
	tests := []struct {
		url      string
		addr     string
		user     string
		password string
		db       int
		tls      bool
	}{
		{"redis://127.0.0.1:6379", "127.0.0.1:6379", "", "", 0, false},
		{"redis://:s3cret@cache.internal:6380/2", "cache.internal:6380", "", "s3cret", 2, false},
		{"rediss://opsdeck:s3cret@cache.example.com:6380/1", "cache.example.com:6380", "opsdeck", "s3cret", 1, true},
		{"redis://localhost", "localhost:6379", "", "", 0, false},
	}
	for _, tt := range tests {
		c, err := redis.NewClient(tt.url, 2*time.Second)
		if err != nil {
			t.Errorf("NewClient(%q): %v", tt.url, err)
			continue
		}
		o := c.Options()
		if o.Addr != tt.addr || o.Username != tt.user || o.Password != tt.password || o.DB != tt.db {
			t.Errorf("%q: addr %q user %q password %q db %d", tt.url, o.Addr, o.Username, o.Password, o.DB)
		}
		if (o.TLSConfig != nil) != tt.tls {
			t.Errorf("%q: TLS = %v, want %v", tt.url, o.TLSConfig != nil, tt.tls)
		}
		if tt.tls && o.TLSConfig.ServerName != strings.Split(tt.addr, ":")[0] {
			t.Errorf("%q: TLS server name %q", tt.url, o.TLSConfig.ServerName)
		}
		if o.DialTimeout != 2*time.Second || o.ReadTimeout != 2*time.Second || o.WriteTimeout != 2*time.Second {
			t.Errorf("%q: timeouts dial %s read %s write %s, want 2s each", tt.url, o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
		}
		if o.MaxRetries != 0 && o.MaxRetries != -1 { // go-redis normalizes -1 to 0
			t.Errorf("%q: MaxRetries = %d, want no retries", tt.url, o.MaxRetries)
		}
		if !o.ContextTimeoutEnabled {
			t.Errorf("%q: context deadlines are not honoured", tt.url)
		}
		c.Close()
	}
}

func TestNewClientURLTimeoutsFromQuery(t *testing.T) {
	c, err := redis.NewClient("redis://h:1/0?read_timeout=7s", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Options().ReadTimeout; got != 7*time.Second {
		t.Errorf("ReadTimeout = %s, want the URL's 7s", got)
	}
	if got := c.Options().DialTimeout; got != time.Second {
		t.Errorf("DialTimeout = %s, want 1s", got)
	}
}

func TestNewClientBadURLHidesPassword(t *testing.T) {
	for _, u := range []string{
		"redis://user:hunter2secret@host:notaport/0",
		"redis://:hunter2secret@host:6379/notadb",
		"http://:hunter2secret@host:6379",
		"redis://:hunter2secret@host:6379/0?dial_timeout=soon",
		"::hunter2secret",
	} {
		_, err := redis.NewClient(u, time.Second)
		if err == nil {
			t.Errorf("NewClient(%q) accepted a bad URL", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("error for a bad URL shows the password: %v", err)
		}
		if redis.Classify(err) != redis.KindConfig {
			t.Errorf("Classify = %v, want %v (%v)", redis.Classify(err), redis.KindConfig, err)
		}
		var e *redis.Error
		if !errors.As(err, &e) || !strings.Contains(e.Error(), "redis.url") {
			t.Errorf("error does not say which setting to fix: %v", err)
		}
	}
}
