package redis

import (
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/netfail"
)

// ErrKind says in a word why talking to Redis failed, for a status line.
type ErrKind int

// The kinds of failure Classify tells apart.
const (
	// KindOther is any failure not listed below.
	KindOther ErrKind = iota
	// KindConfig: the URL cannot be parsed.
	KindConfig
	// KindUnreachable: refused, no route, unknown host, or connection lost.
	KindUnreachable
	// KindTimeout: no answer within the dial, read or context timeout.
	KindTimeout
	// KindTLS: the TLS handshake or certificate check failed.
	KindTLS
	// KindAuth: a password is required, wrong, or given where none is set.
	KindAuth
	// KindPermission: the ACL user may not run a command (NOPERM).
	KindPermission
	// KindUnavailable: the server is loading its dataset or otherwise busy.
	KindUnavailable
	// KindCanceled: the caller canceled the context.
	KindCanceled
)

var kindNames = [...]string{
	KindOther:       "error",
	KindConfig:      "bad url",
	KindUnreachable: "unreachable",
	KindTimeout:     "timeout",
	KindTLS:         "tls",
	KindAuth:        "auth failed",
	KindPermission:  "permission denied",
	KindUnavailable: "unavailable",
	KindCanceled:    "canceled",
}

// String returns the short reason shown in status lines, e.g. "unreachable".
func (k ErrKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "error"
	}
	return kindNames[k]
}

// Error is a failure talking to Redis. Its message names the server
// (host:port, never the password) and says what to do next; Unwrap gives
// the client library's error.
type Error struct {
	Kind ErrKind
	Addr string

	msg string
	err error
}

// Error returns the message with its advice.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the underlying client or network error.
func (e *Error) Unwrap() error { return e.err }

// Classify returns the kind of err: the Kind of an *Error in its chain, or a
// kind guessed from Redis replies, network and context errors. It returns
// KindOther for nil and unknown errors.
func Classify(err error) ErrKind {
	if err == nil {
		return KindOther
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	k, _ := classify(err)
	return k
}

// target is what error messages say about the server.
type target struct {
	addr     string
	user     string
	password string // only used to scrub messages, never printed
	timeout  time.Duration
}

// Wrap turns an error from a command on client into an *Error with advice;
// it returns nil for nil and leaves an *Error as it is. Use it for commands
// other than TakeSnapshot's.
func Wrap(client *goredis.Client, err error) error {
	if err == nil {
		return nil
	}
	return wrapErr(err, targetOf(client.Options()))
}

func targetOf(o *goredis.Options) target {
	return target{addr: o.Addr, user: o.Username, password: o.Password, timeout: o.DialTimeout}
}

func wrapErr(err error, t target) error {
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	kind, detail := classify(err)
	return &Error{Kind: kind, Addr: t.addr, msg: scrub(message(kind, detail, t), t.password), err: err}
}

// classify returns the kind of err and, for kinds whose message needs it, a
// detail.
func classify(err error) (ErrKind, string) {
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		msg := strings.TrimPrefix(rerr.Error(), "ERR ")
		switch {
		case strings.HasPrefix(msg, "NOAUTH"):
			return KindAuth, "noauth"
		case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "invalid password"),
			strings.HasPrefix(msg, "invalid username-password"):
			return KindAuth, "wrongpass"
		case strings.Contains(msg, "without any password configured"), strings.Contains(msg, "no password is set"):
			return KindAuth, "nopass"
		case strings.HasPrefix(msg, "NOPERM"):
			return KindPermission, msg
		case strings.HasPrefix(msg, "LOADING"), strings.HasPrefix(msg, "BUSY"), strings.HasPrefix(msg, "MASTERDOWN"):
			return KindUnavailable, msg
		}
		return KindOther, msg
	}
	switch c, detail := netfail.Classify(err, goredis.ErrClosed); {
	case c == netfail.Canceled:
		return KindCanceled, ""
	case c == netfail.Timeout:
		return KindTimeout, ""
	case c == netfail.NoHost:
		return KindUnreachable, "cannot resolve host " + detail
	case c.Unreachable():
		return KindUnreachable, c.Detail()
	case c == netfail.TLS:
		return KindTLS, detail
	}
	if strings.Contains(err.Error(), "can't parse") {
		return KindOther, "not redis: " + err.Error()
	}
	return KindOther, err.Error()
}

// message builds the text for an error of kind k at t.
func message(k ErrKind, detail string, t target) string {
	switch k {
	case KindConfig:
		return fmt.Sprintf("cannot parse redis.url: %s — expected redis://[user:password@]host:port/db "+
			"or rediss:// for TLS (the URL is not shown because it may hold a password)", detail)
	case KindUnreachable:
		switch detail {
		case "connection refused":
			return fmt.Sprintf("connection refused at %s — is Redis running? check redis.url or REDIS_URL", t.addr)
		case "no route to host":
			return fmt.Sprintf("no route to %s — check the host in redis.url and the network path", t.addr)
		case "connection lost":
			return fmt.Sprintf("connection to %s lost — did Redis restart, or is it rejecting clients (maxclients)? check its log and retry", t.addr)
		}
		return fmt.Sprintf("%s — check the host in redis.url or REDIS_URL", detail)
	case KindTimeout:
		return fmt.Sprintf("no answer from %s within %s — check the host and port in redis.url and any firewall, "+
			"or raise timeouts.connect", t.addr, t.timeout)
	case KindTLS:
		return fmt.Sprintf("TLS with %s failed: %s — use redis:// for a server without TLS, rediss:// with a trusted certificate otherwise", t.addr, detail)
	case KindAuth:
		switch detail {
		case "noauth":
			return fmt.Sprintf("Redis at %s requires a password — check the password in redis.url or REDIS_URL", t.addr)
		case "nopass":
			return fmt.Sprintf("Redis at %s has no password set but one was given — check the password in redis.url or REDIS_URL", t.addr)
		}
		user := t.user
		if user == "" {
			user = "default"
		}
		return fmt.Sprintf("Redis at %s rejected the password for user %q — check the password in redis.url or REDIS_URL", t.addr, user)
	case KindPermission:
		return fmt.Sprintf("Redis at %s refused a command: %s — grant the ACL user +info (or +@slow)", t.addr, detail)
	case KindUnavailable:
		return fmt.Sprintf("Redis at %s is not ready: %s — wait and retry", t.addr, detail)
	case KindCanceled:
		return fmt.Sprintf("talking to Redis at %s was canceled", t.addr)
	}
	if reply, ok := strings.CutPrefix(detail, "not redis: "); ok {
		return fmt.Sprintf("%s answered something that is not Redis (%s) — check the host and port in redis.url or REDIS_URL", t.addr, reply)
	}
	return fmt.Sprintf("redis at %s: %s", t.addr, detail)
}

// scrub removes the password from a message, should a reply ever echo it.
// Passwords shorter than 4 characters are left alone.
func scrub(msg, password string) string {
	if len(password) < 4 {
		return msg
	}
	return strings.ReplaceAll(msg, password, "xxxxx")
}
