package redis_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/opsdeck/opsdeck/ops/redis"
)

// reply is a Redis error reply as go-redis returns it.
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want redis.ErrKind
	}{
		{nil, redis.KindOther},
		{reply("NOAUTH Authentication required."), redis.KindAuth},
		{reply("WRONGPASS invalid username-password pair or user is disabled."), redis.KindAuth},
		{reply("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"), redis.KindAuth},
		{reply("NOPERM User opsdeck has no permissions to run the 'info' command"), redis.KindPermission},
		{reply("LOADING Redis is loading the dataset in memory"), redis.KindUnavailable},
		{reply("ERR unknown command 'FOO'"), redis.KindOther},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, redis.KindUnreachable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, redis.KindUnreachable},
		{&net.DNSError{Err: "no such host", Name: "cache.invalid", IsNotFound: true}, redis.KindUnreachable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &timeoutErr{}}, redis.KindTimeout},
		{fmt.Errorf("info: %w", context.DeadlineExceeded), redis.KindTimeout},
		{fmt.Errorf("info: %w", context.Canceled), redis.KindCanceled},
		{io.EOF, redis.KindUnreachable},
		{fmt.Errorf("tls: first record does not look like a TLS handshake"), redis.KindTLS},
	}
	for _, tt := range tests {
		if got := redis.Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestErrKindString(t *testing.T) {
	for k, want := range map[redis.ErrKind]string{
		redis.KindUnreachable: "unreachable", redis.KindAuth: "auth failed", redis.KindTimeout: "timeout",
		redis.ErrKind(99): "error", redis.ErrKind(-1): "error",
	} {
		if got := k.String(); got != want {
			t.Errorf("ErrKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }
