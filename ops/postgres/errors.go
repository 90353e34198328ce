package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/netfail"
)

// ErrKind says in a word why talking to PostgreSQL failed, for a status line.
type ErrKind int

// The kinds of failure Classify tells apart.
const (
	// KindOther is any failure not listed below.
	KindOther ErrKind = iota
	// KindConfig: the DSN cannot be parsed.
	KindConfig
	// KindUnreachable: refused, no route, unknown host, or connection lost.
	KindUnreachable
	// KindTimeout: no answer within the connect or statement timeout.
	KindTimeout
	// KindTLS: the TLS handshake or certificate check failed.
	KindTLS
	// KindAuth: the server rejected the user or password (SQLSTATE 28P01, 28000).
	KindAuth
	// KindDatabaseMissing: the database in the DSN does not exist (3D000).
	KindDatabaseMissing
	// KindTooManyConnections: no connection slot left (53300).
	KindTooManyConnections
	// KindUnavailable: the server is starting, shutting down or in recovery (57P0x).
	KindUnavailable
	// KindPermission: the user lacks a privilege (42501).
	KindPermission
	// KindCanceled: the caller canceled the context.
	KindCanceled
)

var kindNames = [...]string{
	KindOther:              "error",
	KindConfig:             "bad dsn",
	KindUnreachable:        "unreachable",
	KindTimeout:            "timeout",
	KindTLS:                "tls",
	KindAuth:               "auth failed",
	KindDatabaseMissing:    "database missing",
	KindTooManyConnections: "too many connections",
	KindUnavailable:        "unavailable",
	KindPermission:         "permission denied",
	KindCanceled:           "canceled",
}

// String returns the short reason shown in status lines, e.g. "unreachable".
func (k ErrKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "error"
	}
	return kindNames[k]
}

// Error is a failure talking to PostgreSQL. Its message names the server
// (host and port, user, database, never the password) and says what to do
// next; Unwrap gives the driver's error.
type Error struct {
	Kind     ErrKind
	Addr     string // "host:port" or the Unix socket path
	User     string
	Database string

	msg string
	err error
}

// Error returns the message with its advice.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the underlying driver or network error.
func (e *Error) Unwrap() error { return e.err }

// Classify returns the kind of err: the Kind of an *Error in its chain, or a
// kind guessed from driver, network and context errors. It returns KindOther
// for nil and unknown errors.
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
	database string
	password string // only used to scrub messages, never printed
}

func (t target) String() string { return t.addr }

// wrapErr turns a driver error into an *Error with advice. timeout is the
// limit that applied, for timeout messages.
func wrapErr(err error, t target, timeout time.Duration) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	kind, detail := classify(err)
	msg := message(kind, detail, t, timeout)
	return &Error{
		Kind:     kind,
		Addr:     t.addr,
		User:     t.user,
		Database: t.database,
		msg:      scrub(msg, t.password),
		err:      err,
	}
}

// classify returns the kind of err and, for kinds whose message needs it, a
// detail (the server's message or the network condition).
func classify(err error) (ErrKind, string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "28P01" || pgErr.Code == "28000":
			return KindAuth, pgErr.Message
		case pgErr.Code == "3D000":
			return KindDatabaseMissing, pgErr.Message
		case pgErr.Code == "53300":
			return KindTooManyConnections, pgErr.Message
		case strings.HasPrefix(pgErr.Code, "57P"):
			return KindUnavailable, pgErr.Message
		case pgErr.Code == "57014":
			return KindTimeout, pgErr.Message
		case pgErr.Code == "42501":
			return KindPermission, pgErr.Message
		}
		return KindOther, pgErr.Message
	}
	var parseErr *pgconn.ParseConfigError
	if errors.As(err, &parseErr) {
		return KindConfig, ""
	}
	if pgconn.Timeout(err) && !errors.Is(err, context.Canceled) {
		return KindTimeout, ""
	}
	switch c, detail := netfail.Classify(err, pgconn.ErrConnClosed); {
	case c == netfail.Canceled:
		return KindCanceled, ""
	case c == netfail.Timeout:
		return KindTimeout, ""
	case c == netfail.NoHost:
		return KindUnreachable, "cannot resolve host " + detail
	case c.Unreachable():
		return KindUnreachable, c.Detail()
	case c == netfail.TLS:
		return KindTLS, lastLine(detail)
	}
	if strings.Contains(err.Error(), "TLS") {
		return KindTLS, lastLine(err.Error())
	}
	if msg := err.Error(); strings.Contains(msg, "invalid body length") || strings.Contains(msg, "unknown message type") ||
		strings.Contains(msg, "unexpected message") {
		return KindOther, "not postgres: " + lastLine(msg)
	}
	return KindOther, lastLine(err.Error())
}

