package logging

import (
	"log/slog"
	"time"
)

// Log attribute keys shared by every package, so the log can be filtered by
// key whatever component wrote the record.
const (
	KeyComponent = "component" // package or subsystem writing the record ("postgres", "tui"), or the backup component handled ("database", "redis", "config", "logs")
	KeyTarget    = "target"    // what an operation acts on: a database, a pod, a backup set
	KeyAction    = "action"    // audited action name: "backup.create", "restore.run"
	KeyStep      = "step"      // step of a multi-step plan: "preflight", "verify"
	KeyErr       = "err"       // error text (redacted)
	KeyDuration  = "took"      // elapsed time of an operation
	KeyPath      = "path"      // file system path
	KeyURL       = "url"       // endpoint URL (redacted)
	KeyNamespace = "namespace" // Kubernetes namespace
	KeyPod       = "pod"       // Kubernetes pod name
	KeyCommand   = "cmd"       // external command (pg_dump, pg_restore) and its arguments
	KeyExitCode  = "exit_code" // external command exit status
	KeyBytes     = "bytes"     // size in bytes
	KeyCount     = "count"     // number of items
	KeyAttempt   = "attempt"   // retry attempt number, from 1
	KeyStatus    = "status"    // check status: ok, warn, crit, unknown
	KeyID        = "id"        // identifier: backup set id, audit record id
	KeyUser      = "user"      // acting user

	// Keys of the debug trace (--debug): spans of the engines' work and
	// one record per server call.
	KeyOutcome    = "outcome"     // how a span or call ended: ok, error, canceled, timeout (see Outcome)
	KeyClass      = "class"       // server call class: postgres, redis, kube, exec, store
	KeySet        = "set"         // backup set id
	KeyComponents = "components"  // the backup components a run takes or a restore restores
	KeyPhase      = "phase"       // part of a restore step: pre, do, verify, undo
	KeyMode       = "mode"        // how thorough: verify plain or deep, a maintenance run's mode
	KeyArea       = "area"        // maintenance area: health, db, redis, cleanup, security, capacity
	KeyFile       = "file"        // file of a backup set
	KeySQL        = "sql"         // a statement's first line, string literals elided, never its arguments
	KeyMethod     = "method"      // HTTP method of a Kubernetes API request
	KeyHTTPStatus = "http_status" // HTTP status of a Kubernetes API request
	KeyReason     = "reason"      // why: a prune decision's reason, a check's detail, a step's note
	KeyCheck      = "check"       // name of a check: a restore preflight check, a maintenance finding's check
	KeyLeftovers  = "leftovers"   // staged sets of interrupted backup runs
	KeyKind       = "kind"        // kind of a backup or restore: full, database, redis, config, logs
	KeyDecision   = "decision"    // what a plan does with an object: keep, delete
	KeyAge        = "age"         // age of a backup set
	KeyDryRun     = "dry_run"     // the operation only plans
	KeyEncrypted  = "encrypted"   // a backup set's files are encrypted
	KeyWarnings   = "warnings"    // warnings of a step: their number or text
)

// Err returns an attribute holding err's text under [KeyErr]; a nil error
// gives an empty attribute, which slog omits.
func Err(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String(KeyErr, err.Error())
}

// Took returns an attribute holding the time elapsed since start under
// [KeyDuration].
func Took(start time.Time) slog.Attr {
	return slog.Duration(KeyDuration, time.Since(start))
}
