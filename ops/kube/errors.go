package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ErrorKind says what went wrong talking to the API server, so that callers
// can show the right advice and pick an exit code.
type ErrorKind string

// The kinds Classify returns.
const (
	KindNone         ErrorKind = ""             // no error
	KindForbidden    ErrorKind = "forbidden"    // 403: authenticated but no RBAC permission
	KindUnauthorized ErrorKind = "unauthorized" // 401: credentials missing, expired or wrong
	KindUnreachable  ErrorKind = "unreachable"  // connection refused, DNS, network, timeout
	KindTLS          ErrorKind = "tls"          // certificate verification failed
	KindNotFound     ErrorKind = "not-found"    // 404: object or API absent
	KindConfig       ErrorKind = "config"       // no or bad kubeconfig
	KindCanceled     ErrorKind = "canceled"     // the caller gave up (context canceled)
	KindOther        ErrorKind = "other"        // anything else (5xx, conversion...)
)

// rbacAdvice is the permission set opsdeck needs, said once.
const rbacAdvice = "ask for RBAC get/list/watch on pods, nodes, events"

// forbiddenRE parses the API server's standard 403 message.
var forbiddenRE = regexp.MustCompile(`User "([^"]*)" cannot (\w+) resource "([^"]+)"(?: in API group "[^"]*")?(?: in the namespace "([^"]+)"| at the cluster scope)?`)

// Classify tells what kind of failure err is and what to do about it, in one
// line fit for a status panel, e.g. `user "bob" cannot list pods in namespace
// "stockapp" — ask for RBAC get/list/watch on pods, nodes, events`.
// Classify(nil) returns KindNone and "".
func Classify(err error) (ErrorKind, string) {
	if err == nil {
		return KindNone, ""
	}
	var ce *classifiedError
	if errors.As(err, &ce) {
		return ce.kind, ce.msg
	}
	host := hostInError(err)
	switch {
	case apierrors.IsForbidden(err):
		return KindForbidden, forbiddenMessage(err)
	case apierrors.IsUnauthorized(err):
		return KindUnauthorized, fmt.Sprintf("the API server%s rejected the credentials (401) — refresh them (re-login, renew the token or client certificate in the kubeconfig)", onHost(host))
	case apierrors.IsNotFound(err):
		return KindNotFound, "not found (404): " + shortStatus(err)
	case errors.Is(err, context.Canceled):
		return KindCanceled, "canceled"
	case isTLSError(err):
		return KindTLS, fmt.Sprintf("TLS verification failed for API server%s — check the certificate-authority of kubernetes.context in the kubeconfig", onHost(host))
	case isUnreachable(err):
		what := "cannot reach API server"
		if isTimeout(err) {
			what = "timed out talking to API server"
		}
		if host == "" {
			host = "(unknown host)"
		}
		return KindUnreachable, fmt.Sprintf("%s %s — check kubernetes.kubeconfig/context, VPN", what, host)
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err):
		return KindUnreachable, fmt.Sprintf("API server%s is overloaded or slow (%s) — retry later or raise timeouts.check", onHost(host), shortStatus(err))
	}
	return KindOther, err.Error()
}

// Explain wraps err with Classify's advice while keeping it matchable with
// errors.Is/As and apierrors helpers. Explain(nil) is nil.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var ce *classifiedError
	if errors.As(err, &ce) {
		return err
	}
	kind, msg := Classify(err)
	return &classifiedError{kind: kind, msg: msg, err: err}
}

// classifiedError carries Classify's verdict with the original error.
type classifiedError struct {
	kind ErrorKind
	msg  string
	err  error
}

func (e *classifiedError) Error() string {
	if e.kind == KindOther || e.kind == KindCanceled {
		return e.err.Error()
	}
	return e.msg + ": " + e.err.Error()
}

func (e *classifiedError) Unwrap() error { return e.err }

func forbiddenMessage(err error) string {
	var status apierrors.APIStatus
	msg := err.Error()
	if errors.As(err, &status) {
		msg = status.Status().Message
	}
	m := forbiddenRE.FindStringSubmatch(msg)
	if m == nil {
		return "forbidden (403): " + msg + " — " + rbacAdvice
	}
	user, verb, resource, ns := m[1], m[2], m[3], m[4]
	where := "at the cluster scope"
	if ns != "" {
		where = fmt.Sprintf("in namespace %q", ns)
	}
	return fmt.Sprintf("user %q cannot %s %s %s — %s", user, verb, resource, where, rbacAdvice)
}

func shortStatus(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

func hostInError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			return u.Host
		}
	}
	return ""
}

func onHost(host string) string {
	if host == "" {
		return ""
	}
	return " " + host
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isUnreachable(err error) bool {
	if isTimeout(err) {
		return true
	}
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &oe) || errors.As(err, &de) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "no route to host") ||
		strings.Contains(s, "connection reset") || strings.Contains(s, "EOF")
}

func isTLSError(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return true
	}
	return strings.Contains(err.Error(), "x509: ") || strings.Contains(err.Error(), "tls: ")
}
