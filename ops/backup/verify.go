package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"filippo.io/age"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// VerifyOptions choose what Verify checks.
type VerifyOptions struct {
	// IDs to verify; empty with All false means the newest set.
	IDs []string
	All bool
	// Deep also reads every file's content: pg_restore --list reads the
	// dump, the RDB is parsed to its end, every YAML is parsed. Encrypted
	// sets need backup.encryption.identity_file.
	Deep     bool
	Progress progress.Func
}

// Verify re-hashes every file of the chosen sets against their manifests
// (and, deep, reads their content), records each set's verify state, and
// returns the results. The error is non-nil when any set failed; each
// failed result names its files.
func (e *Engine) Verify(ctx context.Context, opts VerifyOptions) ([]VerifyResult, error) {
	target := e.Store.String()
	if err := e.Refuse(ctx, access.BackupVerify, target); err != nil {
		return nil, err
	}
	entry := e.AuditLog(ctx).Begin("backup.verify", target, map[string]any{"ids": opts.IDs, "all": opts.All, "deep": opts.Deep})
	end := logging.Span(ctx, "backup.verify", logging.KeyTarget, target, logging.KeyMode, verifyMode(opts.Deep), logging.KeySet, opts.which())
	// A reader: beside backups and other readers, never beside a prune or
	// a restore, which could delete a set under it (and a verify result
	// written into a set being deleted would leave a leftover behind).
	lock, err := e.LockStoreFor(ctx, LockReader, verifyMode(opts.Deep)+" verify")
	slog.DebugContext(ctx, "backup.verify lock", logging.KeyPath, e.Store.LockPath(), logging.KeyOutcome, logging.Outcome(err), logging.Err(err))
	var results []VerifyResult
	if err == nil {
		results, err = e.verify(ctx, opts)
		lock.Release()
	}
	end(err, logging.KeyCount, len(results))
	endAudit(entry, err)
	return results, err
}

// which names the sets a verify checks for the trace.
func (o VerifyOptions) which() string {
	switch {
	case len(o.IDs) > 0:
		return strings.Join(o.IDs, ",")
	case o.All:
		return "all"
	}
	return "newest"
}

// verifyMode names a verify's thoroughness for the trace.
func verifyMode(deep bool) string {
	if deep {
		return "deep"
	}
	return "plain"
}

// err is the result's problems as an error, nil when it is OK.
func (v *VerifyResult) err() error {
	if v.OK {
		return nil
	}
	return errors.New(strings.Join(v.Problems, "; "))
}

func (e *Engine) verify(ctx context.Context, opts VerifyOptions) ([]VerifyResult, error) {
	var sets []Set
	switch {
	case len(opts.IDs) > 0:
		for _, id := range opts.IDs {
			s, err := Get(ctx, e.Store, id)
			if err != nil && s.Err == "" {
				return nil, err
			}
			sets = append(sets, s)
		}
	default:
		all, err := List(ctx, e.Store)
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("no backup sets in %s — take one with opsdeck backup", e.Store)
		}
		sets = all
		if !opts.All {
			sets = all[:1]
		}
	}
	var ids []age.Identity
	if opts.Deep {
		var err error
		if ids, err = e.Identities(); err != nil {
			return nil, err
		}
	}
	var results []VerifyResult
	var failed []string
	for _, s := range sets {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		var r VerifyResult
		if s.Manifest == nil {
			r = VerifyResult{ID: s.ID, At: e.now().UTC(), Deep: opts.Deep, Problems: []string{"manifest: " + s.Err}}
		} else {
			r = e.verifySet(ctx, s.Manifest, opts.Deep, ids, opts.Progress)
			if err := e.saveVerify(ctx, s.ID, r); err != nil {
				r.Problems = append(r.Problems, "could not record the result: "+err.Error())
			}
		}
		if !r.OK {
			failed = append(failed, s.ID+": "+strings.Join(r.Problems, "; "))
		}
		results = append(results, r)
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("verify failed for %d of %d set(s): %s", len(failed), len(results), strings.Join(failed, " | "))
	}
	return results, nil
}

