// Package bundle writes an incident's diagnostic bundle: one tar.zst file
// (0600) with what an incident's responders and its postmortem need —
// the unhealthy pods described with their logs and previous logs, the
// namespaces' Warning events, the nodes' conditions, PostgreSQL's
// sessions, blocking tree, locks, longest transactions, top statements,
// replication and archive, Redis's INFO, SLOWLOG, LATENCY LATEST and
// CLIENT LIST, the metrics window as CSV, the check's output and the
// effective configuration — every text through the configuration's
// secrets redactor, and a MANIFEST naming each part, its size, how long
// it took and its error.
//
// The sources are read concurrently, each within its own timeout and the
// whole within an overall deadline: a source that fails or does not
// answer is a line in its parts, never a hang. One goroutine writes the
// archive as the parts arrive. No CLI or UI here: `opsdeck incident
// bundle` and the cockpit call Collect.
package bundle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// Sources are what a bundle reads. Config is required; the rest is made
// from it when nil.
type Sources struct {
	// Config names the servers, the namespaces, the thresholds the pods
	// are judged by, the secrets to redact and the state dir.
	Config *config.Config
	// Kube is the cluster's client (nil: built from Config.Kubernetes).
	Kube *kube.Client
	// Metrics is the cockpit's running engine, whose window becomes
	// metrics.csv. Nil (the CLI): an engine is built from Config and
	// sampled now — twice, metrics.interval apart, when that fits in the
	// source's timeout, so that rates have a value — and the CSV holds
	// those samples only.
	Metrics *opmetrics.Engine
	// Audit is the audit log (nil: Config's, opened and closed here).
	Audit *audit.Log
}

// Options tune one bundle; zero values take Config.Bundle's.
type Options struct {
	// Path is the file to write (default: bundle.dir, else
	// <state_dir>/bundles, then bundle-<UTC time>.tar.zst).
	Path string
	// Timeout bounds the whole bundle (bundle.timeout).
	Timeout time.Duration
	// SourceTimeout bounds each source (bundle.source_timeout).
	SourceTimeout time.Duration
	// LogLines is how many last lines of each log are kept (bundle.log_lines).
	LogLines int
	// Progress, when set, is told each part as it is written, from the
	// writer's goroutine (the cockpit turns it into a message).
	Progress func(Part)
}

// Part is one member of the bundle as the MANIFEST lists it.
type Part struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Took is how long reading it took.
	Took time.Duration `json:"took_ns"`
	// Err is why the part holds an error line instead of its content.
	Err string `json:"error,omitempty"`
}

// Result is a written bundle.
type Result struct {
	Path    string        `json:"path"`
	Size    int64         `json:"size"`
	Started time.Time     `json:"started"`
	Took    time.Duration `json:"took_ns"`
	Parts   []Part        `json:"parts"`
}

// Failed returns the parts that hold an error instead of their content.
func (r Result) Failed() []Part {
	var out []Part
	for _, p := range r.Parts {
		if p.Err != "" {
			out = append(out, p)
		}
	}
	return out
}

// The bound of the log of one container, whatever log_lines says.
const maxLogBytes = 4 << 20

// maxPods bounds the unhealthy pods described and whose logs are read.
const maxPods = 50

// grace is how long past its timeout a source is waited for, to turn its
// context's end into its own error, before it is abandoned.
const grace = time.Second

// Collect writes a bundle and returns what it holds. Reading changes
// nothing, so read-only mode allows it; the context's identity must still
// hold the role of access.IncidentBundle (operator). The error is only
// for a bundle that could not be written at all (refused, no room): a
// source that failed is a Part with Err, and the bundle is still written.
// It is audited (incident.bundle) with its path, size and failed parts.
func Collect(ctx context.Context, src Sources, opts Options) (Result, error) {
	cfg := src.Config
	if cfg == nil {
		return Result{}, errors.New("bundle: no configuration")
	}
	log := src.Audit
	if log == nil {
		log = cfg.OpenAudit()
		defer log.Close()
	}
	log = access.Audit(ctx, log)
	opts = withDefaults(opts, cfg)
	// A bundle reads and writes only its own file: read-only mode does
	// not stop it, the role does.
	env := cfg.Env()
	env.ReadOnly = false
	if err := access.Check(ctx, env, access.IncidentBundle); err != nil {
		_ = log.Refuse(string(access.IncidentBundle), opts.Path, err)
		return Result{}, err
	}
	entry := log.Begin(string(access.IncidentBundle), opts.Path, nil)
	res, err := collect(ctx, plan(src, opts), src.Config.Secrets(), opts)
	entry.SetParam("size", res.Size)
	entry.SetParam("parts", len(res.Parts))
	var failed []string
	for _, p := range res.Failed() {
		failed = append(failed, p.Name)
	}
	if len(failed) > 0 {
		entry.SetParam("failed", strings.Join(failed, ","))
	}
	if aerr := entry.End(err); aerr != nil && err == nil {
		err = fmt.Errorf("bundle %s written, but not audited: %w", res.Path, aerr)
	}
	return res, err
}

