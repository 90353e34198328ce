package postgres_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/postgres"
)

func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"} }
	tests := []struct {
		err  error
		want postgres.ErrKind
	}{
		{nil, postgres.KindOther},
		{pg("28P01"), postgres.KindAuth},
		{pg("28000"), postgres.KindAuth},
		{pg("3D000"), postgres.KindDatabaseMissing},
		{pg("53300"), postgres.KindTooManyConnections},
		{pg("57P03"), postgres.KindUnavailable},
		{pg("57014"), postgres.KindTimeout},
		{pg("42501"), postgres.KindPermission},
		{pg("42P01"), postgres.KindOther},
		{fmt.Errorf("wrapped: %w", pg("28P01")), postgres.KindAuth},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, postgres.KindUnreachable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}, postgres.KindUnreachable},
		{&net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, postgres.KindUnreachable},
		{io.ErrUnexpectedEOF, postgres.KindUnreachable},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), postgres.KindTimeout},
		{fmt.Errorf("x: %w", context.Canceled), postgres.KindCanceled},
		{&pgconn.ParseConfigError{ConnString: "x"}, postgres.KindConfig},
		{fmt.Errorf("tls: failed to verify certificate"), postgres.KindTLS},
	}
	for _, tt := range tests {
		if got := postgres.Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestErrKindString(t *testing.T) {
	for k, want := range map[postgres.ErrKind]string{
		postgres.KindUnreachable: "unreachable", postgres.KindAuth: "auth failed",
		postgres.KindDatabaseMissing: "database missing", postgres.ErrKind(99): "error",
	} {
		if got := k.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
