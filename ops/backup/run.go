package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/redact"
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
	// HeldLock, when set, is the store lock the caller already holds (a
	// restore taking its safety backup); the run neither takes nor frees it.
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
	for _, c := range comps {
		if _, err := ComponentsOf(c); err != nil || c == "full" {
			return res, fmt.Errorf("unknown component %q: choose database, redis, config or logs", c)
		}
	}
	if opts.Kind == "" {
		opts.Kind = strings.Join(comps, "+")
	}
	target := e.Store.String()
	if err := e.Refuse(ctx, access.BackupRun, target); err != nil {
		return res, err
	}
	entry := e.AuditLog(ctx).Begin("backup.create", target, map[string]any{"kind": opts.Kind, "components": comps, "tags": opts.Tags})
	var lock *Lock
	locked := false
	defer func() {
		endAudit(entry, err)
		res.Took = e.now().Sub(start)
		// Metrics are read, updated and written under the lock; a run
		// refused by the lock only notifies.
		e.afterRun(ctx, comps, res, err, locked)
		lock.Release() // nil when the caller holds the lock
	}()

	switch {
	case opts.HeldLock != nil:
		if opts.HeldLock.f == nil {
			return res, errors.New("backup: the store lock passed in was already released")
		}
	default:
		if lock, err = e.LockStore(ctx, "backup "+opts.Kind); err != nil {
			return res, err
		}
	}
	locked = true
	if res.Cleaned, err = e.CleanLeftovers(ctx); err != nil {
		p.Emit(progress.Event{Kind: progress.Warn, Op: "backup", Message: "could not remove leftovers of an interrupted run: " + err.Error()})
	} else if len(res.Cleaned) > 0 {
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
	m := &Manifest{
		Format: FormatVersion, ID: id, Kind: opts.Kind, Tags: opts.Tags, Start: start.UTC(),
		OpsdeckVersion: e.Version, Host: hostname(), User: audit.CurrentUser(),
	}
	committed := false
	defer func() {
		if !committed {
			// Nothing partial may stay behind; the next run cleans up too.
			if aerr := e.Store.Abandon(context.WithoutCancel(ctx), id); aerr != nil {
				slog.Warn("backup: could not remove the staged set", logging.KeyID, id, logging.Err(aerr))
			}
		}
	}()
	p.Emit(progress.Event{Kind: progress.Info, Op: "backup", Message: fmt.Sprintf("set %s into %s", id, target)})

	var failures []string
	for _, name := range comps {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("backup %s interrupted: %w", id, err)
		}
		c := e.component(ctx, codec, id, name, p)
		if c.Status != StatusOK {
			failures = append(failures, name+": "+c.Error)
		}
		m.Components = append(m.Components, c)
	}
	m.End = e.now().UTC()
	switch {
	case len(failures) == len(comps):
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
	hook("after-commit")
	p.Emit(progress.Event{Kind: progress.Info, Op: "backup", Message: fmt.Sprintf("committed %s (%s)", id, progress.Bytes(m.Size()))})

	// Re-read what was stored: a set is "verified" only once its bytes
	// came back as written.
	vr := e.verifySet(ctx, m, false, nil, p)
	if werr := e.saveVerify(ctx, id, vr); werr != nil {
		p.Emit(progress.Event{Kind: progress.Warn, Op: "backup", Message: "could not record the verify state: " + werr.Error()})
	}
	res.Verified = vr.OK
	if !vr.OK {
		return res, fmt.Errorf("backup %s was committed but reading it back failed: %s", id, strings.Join(vr.Problems, "; "))
	}
	if len(failures) > 0 {
		return res, fmt.Errorf("backup %s is partial: %s", id, strings.Join(failures, "; "))
	}
	return res, nil
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

// component runs one component into the staged set and describes it.
func (e *Engine) component(ctx context.Context, codec Codec, id, name string, p progress.Func) Component {
	c := Component{Name: name, Start: e.now().UTC()}
	p.Emit(progress.Event{Kind: progress.Start, Op: "backup", Step: name})
	var err error
	switch name {
	case Database:
		err = e.backupDatabase(ctx, codec, id, &c, p)
	case Redis:
		err = e.backupRedis(ctx, codec, id, &c, p)
	case Config:
		err = e.backupConfig(ctx, codec, id, &c, p)
	case Logs:
		err = e.backupLogs(ctx, codec, id, &c, p)
	}
	c.End = e.now().UTC()
	for _, w := range c.Warnings {
		p.Emit(progress.Event{Kind: progress.Warn, Op: "backup", Step: name, Message: w})
	}
	if err != nil {
		c.Status = StatusFailed
		c.Error = redact.String(err.Error(), redact.Passwords(e.Config.Postgres.DSN)...)
		c.Error = redact.String(c.Error, redact.Passwords(e.Config.Redis.URL)...)
		c.Files = nil
		emitFail(p, "backup", name, errors.New(c.Error))
		return c
	}
	c.Status = StatusOK
	var size int64
	for _, f := range c.Files {
		size += f.Size
	}
	p.Emit(progress.Event{Kind: progress.Finish, Op: "backup", Step: name, Done: size, Bytes: true,
		Message: fmt.Sprintf("%s stored in %s", progress.Bytes(size), c.End.Sub(c.Start).Round(time.Millisecond))})
	return c
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

func advance(p progress.Func, step string, total *int64) func(int64) {
	var last time.Time
	return func(n int64) {
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond {
			last = now
			p.Emit(progress.Event{Kind: progress.Advance, Op: "backup", Step: step, Done: n, Total: *total, Bytes: true})
		}
	}
}

func (e *Engine) backupDatabase(ctx context.Context, codec Codec, id string, c *Component, p progress.Func) error {
	if e.Config.Postgres.DSN == "" {
		return errors.New("no PostgreSQL configured — set postgres.dsn (or DATABASE_URL / PGHOST…)")
	}
	var total int64
	dump := postgresDump{
		dsn: e.Config.Postgres.DSN, binDir: e.Config.Backup.PgBinDir, run: e.runner(), connect: e.Config.Timeouts.Connect,
		onTable: func(t string) {
			p.Emit(progress.Event{Kind: progress.Info, Op: "backup", Step: Database, Message: "dumping " + t})
		},
		onEstimate: func(n int64) { total = n },
	}
	var facts *PostgresFacts
	f, err := e.writeFile(ctx, codec, id, "database.dump.zst"+ageExt(codec), "pg_dump-custom", advance(p, Database, &total), func(w io.Writer) error {
		var err error
		facts, c.Warnings, err = dump.dump(ctx, w)
		return err
	})
	if err != nil {
		return err
	}
	c.Postgres = facts
	c.Files = []File{f}
	return nil
}

func (e *Engine) backupRedis(ctx context.Context, codec Codec, id string, c *Component, p progress.Func) error {
	if e.Config.Redis.URL == "" {
		return errors.New("no Redis configured — set redis.url")
	}
	var total int64
	tick := advance(p, Redis, &total)
	var sum RDBSummary
	f, err := e.writeFile(ctx, codec, id, "redis.rdb.zst"+ageExt(codec), "rdb", nil, func(w io.Writer) error {
		var err error
		sum, err = SnapshotRDB(ctx, e.Config.Redis.URL, w, RDBOptions{
			DialTimeout: e.Config.Timeouts.Connect,
			Tick:        func(done, t int64) { total = t; tick(done) },
		})
		return err
	})
	if err != nil {
		return err
	}
	c.Redis = &RedisFacts{Version: sum.Aux["redis-ver"], RDBVersion: sum.Version, Keys: sum.Keys, Expires: sum.Expires}
	if sum.ChecksumDisabled {
		c.Warnings = append(c.Warnings, "the server writes RDBs without a checksum (rdbchecksum no): the snapshot could not be checked")
	}
	c.Files = []File{f}
	return nil
}

func (e *Engine) backupConfig(ctx context.Context, codec Codec, id string, c *Component, p progress.Func) error {
	client, err := e.KubeClient()
	if err != nil {
		return err
	}
	var facts *KubeFacts
	var warnings []string
	f, err := e.writeFile(ctx, codec, id, "config.tar.zst"+ageExt(codec), "tar", nil, func(w io.Writer) error {
		var err error
		facts, warnings, err = kubeConfigDump{client: client, withSecret: codec.Encrypted(), at: e.now(),
			onObject: func(n int) {
				p.Emit(progress.Event{Kind: progress.Advance, Op: "backup", Step: Config, Done: int64(n)})
			}}.dump(ctx, w)
		return err
	})
	c.Warnings = warnings
	if err != nil {
		return err
	}
	c.Kube = facts
	c.Files = []File{f}
	return nil
}

func (e *Engine) backupLogs(ctx context.Context, codec Codec, id string, c *Component, p progress.Func) error {
	client, err := e.KubeClient()
	if err != nil {
		return err
	}
	var facts *LogsFacts
	var warnings []string
	f, err := e.writeFile(ctx, codec, id, "logs.tar.zst"+ageExt(codec), "tar", nil, func(w io.Writer) error {
		var err error
		facts, warnings, err = kubeLogsDump{client: client, window: e.Config.Backup.LogsWindow, at: e.now(), limit: 32 << 20, parallel: 4,
			onPod: func(n, total int) {
				p.Emit(progress.Event{Kind: progress.Advance, Op: "backup", Step: Logs, Done: int64(n), Total: int64(total)})
			}}.dump(ctx, w)
		return err
	})
	c.Warnings = summarizeWarnings(warnings, 5)
	if err != nil {
		return err
	}
	c.Logs = facts
	c.Files = []File{f}
	return nil
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