func withDefaults(o Options, cfg *config.Config) Options {
	b := cfg.Bundle
	if o.Timeout <= 0 {
		o.Timeout = b.Timeout
	}
	if o.Timeout <= 0 {
		o.Timeout = config.DefaultBundle().Timeout
	}
	if o.SourceTimeout <= 0 {
		o.SourceTimeout = b.SourceTimeout
	}
	if o.SourceTimeout <= 0 {
		o.SourceTimeout = config.DefaultBundle().SourceTimeout
	}
	o.SourceTimeout = min(o.SourceTimeout, o.Timeout)
	if o.LogLines <= 0 {
		o.LogLines = b.LogLines
	}
	if o.LogLines <= 0 {
		o.LogLines = config.DefaultBundle().LogLines
	}
	if o.Path == "" {
		dir := b.Dir
		if dir == "" {
			dir = filepath.Join(cfg.StateDir, "bundles")
		}
		o.Path = filepath.Join(dir, "bundle-"+time.Now().UTC().Format("20060102T150405Z")+".tar.zst")
	}
	return o
}

// source is one thing a bundle reads, into one or more parts.
type source struct {
	name string
	// parts are the parts it always writes: when it fails or is
	// abandoned, those it has not written hold the error line.
	parts []string
	// errPart holds its error when it fails and has no parts of its own
	// left to hold it (default <name>/ERROR.txt).
	errPart string
	// timeout bounds it, from the bundle's start.
	timeout time.Duration
	run     func(ctx context.Context, out *emitter) error
}

// collect runs the sources and writes the archive, every part redacted
// of secrets.
func collect(ctx context.Context, sources []source, secrets []string, opts Options) (Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	w, err := createArchive(opts.Path)
	if err != nil {
		return Result{Path: opts.Path}, err
	}
	members := make(chan member, 4)
	finish := make(chan struct{})  // closed once every source is done or abandoned
	stopped := make(chan struct{}) // closed once the writer takes no more
	written := make(chan writeResult, 1)
	go func() {
		defer close(stopped)
		written <- w.run(members, finish, opts.Progress)
	}()

	emitters := make([]*emitter, len(sources))
	done := make([]chan error, len(sources))
	for i, s := range sources {
		emitters[i] = &emitter{source: s.name, secrets: secrets, members: members, stop: stopped, start: time.Now(), emitted: map[string]bool{}}
		done[i] = make(chan error, 1)
		sctx, scancel := context.WithTimeout(ctx, s.timeout)
		go func() {
			defer scancel()
			done[i] <- runSafely(sctx, s, emitters[i])
		}()
	}
	for i, s := range sources {
		limit := start.Add(s.timeout)
		if deadline.Before(limit) {
			limit = deadline
		}
		bound := limit.Sub(start)
		limit = limit.Add(grace)
		timer := time.NewTimer(time.Until(limit))
		var serr error
		select {
		case serr = <-done[i]:
		case <-timer.C:
			serr = fmt.Errorf("no answer within %s — it was abandoned", bound.Round(time.Millisecond))
		}
		timer.Stop()
		if serr != nil && ctx.Err() != nil && errors.Is(serr, context.DeadlineExceeded) {
			serr = fmt.Errorf("cut by the bundle's deadline (%s): %w", opts.Timeout, serr)
		}
		missing := emitters[i].close(s.parts)
		for _, name := range missing {
			e := serr
			if e == nil {
				e = errors.New("not written")
			}
			emitters[i].send(name, []byte(s.name+": "+redact.String(e.Error(), secrets...)+"\n"), time.Since(emitters[i].start), e, true)
		}
		if serr != nil && len(missing) == 0 && len(s.parts) == 0 {
			name := s.errPart
			if name == "" {
				name = s.name + "/ERROR.txt"
			}
			emitters[i].send(name, []byte(s.name+": "+redact.String(serr.Error(), secrets...)+"\n"), time.Since(emitters[i].start), serr, true)
		}
	}
	close(finish)
	wr := <-written
	res := Result{Path: opts.Path, Size: wr.size, Started: start, Took: time.Since(start), Parts: wr.parts}
	if wr.err != nil {
		return res, wr.err
	}
	return res, nil
}

// runSafely runs a source, turning a panic into its error.
func runSafely(ctx context.Context, s source, out *emitter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v", s.name, r)
		}
	}()
	return s.run(ctx, out)
}

// emitter is a source's way to the writer: each part is redacted and
// sent, until the source is abandoned.
type emitter struct {
	source  string
	secrets []string
	members chan<- member
	stop    <-chan struct{}
	start   time.Time

	mu      sync.Mutex
	closed  bool
	emitted map[string]bool
}

// Put sends the part name: its text redacted, how long it took, and
// err when body is the line saying why it is not the content.
func (e *emitter) Put(name string, body []byte, took time.Duration, err error) {
	if err != nil {
		body = append(body, []byte(e.source+": "+err.Error()+"\n")...)
	}
	e.send(name, []byte(redact.String(string(body), e.secrets...)), took, err, false)
}

// Since is the time since the source started, the took of a part read
// from the start.
func (e *emitter) Since() time.Duration { return time.Since(e.start) }

// send hands a part to the writer. It holds the lock while it waits, so
// that close returns only once no part of the source is on its way: the
// writer takes every part until the bundle is finished, and a part sent
// after close (an abandoned source's) is dropped, its error line written
// instead. final parts are collect's own, sent after close.
func (e *emitter) send(name string, body []byte, took time.Duration, err error, final bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed && !final {
		return
	}
	e.emitted[name] = true
	m := member{name: name, body: body, took: took}
	if err != nil {
		m.err = redact.String(err.Error(), e.secrets...)
	}
	select {
	case e.members <- m:
	case <-e.stop:
	}
}

// close stops the source's parts and returns those of parts it did not
// write.
func (e *emitter) close(parts []string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	var missing []string
	for _, p := range parts {
		if !e.emitted[p] {
			missing = append(missing, p)
		}
	}
	return missing
}

// plan lists the sources of a bundle with their timeouts.
func plan(src Sources, opts Options) []source {
	cfg := src.Config
	t := opts.SourceTimeout
	k := &kubeSource{cfg: cfg, client: src.Kube, opts: opts, pods: make(chan []podInfo, 1)}
	return []source{
		{name: "kubernetes", parts: []string{partUnhealthy, partEvents, partNodes}, timeout: t, run: k.run},
		// The logs' bound starts when the pods are known.
		{name: "logs", errPart: "kubernetes/logs-ERROR.txt", timeout: min(2*t, opts.Timeout), run: k.runLogs},
		{name: "postgres", parts: postgresParts, timeout: t, run: func(ctx context.Context, out *emitter) error { return readPostgres(ctx, cfg, out) }},
		{name: "redis", parts: redisParts, timeout: t, run: func(ctx context.Context, out *emitter) error { return readRedis(ctx, cfg, out) }},
		{name: "metrics", parts: []string{partMetrics}, timeout: t, run: func(ctx context.Context, out *emitter) error { return readMetrics(ctx, cfg, src.Metrics, t, out) }},
		{name: "check", parts: []string{partCheckText, partCheckJSON}, timeout: t, run: func(ctx context.Context, out *emitter) error { return runCheck(ctx, cfg, out) }},
		{name: "config", parts: []string{partConfig}, timeout: t, run: func(ctx context.Context, out *emitter) error { return writeConfig(cfg, out) }},
	}
}

// sortedParts orders parts by name, MANIFEST first.
func sortedParts(parts []Part) {
	slices.SortStableFunc(parts, func(a, b Part) int { return strings.Compare(a.Name, b.Name) })
}

// ensureDir makes the bundle's directory, 0700.
func ensureDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bundle: create %s: %w — choose another place with --out or bundle.dir", dir, err)
	}
	return nil
}
