package netfail_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/opsdeck/opsdeck/ops/netfail"
)

var errLibClosed = errors.New("lib: conn closed")

func TestClassify(t *testing.T) {
	op := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}}
	}
	for _, tc := range []struct {
		name   string
		err    error
		want   netfail.Condition
		detail string
	}{
		{"nil", nil, netfail.None, ""},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), netfail.Canceled, ""},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), netfail.Timeout, ""},
		{"etimedout", op(syscall.ETIMEDOUT), netfail.Timeout, ""},
		{"dns", &net.DNSError{Name: "db.example", Err: "no such host"}, netfail.NoHost, "db.example"},
		{"refused", op(syscall.ECONNREFUSED), netfail.Refused, ""},
		{"no socket", op(syscall.ENOENT), netfail.NoSocket, ""},
		{"no route", op(syscall.EHOSTUNREACH), netfail.NoRoute, ""},
		{"net unreachable", op(syscall.ENETUNREACH), netfail.NoRoute, ""},
		{"reset", op(syscall.ECONNRESET), netfail.Lost, ""},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), netfail.Lost, ""},
		{"library closed", fmt.Errorf("q: %w", errLibClosed), netfail.Lost, ""},
		{"unknown authority", x509.UnknownAuthorityError{}, netfail.TLS, "x509: certificate signed by unknown authority"},
		{"other", errors.New("boom"), netfail.None, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, detail := netfail.Classify(tc.err, errLibClosed)
			if got != tc.want || detail != tc.detail {
				t.Fatalf("Classify = %v %q, want %v %q", got, detail, tc.want, tc.detail)
			}
		})
	}
}

func TestUnreachableAndDetail(t *testing.T) {
	for c, want := range map[netfail.Condition]bool{netfail.Refused: true, netfail.Lost: true, netfail.NoHost: true,
		netfail.Timeout: false, netfail.TLS: false, netfail.Canceled: false} {
		if c.Unreachable() != want {
			t.Errorf("%v.Unreachable() = %v", c, !want)
		}
	}
	if netfail.Refused.Detail() != "connection refused" || netfail.Lost.Detail() != "connection lost" {
		t.Error("Detail")
	}
}
