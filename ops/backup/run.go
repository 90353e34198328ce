package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Options choose what a backup takes.
type Options struct {
	// Kind is "full" or one component.
	Kind string
	// Components, when set, overrides the kind's components (the cockpit
	// lets the operator pick them); Kind then only labels the set.
	Components []string
	// Tags label the set ("pre-restore").
	Tags []string
	// Progress receives the run's events.
	Progress progress.Func
	// HeldLock, when set, is the store lock the caller already holds in
	// LockExclusive use (a restore taking its safety backup) or LockBackup
	// use; the run neither takes nor frees it.
	HeldLock *Lock
}

// Result is the outcome of a backup run.
type Result struct {
	// Manifest is the committed set, nil when nothing was committed.
	Manifest *Manifest
	// Cleaned lists leftovers of interrupted runs removed first.
	Cleaned []string
	// Verified is true when the stored files were re-read and matched.
	Verified bool
	Took     time.Duration
}

// Backup takes a backup set: it refuses in read-only mode, takes the store
// lock, cleans leftovers of interrupted runs, runs each component into the
// staged set, commits the manifest when at least one component succeeded,
// re-reads the stored files to mark the set verified, then writes metrics,
// calls the webhook and records the audit entry. A component that fails
// leaves no file behind; when every component fails nothing is committed
// and the error names each failure.
func (e *Engine) Backup(ctx context.Context, opts Options) (res Result, err error) {
	start := e.now()
	p := opts.Progress
	comps := opts.Components
	if len(comps) == 0 {
		if comps, err = ComponentsOf(opts.Kind); err != nil {
			return res, err
		}
	}
	types := make([]SetComponent, 0, len(comps))
	for _, c := range comps {
		t, ok := LookupSetComponent(c)
		if !ok {
			return res, unknownComponent(c)
		}
		types = append(types, t)
	}
	if opts.Kind == "" {
		opts.Kind = strings.Join(comps, "+")
	}
	target := e.Store.String()
	if err := e.Refuse(ctx, access.BackupRun, target); err != nil {
		return res, err
	}
	entry := e.AuditLog(ctx).Begin("backup.create", target, map[string]any{"kind": opts.Kind, "components": comps, "tags": opts.Tags})
	endSpan := logging.Span(ctx, "backup", logging.KeyTarget, target, logging.KeyKind, opts.Kind, logging.KeyComponents, comps)
	var lock *Lock
	locked := false
	var m *Manifest
	defer func() {
		if m != nil {
			endSpan(err, logging.KeySet, m.ID, logging.KeyStatus, m.Status, logging.KeyBytes, m.Size())
		} else {
			endSpan(err)
		}
		endAudit(entry, err)
		res.Took = e.now().Sub(start)
		// Metrics are read, updated and written under the lock; a run
		// refused by the lock only notifies.
		e.afterRun(ctx, comps, res, err, locked)
		lock.Release() // nil when the caller holds the lock
	}()

	switch {
	case opts.HeldLock != nil:
		if !opts.HeldLock.Held() {
			return res, errors.New("backup: the store lock passed in was already released")
		}
		if u := opts.HeldLock.Use(); u != LockExclusive && u != LockBackup {
			return res, fmt.Errorf("backup: the store lock passed in is a %s's; a backup needs the backup lock or the store to itself", u)
		}
		slog.DebugContext(ctx, "backup lock held by the caller", logging.KeyPath, e.Store.LockPath())
	default:
		if lock, err = e.LockStoreFor(ctx, LockBackup, "backup "+opts.Kind); err != nil {
			slog.DebugContext(ctx, "backup lock refused", logging.KeyPath, e.Store.LockPath(), logging.Err(err))
			return res, err
		}
		slog.DebugContext(ctx, "backup lock taken", logging.KeyPath, e.Store.LockPath())
	}
	locked = true
	if res.Cleaned, err = e.CleanLeftovers(ctx); err != nil {
		slog.DebugContext(ctx, "backup leftovers not all removed", logging.KeyLeftovers, res.Cleaned, logging.Err(err))
		p.Emit(progress.Event{Kind: progress.Warn, Op: "backup", Message: "could not remove leftovers of an interrupted run: " + err.Error()})
	} else if len(res.Cleaned) > 0 {
		slog.DebugContext(ctx, "backup leftovers removed", logging.KeyLeftovers, res.Cleaned)
		p.Emit(progress.Event{Kind: progress.Info, Op: "backup", Message: fmt.Sprintf("removed leftovers of %d interrupted run(s): %s", len(res.Cleaned), strings.Join(res.Cleaned, ", "))})
	}
	codec, err := e.codec()
	if err != nil {
		return res, err
	}
	id, err := e.freeID(ctx, start)
	if err != nil {
		return res, err
	}
	m = &Manifest{
		Format: FormatVersion, ID: id, Kind: opts.Kind, Tags: opts.Tags, Start: start.UTC(),
		OpsdeckVersion: e.Version, Host: hostname(), User: audit.CurrentUser(),
	}
	slog.DebugContext(ctx, "backup set", logging.KeySet, id, logging.KeyComponents, comps, logging.KeyEncrypted, codec.Encrypted())
	committed := false
	defer func() {
		if !committed {
			// Nothing partial may stay behind; the next run cleans up too.
			if aerr := e.Store.Abandon(context.WithoutCancel(ctx), id); aerr != nil {
				slog.Warn("backup: could not remove the staged set", logging.KeySet, id, logging.Err(aerr))
			}
		}
	}()
	p.Emit(progress.Event{Kind: progress.Info, Op: "backup", Message: fmt.Sprintf("set %s into %s", id, target)})

	var failures []string
	for _, t := range types {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("backup %s interrupted: %w", id, err)
		}
		c := e.runComponent(ctx, codec, id, t, p)
		if c.Status != StatusOK {
			failures = append(failures, c.Name+": "+c.Error)
		}
		m.Components = append(m.Components, c)
	}
	m.End = e.now().UTC()
	switch {
	case len(failures) == len(comps):
		slog.DebugContext(ctx, "backup not committed: every component failed", logging.KeySet, id)
		return res, fmt.Errorf("backup failed, nothing was kept: %s", strings.Join(failures, "; "))
	case len(failures) > 0:
		m.Status = StatusPartial
	default:
		m.Status = StatusOK
	}
	data, err := m.Encode()
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("backup %s interrupted before its commit: %w", id, err)
	}
	hook("before-commit")
	if err := e.Store.Commit(ctx, id, data); err != nil {
		return res, fmt.Errorf("commit backup %s: %w", id, err)
	}
	committed = true
	res.Manifest = m
	slog.DebugContext(ctx, "backup committed", logging.KeySet, id, logging.KeyStatus, m.Status, logging.KeyBytes, m.Size())
	hook("after-commit")
	p.Emit(progress.Event{Kind: progress.Info, Op: "backup", Message: fmt.Sprintf("committed %s (%s)", id, progress.Bytes(m.Size()))})

	// Read back what was stored: a set is "verified" only once its bytes
	// came back as written. The local store read each file back while it
	// was written (Prover); anything it cannot vouch for is re-read now.
	vr := e.checkSet(ctx, m, false, nil, e.proved, p)
	if werr := e.saveVerify(ctx, id, vr); werr != nil {
		p.Emit(progress.Event{Kind: progress.Warn, Op: "backup", Message: "could not record the verify state: " + werr.Error()})
	}
	res.Verified = vr.OK
	slog.DebugContext(ctx, "backup read back", logging.KeySet, id, logging.KeyCount, vr.Files, logging.KeyOutcome, logging.Outcome(vr.err()), logging.Err(vr.err()))
	if !vr.OK {
		return res, fmt.Errorf("backup %s was committed but reading it back failed: %s", id, strings.Join(vr.Problems, "; "))
	}
	if len(failures) > 0 {
		return res, fmt.Errorf("backup %s is partial: %s", id, strings.Join(failures, "; "))
	}
	return res, nil
}

