package redact

import (
	"slices"
	"sync"
	"sync/atomic"
)

// registered are the secrets this process read at run time (Register).
var (
	registerMu sync.Mutex
	registered atomic.Pointer[[]string]
)

// Register adds secrets this process read at run time — a password taken
// from a Kubernetes Secret as it connects — to those String masks wherever
// it is called (logs, the audit log, errors, command output), as if every
// caller passed them. Register before the value can reach any output.
func Register(secrets ...string) {
	registerMu.Lock()
	defer registerMu.Unlock()
	var cur []string
	if p := registered.Load(); p != nil {
		cur = *p
	}
	next := slices.Clone(cur)
	for _, s := range secrets {
		if s != "" && s != Mask && !slices.Contains(next, s) {
			next = append(next, s)
		}
	}
	if len(next) != len(cur) {
		registered.Store(&next)
	}
}

// Registered are the secrets Register added.
func Registered() []string {
	if p := registered.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}
