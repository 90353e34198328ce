package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/runner"
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
	results, err := e.verify(ctx, opts)
	endAudit(entry, err)
	return results, err
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
	r := VerifyResult{ID: m.ID, At: e.now().UTC(), Deep: deep}
	var total int64
	for _, c := range m.Components {
		for _, f := range c.Files {
			total += f.Size
		}
	}
	var done int64
	p.Emit(progress.Event{Kind: progress.Start, Op: "verify", Step: m.ID, Total: total, Bytes: true})
	for _, c := range m.Components {
		for _, f := range c.Files {
			base := done
			tick := func(n int64) {
				p.Emit(progress.Event{Kind: progress.Advance, Op: "verify", Step: m.ID, Done: base + n, Total: total, Bytes: true})
			}
			var err error
			if deep {
				err = e.deepCheck(ctx, m.ID, c.Name, f, ids, tick)
			} else {
				err = HashFile(ctx, e.Store, m.ID, f, tick)
			}
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

// deepCheck reads a file's content and checks it by its format.
func (e *Engine) deepCheck(ctx context.Context, id, component string, f File, ids []age.Identity, tick func(int64)) error {
	fr, err := OpenFile(ctx, e.Store, id, f, ids)
	if err != nil {
		return err
	}
	defer fr.Close()
	var src io.Reader = fr
	if tick != nil {
		src = &tickReader{r: fr, fr: fr, tick: tick}
	}
	var want []TableCount
	if s, gerr := Get(ctx, e.Store, id); gerr == nil {
		if c, ok := s.Manifest.Component(component); ok && c.Postgres != nil {
			want = c.Postgres.Tables
		}
	}
	err = checkContent(ctx, e, id, component, f, src, ids, want)
	if err != nil {
		// Damaged bytes fail the format check first: name the real cause.
		if _, cerr := io.Copy(io.Discard, fr); errors.Is(cerr, ErrChecksum) {
			return cerr
		}
	}
	return err
}

// checkContent reads a file's content to its end and checks it by format.
func checkContent(ctx context.Context, e *Engine, id, component string, f File, src io.Reader, ids []age.Identity, want []TableCount) error {
	switch f.Format {
	case "pg_dump-custom":
		// Every block parses to the end and holds the rows the manifest says.
		counts, err := CountArchive(src)
		if err != nil {
			return fmt.Errorf("the dump does not parse: %w", err)
		}
		if err := compareCounts(want, counts.Tables); err != nil {
			return err
		}
		// pg_restore itself reads the table of contents (a second, short read).
		fr, err := OpenFile(ctx, e.Store, id, f, ids)
		if err != nil {
			return err
		}
		defer fr.Close()
		bin := PgBin(e.Config.Backup.PgBinDir, "pg_restore")
		var list strings.Builder
		if err := e.runner().Run(ctx, runner.Cmd{Path: bin, Args: []string{"--list"}, Stdin: fr, Stdout: &list, StderrLines: 8}); err != nil {
			return fmt.Errorf("pg_restore --list cannot read the dump: %w", err)
		}
		if !strings.Contains(list.String(), "TABLE DATA") {
			return errors.New("pg_restore --list shows no table data in the dump")
		}
		return nil
	case "rdb":
		_, err := ParseRDB(src)
		return err
	case "tar":
		tr := tar.NewReader(src)
		n := 0
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("tar: %w", err)
			}
			if component == Config && strings.HasSuffix(h.Name, ".yaml") {
				b, err := io.ReadAll(tr)
				if err != nil {
					return fmt.Errorf("%s: %w", h.Name, err)
				}
				var obj map[string]any
				if err := yaml.Unmarshal(b, &obj); err != nil {
					return fmt.Errorf("%s does not parse: %w", h.Name, err)
				}
				if obj["kind"] == nil || obj["apiVersion"] == nil {
					return fmt.Errorf("%s has no kind or apiVersion", h.Name)
				}
			}
			n++
		}
		_, err := io.Copy(io.Discard, src)
		return err
	}
	_, err := io.Copy(io.Discard, src)
	return err
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

// compareCounts checks the rows found in a dump against the manifest's.
func compareCounts(want, got []TableCount) error {
	found := map[string]int64{}
	for _, t := range got {
		found[t.Schema+"."+t.Name] = t.Rows
	}
	var bad []string
	for _, t := range want {
		n, ok := found[t.Schema+"."+t.Name]
		if !ok {
			bad = append(bad, t.Schema+"."+t.Name+" is missing")
		} else if n != t.Rows {
			bad = append(bad, fmt.Sprintf("%s.%s has %d rows, the manifest says %d", t.Schema, t.Name, n, t.Rows))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the dump does not match its manifest: %s", strings.Join(bad, "; "))
	}
	return nil
}
