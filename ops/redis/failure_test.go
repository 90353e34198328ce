package redis_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// snapshotErr takes a snapshot of url that must fail, and how long it took.
func snapshotErr(t *testing.T, url string, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	c := newClient(t, url, timeout)
	start := time.Now()
	_, err := redis.TakeSnapshot(t.Context(), c)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("TakeSnapshot succeeded against %s", strings.Split(url, "@")[len(strings.Split(url, "@"))-1])
	}
	t.Logf("%s after %s", err, took.Round(time.Millisecond))
	return took, err
}

func TestAuthRequired(t *testing.T) {
	requireServer(t)
	_, err := snapshotErr(t, fmt.Sprintf("redis://%s/0", server.Addr()), time.Second)
	if redis.Classify(err) != redis.KindAuth {
		t.Errorf("Classify = %v, want %v", redis.Classify(err), redis.KindAuth)
	}
	if !strings.Contains(err.Error(), "check the password in redis.url or REDIS_URL") {
		t.Errorf("error does not say what to fix: %v", err)
	}
}

func TestAuthWrongPassword(t *testing.T) {
	requireServer(t)
	for _, url := range []string{
		fmt.Sprintf("redis://:wrong-password-123@%s/0", server.Addr()),
		fmt.Sprintf("redis://nobody:wrong-password-123@%s/0", server.Addr()),
	} {
		_, err := snapshotErr(t, url, time.Second)
		if redis.Classify(err) != redis.KindAuth {
			t.Errorf("Classify = %v, want %v", redis.Classify(err), redis.KindAuth)
		}
		if msg := err.Error(); strings.Contains(msg, "wrong-password-123") || strings.Contains(msg, testPassword) {
			t.Errorf("error shows a password: %v", msg)
		}
		if !strings.Contains(err.Error(), "check the password in redis.url or REDIS_URL") {
			t.Errorf("error does not say what to fix: %v", err)
		}
	}
}

func TestRefused(t *testing.T) {
	port, err := sandbox.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	took, err := snapshotErr(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port), 2*time.Second)
	if redis.Classify(err) != redis.KindUnreachable || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Classify = %v (%v), want unreachable: connection refused", redis.Classify(err), err)
	}
	if !strings.Contains(err.Error(), "is Redis running?") {
		t.Errorf("error does not say what to check: %v", err)
	}
	if took > time.Second {
		t.Errorf("refused connection took %s to report", took)
	}
}

func TestBlackholeHonoursTimeout(t *testing.T) {
	bh, err := sandbox.StartBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer bh.Close()
	took, err := snapshotErr(t, "redis://"+bh.Addr+"/0", time.Second)
	if k := redis.Classify(err); k != redis.KindTimeout {
		t.Errorf("Classify = %v, want timeout", k)
	}
	if !strings.Contains(err.Error(), "within 1s") {
		t.Errorf("error does not name the timeout: %v", err)
	}
	if took < 900*time.Millisecond || took > 2*time.Second {
		t.Errorf("took %s with a 1s timeout", took)
	}
}

func TestUnroutableAddressHonoursTimeout(t *testing.T) {
	// 10.255.255.1 drops packets on most networks; where there is no route
	// it fails at once, and behind an intercepting proxy something that is
	// not Redis answers. Whatever the network does, it is quick.
	took, _ := snapshotErr(t, "redis://10.255.255.1:6379/0", time.Second)
	if took > 2*time.Second {
		t.Errorf("took %s with a 1s timeout", took)
	}
}

func TestServerKilled(t *testing.T) {
	requireServer(t)
	srv, err := sandbox.StartRedis(t.Context(), sandbox.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c := newClient(t, srv.URL(), time.Second)
	if _, err := redis.TakeSnapshot(t.Context(), c); err != nil {
		t.Fatal(err)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = redis.TakeSnapshot(t.Context(), c)
	if err == nil {
		t.Fatal("snapshot of a killed server succeeded")
	}
	if redis.Classify(err) != redis.KindUnreachable {
		t.Errorf("Classify = %v (%v), want unreachable", redis.Classify(err), err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s to notice a dead server", took)
	}
}
