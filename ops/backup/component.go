package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"filippo.io/age"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/redact"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// ComponentType is one kind of thing the backup store keeps. Every type
// has a name (in manifests, the CLI and the cockpit) and a line saying
// what it keeps. Types that write files into sets also implement
// SetComponent; a type that keeps its data outside the sets (the WAL
// archive) implements only this and its own interface.
//
// A new component is one file holding its type plus a line in registered.
type ComponentType interface {
	// Name is the component's name: "database", "redis".
	Name() string
	// About says in a few words what it keeps, with cfg's settings.
	About(cfg *config.Config) string
}

// SetComponent is a component that writes one or more files into each
// backup set and can read them back. `backup full` takes every one but
// those whose OnItsOwn method (optional) returns true (base).
type SetComponent interface {
	ComponentType
	// Chosen reports whether the cockpit's chooser selects it by default.
	Chosen() bool
	// Restorable reports whether ops/restore restores it. The restore of
	// a component is a part of ops/restore's plan (it orders safety
	// backups, stopped writers and swaps across components); a test there
	// holds the two lists equal.
	Restorable() bool
	// Backup writes the component's files into the staged set through
	// run.WriteFile and records its facts in run.Record (warnings too).
	// On error the run discards whatever was written.
	Backup(ctx context.Context, run *ComponentRun) error
	// Check reads one stored file's content to its end and checks it
	// against the set's record of the component: deep verify. The bytes'
	// checksum is checked by the reader; Check judges what they say.
	Check(ctx context.Context, c *ContentCheck) error
}

// registered lists the component types in the order a full backup takes
// them and the cockpit shows them.
var registered = []ComponentType{
	databaseComponent{},
	redisComponent{},
	configComponent{},
	logsComponent{},
	baseComponent{},
	walComponent{},
}

// onItsOwn is implemented by a set component that `backup full` leaves
// out: it is taken by its own kind only (opsdeck backup base).
type onItsOwn interface {
	OnItsOwn() bool
}

// inFull reports whether `backup full` takes t.
func inFull(t SetComponent) bool {
	o, ok := t.(onItsOwn)
	return !ok || !o.OnItsOwn()
}

// Components returns every registered component type, in order.
func Components() []ComponentType { return slices.Clone(registered) }

// SetComponents returns the component types that write into sets, in order.
func SetComponents() []SetComponent {
	var out []SetComponent
	for _, t := range registered {
		if s, ok := t.(SetComponent); ok {
			out = append(out, s)
		}
	}
	return out
}