// message builds the text for an error of kind k at t.
func message(k ErrKind, detail string, t target, timeout time.Duration) string {
	switch k {
	case KindConfig:
		return "cannot parse postgres.dsn — expected postgres://user:password@host:port/dbname or " +
			"\"host=... user=... dbname=...\" (the DSN is not shown because it may hold a password)"
	case KindUnreachable:
		switch detail {
		case "connection refused":
			return fmt.Sprintf("connection refused at %s — is PostgreSQL running? check postgres.dsn", t)
		case "no socket":
			return fmt.Sprintf("no PostgreSQL socket at %s — is PostgreSQL running? check the host in postgres.dsn", t)
		case "no route to host":
			return fmt.Sprintf("no route to %s — check the host in postgres.dsn and the network path", t)
		case "connection lost":
			return fmt.Sprintf("connection to %s lost — did PostgreSQL restart or crash? check the server log and retry", t)
		}
		return fmt.Sprintf("%s — check the host in postgres.dsn", detail)
	case KindTimeout:
		if detail != "" { // statement_timeout fired on the server
			return fmt.Sprintf("query at %s timed out (%s) — the server may be overloaded or locked; raise timeouts.check if it is just slow", t, detail)
		}
		if timeout > 0 {
			return fmt.Sprintf("no answer from %s within %s — check the host and port in postgres.dsn and any firewall, or raise timeouts.connect", t, timeout)
		}
		return fmt.Sprintf("no answer from %s in time — check the host and port in postgres.dsn and any firewall, or raise timeouts.connect", t)
	case KindTLS:
		return fmt.Sprintf("TLS with %s failed: %s — check sslmode and sslrootcert in postgres.dsn", t, detail)
	case KindAuth:
		if strings.Contains(detail, "password authentication failed") {
			return fmt.Sprintf("password authentication failed for user %q at %s — check the password in postgres.dsn or PGPASSWORD", t.user, t)
		}
		return fmt.Sprintf("%s refused user %q: %s — check the user in postgres.dsn and the server's pg_hba.conf", t, t.user, detail)
	case KindDatabaseMissing:
		return fmt.Sprintf("database %q does not exist at %s — check the database name in postgres.dsn", t.database, t)
	case KindTooManyConnections:
		return fmt.Sprintf("%s has no connection slot left (%s) — find idle sessions in pg_stat_activity or raise max_connections", t, detail)
	case KindUnavailable:
		return fmt.Sprintf("%s is not accepting connections (%s) — wait for it to finish starting or recovering, then retry", t, detail)
	case KindPermission:
		return fmt.Sprintf("permission denied at %s: %s — grant pg_monitor to user %q", t, detail, t.user)
	case KindCanceled:
		return fmt.Sprintf("talking to %s was canceled", t)
	}
	if detail == "" {
		detail = "unknown error"
	}
	if _, ok := strings.CutPrefix(detail, "not postgres: "); ok {
		return fmt.Sprintf("%s answered something that is not PostgreSQL — check the host and port in postgres.dsn", t)
	}
	return fmt.Sprintf("postgres at %s: %s", t, detail)
}

// scrub removes the password from a message, should a driver ever echo it.
// Passwords shorter than 4 characters are left alone: replacing them would
// garble the text while hiding little.
func scrub(msg, password string) string {
	if len(password) < 4 {
		return msg
	}
	return strings.ReplaceAll(msg, password, "xxxxx")
}

// lastLine keeps the final line of a multi-line driver message, which is
// the most specific one.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}