// CheckSet checks every file of a set like Verify (deep: its content too)
// without recording the result or an audit entry: a restore's preflight.
// Deep checks of an encrypted set need the identities (Engine.Identities).
func (e *Engine) CheckSet(ctx context.Context, m *Manifest, deep bool, ids []age.Identity, p progress.Func) VerifyResult {
	return e.verifySet(ctx, m, deep, ids, p)
}

// verifySet checks every file of m.
func (e *Engine) verifySet(ctx context.Context, m *Manifest, deep bool, ids []age.Identity, p progress.Func) VerifyResult {
	return e.checkSet(ctx, m, deep, ids, nil, p)
}

// checkSet checks every file of m, except those proved says were read
// back already (a backup's own read-back).
func (e *Engine) checkSet(ctx context.Context, m *Manifest, deep bool, ids []age.Identity, proved func(id string, f File) bool, p progress.Func) VerifyResult {
	r := VerifyResult{ID: m.ID, At: e.now().UTC(), Deep: deep}
	var total int64
	for _, c := range m.Components {
		for _, f := range c.Files {
			total += f.Size
		}
	}
	var done int64
	end := logging.Span(ctx, "backup.verify.set", logging.KeySet, m.ID, logging.KeyMode, verifyMode(deep), logging.KeyBytes, total)
	defer func() { end(r.err(), logging.KeyCount, r.Files) }()
	p.Emit(progress.Event{Kind: progress.Start, Op: "verify", Step: m.ID, Total: total, Bytes: true})
	for i := range m.Components {
		c := &m.Components[i]
		for _, f := range c.Files {
			base := done
			tick := func(n int64) {
				p.Emit(progress.Event{Kind: progress.Advance, Op: "verify", Step: m.ID, Done: base + n, Total: total, Bytes: true})
			}
			var err error
			mode := verifyMode(deep)
			readBack := !deep && proved != nil && proved(m.ID, f)
			if readBack {
				mode = "read back while written"
			}
			endFile := logging.Span(ctx, "backup.verify.file", logging.KeySet, m.ID, logging.KeyComponent, c.Name, logging.KeyFile, f.Name, logging.KeyMode, mode)
			switch {
			case deep:
				err = e.deepCheck(ctx, m, c, f, ids, tick)
			case readBack:
				tick(f.Size)
			default:
				err = HashFile(ctx, e.Store, m.ID, f, tick)
			}
			endFile(err, logging.KeyBytes, f.Size)
			done += f.Size
			r.Files++
			if err != nil {
				r.Problems = append(r.Problems, fmt.Sprintf("%s/%s: %v", m.ID, f.Name, err))
			}
		}
	}
	r.OK = len(r.Problems) == 0
	if r.OK {
		p.Emit(progress.Event{Kind: progress.Finish, Op: "verify", Step: m.ID, Done: total, Bytes: true, Message: r.State()})
	} else {
		p.Emit(progress.Event{Kind: progress.Fail, Op: "verify", Step: m.ID, Err: strings.Join(r.Problems, "; ")})
	}
	return r
}

func (e *Engine) saveVerify(ctx context.Context, id string, r VerifyResult) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return e.Store.PutMeta(ctx, id, VerifyName, append(b, '\n'))
}

// deepCheck reads a file's content to its end, checks it with its
// component's type and checks the stored bytes' checksum: a superset of
// the plain verify.
func (e *Engine) deepCheck(ctx context.Context, m *Manifest, c *Component, f File, ids []age.Identity, tick func(int64)) error {
	fr, err := OpenFile(ctx, e.Store, m.ID, f, ids)
	if err != nil {
		return err
	}
	defer fr.Close()
	var src io.Reader = fr
	if tick != nil {
		src = &tickReader{r: fr, fr: fr, tick: tick}
	}
	err = e.checkContent(ctx, m, c, f, src, ids)
	if err != nil {
		// Damaged bytes fail the format check first: name the real cause.
		if _, cerr := io.Copy(io.Discard, fr); errors.Is(cerr, ErrChecksum) {
			return cerr
		}
		return err
	}
	return fr.Verified()
}

type tickReader struct {
	r    io.Reader
	fr   *FileReader
	tick func(int64)
}

func (t *tickReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.tick(t.fr.StoredBytes())
	return n, err
}
