// Package audit keeps opsdeck's append-only audit log: one JSON line per
// action that changes anything (backups, restores, maintenance), written when
// the action ends, including actions that failed or were refused.
//
// Typical use:
//
//	e := log.Begin("backup.create", "postgres/stocks", map[string]any{"format": "custom"})
//	err := doBackup(ctx)
//	if aerr := e.End(err); aerr != nil { ... } // the audit write failed
//
// Parameters and error text are redacted before they are written. Library
// code in this package never prints.
package audit
