package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// Exit codes: one rule for every command and every output format, so that
// scripts can chain on them (docs/troubleshooting.md#exit-codes). The
// checks (check, metrics, maintain) read 1–3 as Nagios does: warning,
// critical, unknown.
const (
	// CodeOK: done; a dry run whose plan nothing blocks.
	CodeOK = 0
	// CodeFailed: the action ran and failed (a server down, a full disk);
	// a check found a warning.
	CodeFailed = 1
	// CodeRefused: refused or blocked, nothing changed — a critical
	// preflight, a damaged set, the role, read-only mode, the store lock,
	// not confirmed; a check found something critical.
	CodeRefused = 2
	// CodeUsage: the command line or the configuration is wrong, among
	// them a set ID the store does not hold; a check could not judge.
	CodeUsage = 3
	// CodeNotUndone: a restore failed and its undo did not finish.
	CodeNotUndone = 4
	// CodeInterrupted: stopped by Ctrl-C or a signal.
	CodeInterrupted = 130
)

// ExitError carries the process exit code for an error.
type ExitError struct {
	Code int
	Err  error
	// Silent means the command already printed what the user needs.
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err with an exit code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// ExitSilently returns an error that sets the exit code without a message.
func ExitSilently(code int) error { return &ExitError{Code: code, Silent: true} }

// Fail returns err with the code the rule gives its kind (see CodeOf);
// an error that has a code already keeps it.
func Fail(err error) error {
	if err == nil {
		return nil
	}
	var e *ExitError
	if errors.As(err, &e) {
		return err
	}
	return Exit(CodeOf(err), err)
}

// CodeOf is the exit code of an error by its kind: a set or file that
// does not exist and a wrong configuration are the command line's
// (CodeUsage); a refusal that changed nothing — the role, read-only mode,
// no identity, the store lock, a restore running — is CodeRefused; an
// interruption is CodeInterrupted; anything else failed (CodeFailed).
func CodeOf(err error) int {
	var fe *config.FieldError
	var ce *oprestore.ConfigError
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, context.Canceled):
		return CodeInterrupted
	case errors.Is(err, backup.ErrNotFound), errors.As(err, &fe), errors.As(err, &ce),
		errors.Is(err, opincident.ErrNotFound), errors.Is(err, opincident.ErrNoneOpen):
		return CodeUsage
	case errors.Is(err, access.ErrReadOnly), errors.Is(err, access.ErrForbidden), errors.Is(err, access.ErrNoIdentity),
		errors.Is(err, backup.ErrLocked), errors.Is(err, oprestore.ErrRestoreRunning), errors.Is(err, opincident.ErrAlreadyOpen),
		errors.Is(err, opwal.ErrRefused), errors.Is(err, opwal.ErrStreaming):
		return CodeRefused
	}
	return CodeFailed
}

// Code returns the exit code for an error returned by a command: its
// ExitError code, else the rule's (CodeOf).
func Code(err error) (code int, silent bool) {
	if err == nil {
		return CodeOK, true
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code, e.Silent
	}
	return CodeOf(err), false
}