// proved reports whether the store read file f of set id back as it was
// written (Prover).
func (e *Engine) proved(id string, f File) bool {
	pr, ok := e.Store.(Prover)
	return ok && pr.Proved(id, f)
}

// freeID returns the ID for a set started at t, waiting for the next
// second when a set of this second exists already.
func (e *Engine) freeID(ctx context.Context, t time.Time) (string, error) {
	committed, _, err := e.Store.List(ctx)
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, id := range committed {
		taken[id] = true
	}
	for i := 0; i < 5; i++ {
		id := NewID(t.Add(time.Duration(i) * time.Second))
		if !taken[id] {
			if i > 0 {
				slog.DebugContext(ctx, "backup id taken: waiting for a free second", logging.KeySet, id, logging.KeyCount, i)
				select {
				case <-time.After(time.Until(t.Add(time.Duration(i) * time.Second))):
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}
			return id, nil
		}
	}
	return "", errors.New("backup: five sets already exist in these seconds — try again")
}

// writeFile streams one file of a component through the codec: fill writes
// the content; on its failure the file is discarded.
func (e *Engine) writeFile(ctx context.Context, codec Codec, id, name, format string, tick func(int64), fill func(w io.Writer) error) (File, error) {
	w, err := codec.NewWriter(ctx, e.Store, id, name, format, tick)
	if err != nil {
		return File{}, err
	}
	var dst io.Writer = w
	if testHook != nil {
		dst = &hookWriter{w: w}
	}
	if err := fill(dst); err != nil {
		w.Abort(err)
		return File{}, err
	}
	return w.Close()
}

func advance(p progress.Func, step string, total *atomic.Int64) func(int64) {
	var last time.Time
	return func(n int64) {
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond {
			last = now
			p.Emit(progress.Event{Kind: progress.Advance, Op: "backup", Step: step, Done: n, Total: total.Load(), Bytes: true})
		}
	}
}

// summarizeWarnings keeps the first n warnings and counts the rest.
func summarizeWarnings(ws []string, n int) []string {
	if len(ws) <= n {
		return ws
	}
	return append(ws[:n:n], fmt.Sprintf("and %d more like these", len(ws)-n))
}

func ageExt(c Codec) string {
	if c.Encrypted() {
		return ".age"
	}
	return ""
}

// testHook, set by tests only, is called at named points of a run so that
// a test can kill the process there.
var testHook func(point string)

func hook(point string) {
	if testHook != nil {
		testHook(point)
	}
}

// hookWriter calls the test hook once content is flowing.
type hookWriter struct {
	w     io.Writer
	n     int64
	fired bool
}

func (h *hookWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.n += int64(n)
	if !h.fired && h.n > 0 {
		h.fired = true
		hook("streaming")
	}
	return n, err
}