// LookupSetComponent returns the set component named name.
func LookupSetComponent(name string) (SetComponent, bool) {
	for _, s := range SetComponents() {
		if s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// fullComponentNames lists the components `backup full` takes.
func fullComponentNames() []string {
	var out []string
	for _, s := range SetComponents() {
		if inFull(s) {
			out = append(out, s.Name())
		}
	}
	return out
}

func setComponentNames() []string {
	var out []string
	for _, s := range SetComponents() {
		out = append(out, s.Name())
	}
	return out
}

// ComponentRun is what a SetComponent's Backup works with: the engine's
// configuration and runner, the staged set, the component's record in the
// manifest and the run's progress.
type ComponentRun struct {
	// Record is the component's entry in the manifest: Backup fills its
	// facts and warnings; WriteFile appends its files.
	Record   *Component
	Progress progress.Func

	e     *Engine
	codec Codec
	id    string
}

// Config is the engine's configuration.
func (r *ComponentRun) Config() *config.Config { return r.e.Config }

// Runner runs the external tools (pg_dump).
func (r *ComponentRun) Runner() runner.Runner { return r.e.runner() }

// Encrypted reports whether the set's files are encrypted (a component may
// leave secrets out of an unencrypted set).
func (r *ComponentRun) Encrypted() bool { return r.codec.Encrypted() }

// Engine is the engine running the backup (its clock, its Kubernetes client).
func (r *ComponentRun) Engine() *Engine { return r.e }

// WriteFile streams one file into the set through the codec: name is the
// file's base name ("database.dump"; the codec's extensions are added),
// format its content's format, tick is told the raw bytes written so far
// (nil: no progress), fill writes the content. The file is added to the
// record only once it is stored whole.
func (r *ComponentRun) WriteFile(ctx context.Context, name, format string, tick func(int64), fill func(w io.Writer) error) error {
	f, err := r.e.writeFile(ctx, r.codec, r.id, name+".zst"+ageExt(r.codec), format, tick, fill)
	if err != nil {
		return err
	}
	r.Record.Files = append(r.Record.Files, f)
	return nil
}

// Advance returns a tick for WriteFile that reports progress of the
// component's step against total (which may be learnt on the way, from
// another goroutine: pg_dump's estimate comes from its stderr).
func (r *ComponentRun) Advance(total *atomic.Int64) func(int64) {
	return advance(r.Progress, r.Record.Name, total)
}

// Emit reports an event of the component's step.
func (r *ComponentRun) Emit(kind progress.Kind, message string, done, total int64) {
	r.Progress.Emit(progress.Event{Kind: kind, Op: "backup", Step: r.Record.Name, Message: message, Done: done, Total: total})
}

// ContentCheck is one stored file being read back by a deep verify.
type ContentCheck struct {
	// Set is the set's manifest, Record the component's entry in it, File
	// the file being read.
	Set    *Manifest
	Record *Component
	File   File
	// Content is the file's decrypted, decompressed content. Its last read
	// fails with ErrChecksum when the stored bytes are not the manifest's.
	Content io.Reader

	e   *Engine
	ids []age.Identity
}

// Config is the engine's configuration.
func (c *ContentCheck) Config() *config.Config { return c.e.Config }

// Runner runs the external tools (pg_restore --list).
func (c *ContentCheck) Runner() runner.Runner { return c.e.runner() }

// Reopen opens the file again from its start, for a tool that reads it
// a second time.
func (c *ContentCheck) Reopen(ctx context.Context) (*FileReader, error) {
	return OpenFile(ctx, c.e.Store, c.Set.ID, c.File, c.ids)
}

// runComponent runs one component into the staged set and describes it.
func (e *Engine) runComponent(ctx context.Context, codec Codec, id string, t SetComponent, p progress.Func) Component {
	name := t.Name()
	c := Component{Name: name, Start: e.now().UTC()}
	p.Emit(progress.Event{Kind: progress.Start, Op: "backup", Step: name})
	run := &ComponentRun{Record: &c, Progress: p.Serialized(), e: e, codec: codec, id: id}
	end := logging.Span(ctx, "backup.component", logging.KeySet, id, logging.KeyComponent, name)
	err := t.Backup(ctx, run)
	c.End = e.now().UTC()
	defer func() {
		var size int64
		var files []string
		for _, f := range c.Files {
			size += f.Size
			files = append(files, f.Name)
		}
		end(err, logging.KeyStatus, c.Status, logging.KeyBytes, size, logging.KeyFile, files, logging.KeyWarnings, len(c.Warnings))
	}()
	for _, w := range c.Warnings {
		p.Emit(progress.Event{Kind: progress.Warn, Op: "backup", Step: name, Message: w})
	}
	if err == nil && len(c.Files) == 0 {
		err = errors.New("it stored no file")
	}
	if err != nil {
		// Files a component stored before it failed are not listed: the
		// set is read by its manifest only, and pruning the set removes
		// them with it.
		c.Status = StatusFailed
		c.Error = redact.String(err.Error(), e.Config.Secrets()...)
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
		Message: fmt.Sprintf("%s stored in %s", progress.Bytes(size), c.End.Sub(c.Start).Round(1e6))})
	return c
}

// checkContent reads one file's content to its end and checks it with
// its component's type. A component this opsdeck does not know (a newer
// one wrote the set) is read to its end: its checksum is still checked.
func (e *Engine) checkContent(ctx context.Context, m *Manifest, rec *Component, f File, src io.Reader, ids []age.Identity) error {
	t, ok := LookupSetComponent(rec.Name)
	if !ok {
		_, err := io.Copy(io.Discard, src)
		return err
	}
	err := t.Check(ctx, &ContentCheck{Set: m, Record: rec, File: f, Content: src, e: e, ids: ids})
	if err != nil {
		return err
	}
	// Whatever the check left unread is read too: the checksum covers
	// every byte.
	_, err = io.Copy(io.Discard, src)
	return err
}

// unknownComponent is the error for a component name no type has.
func unknownComponent(name string) error {
	return fmt.Errorf("unknown component %q: choose %s", name, strings.Join(setComponentNames(), ", "))
}
