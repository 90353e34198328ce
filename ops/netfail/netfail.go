// Package netfail tells network-level failures apart (canceled, timed out,
// name not resolved, refused, no route, connection lost, TLS) so that every
// client — PostgreSQL, Redis, and those to come — names them the same way
// and only adds what its own protocol knows.
package netfail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Condition is a network-level failure.
type Condition int

// The conditions Classify tells apart.
const (
	// None: err is not a recognisable network failure.
	None Condition = iota
	// Canceled: the caller canceled the context.
	Canceled
	// Timeout: no answer within a deadline.
	Timeout
	// NoHost: the host name does not resolve.
	NoHost
	// Refused: nothing listens at the address.
	Refused
	// NoSocket: the Unix socket does not exist.
	NoSocket
	// NoRoute: the host or network is unreachable.
	NoRoute
	// Lost: the connection was reset or closed mid-conversation.
	Lost
	// TLS: the handshake or the certificate check failed.
	TLS
)

// Unreachable reports whether c means the server could not be talked to at
// all (as opposed to a timeout, TLS or a cancel).
func (c Condition) Unreachable() bool {
	return c == NoHost || c == Refused || c == NoSocket || c == NoRoute || c == Lost
}

// Detail is the few words a message uses for c ("connection refused").
func (c Condition) Detail() string {
	switch c {
	case Refused:
		return "connection refused"
	case NoSocket:
		return "no socket"
	case NoRoute:
		return "no route to host"
	case Lost:
		return "connection lost"
	}
	return ""
}

// Classify returns the network condition of err, and for NoHost the host
// name and for TLS the error's text. closed lists a client library's own
// "connection closed" errors, which count as Lost.
func Classify(err error, closed ...error) (Condition, string) {
	if err == nil {
		return None, ""
	}
	if errors.Is(err, context.Canceled) {
		return Canceled, ""
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
		return Timeout, ""
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return Timeout, ""
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return NoHost, dnsErr.Name
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused, ""
	case errors.Is(err, syscall.ENOENT):
		return NoSocket, ""
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return NoRoute, ""
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Lost, ""
	}
	for _, c := range closed {
		if c != nil && errors.Is(err, c) {
			return Lost, ""
		}
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) ||
		errors.As(err, &recErr) || strings.Contains(err.Error(), "tls:") {
		return TLS, err.Error()
	}
	return None, ""
}
