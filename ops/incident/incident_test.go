package incident_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
)

const secret = "s3cr3t-pa55"

// newStore returns a store in a temporary state dir whose configuration
// holds secret as the PostgreSQL password, with a fixed clock.
func newStore(t *testing.T) (*opincident.Store, *config.Config, *time.Time) {
	t.Helper()
	cfg := config.Default()
	cfg.StateDir = t.TempDir()
	cfg.Postgres.DSN = "postgres://app:" + secret + "@127.0.0.1:5432/app"
	log, err := audit.Open(audit.PathIn(cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	log.AddSecrets(cfg.Secrets()...)
	t.Cleanup(func() { _ = log.Close() })
	s := opincident.NewStore(cfg, log)
	now := time.Now().Truncate(time.Second)
	s.Now = func() time.Time { return now }
	return s, cfg, &now
}

func TestOpenNoteClose(t *testing.T) {
	s, cfg, now := newStore(t)
	alice := accesstest.As(context.Background(), "alice", access.Operator)
	inc, err := s.Open(alice, "p1", "API 5xx after deploy, password "+secret)
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID != 1 || inc.Level != "P1" || inc.OpenedBy != "alice" || strings.Contains(inc.Title, secret) {
		t.Fatalf("opened %+v", inc)
	}
	if _, err := s.Open(alice, "P2", "another"); err == nil || !strings.Contains(err.Error(), "incident 1") {
		t.Fatalf("second open: %v, want a refusal naming incident 1", err)
	}
	*now = now.Add(20 * time.Minute)
	if !inc.Overdue(cfg.Incident, *now) == false {
		t.Fatal("a P1 is not overdue after 20m")
	}
	if _, err := s.Note(alice, 0, "rolled back api to v1.4.2"); err != nil {
		t.Fatal(err)
	}
	cur, open, err := s.Current(alice)
	if err != nil || !open || len(cur.Entries) != 2 || cur.Entries[1].Who != "alice" {
		t.Fatalf("current %+v %v %v", cur, open, err)
	}
	*now = now.Add(50 * time.Minute)
	if !cur.Overdue(cfg.Incident, *now) {
		t.Fatal("a P1 open 70m is overdue")
	}
	closed, err := s.Close(alice, 0, "bad deploy rolled back", nil)
	if err != nil {
		t.Fatal(err)
	}
	if closed.IsOpen() || closed.ClosedBy != "alice" || closed.Postmortem == "" {
		t.Fatalf("closed %+v", closed)
	}
	pm, err := os.ReadFile(closed.Postmortem)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Postmortem: incident 1", "## Timeline", "rolled back api to v1.4.2", "bad deploy rolled back", "## Follow-ups"} {
		if !strings.Contains(string(pm), want) {
			t.Errorf("postmortem lacks %q:\n%s", want, pm)
		}
	}
	if _, err := s.Note(alice, 1, "late"); err == nil {
		t.Error("a note on a closed incident was taken")
	}
	if _, open, _ := s.Current(alice); open {
		t.Error("still open after close")
	}
	// A new one gets the next number.
	if inc, err := s.Open(alice, "P3", "slow reports"); err != nil || inc.ID != 2 {
		t.Fatalf("reopen: %+v %v", inc, err)
	}
	recs, err := audit.Read(audit.PathIn(cfg.StateDir), audit.Filter{Action: "incident."})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action+":"+r.Result)
	}
	slices.Sort(actions)
	want := "incident.close:ok incident.note:error incident.note:ok incident.open:error incident.open:ok incident.open:ok"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit = %s\nwant    %s", got, want)
	}
	data, _ := os.ReadFile(audit.PathIn(cfg.StateDir))
	if strings.Contains(string(data), secret) {
		t.Error("the audit log holds the secret")
	}
	files, _ := filepath.Glob(filepath.Join(opincident.Dir(cfg.StateDir), "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret", f)
		}
		if fi, _ := os.Stat(f); !fi.IsDir() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", f, fi.Mode().Perm())
		}
	}
}

func TestRoles(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	viewer := accesstest.As(ctx, "vic", access.Viewer)
	alice := accesstest.As(ctx, "alice", access.Operator)
	bob := accesstest.As(ctx, "bob", access.Operator)
	admin := accesstest.As(ctx, "ada", access.Admin)

	if _, err := s.Open(ctx, "P1", "x"); !errors.Is(err, access.ErrNoIdentity) {
		t.Errorf("open without identity: %v", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, access.ErrNoIdentity) {
		t.Errorf("list without identity: %v", err)
	}
	if _, err := s.Open(viewer, "P1", "x"); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("viewer open: %v", err)
	}
	if _, err := s.Open(alice, "P1", "x"); err != nil {
		t.Fatal(err)
	}
	if l, err := s.List(viewer); err != nil || len(l) != 1 {
		t.Errorf("viewer list: %v %v", l, err)
	}
	if _, err := s.Note(viewer, 0, "hi"); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("viewer note: %v", err)
	}
	if _, err := s.Note(bob, 0, "looking at redis"); err != nil {
		t.Errorf("operator note: %v", err)
	}
	if _, err := s.Close(bob, 0, "", nil); !errors.Is(err, access.ErrForbidden) || !strings.Contains(err.Error(), "admin") {
		t.Errorf("operator closing another's: %v", err)
	}
	if _, err := s.Close(admin, 0, "", nil); err != nil {
		t.Errorf("admin closing another's: %v", err)
	}
	ro := config.Default()
	ro.StateDir = s.Dir()
	ro.ReadOnly = true
	if _, err := opincident.NewStore(ro, nil).Open(admin, "P1", "x"); err == nil {
		t.Error("read-only store opened an incident")
	}
}

// Two processes' worth of writers never lose a note.
func TestConcurrentNotes(t *testing.T) {
	s, cfg, _ := newStore(t)
	alice := accesstest.As(context.Background(), "alice", access.Operator)
	if _, err := s.Open(alice, "P2", "x"); err != nil {
		t.Fatal(err)
	}
	other := opincident.NewStore(cfg, cfg.OpenAudit())
	var wg sync.WaitGroup
	for i := range 20 {
		st := s
		if i%2 == 1 {
			st = other
		}
		wg.Go(func() {
			if _, err := st.Note(alice, 0, "note"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	inc, _ := s.Get(alice, 0)
	if len(inc.Entries) != 21 {
		t.Errorf("%d entries, want 21", len(inc.Entries))
	}
}

func TestRecorder(t *testing.T) {
	s, _, now := newStore(t)
	alice := accesstest.As(context.Background(), "alice", access.Operator)
	rec := accesstest.As(context.Background(), "system:recorder", access.Operator)
	since := now.Add(-5 * time.Minute)
	firing := []alerts.Alert{{Name: "APIErrors", Severity: "critical", Summary: "5xx at 7%", Since: since, State: alerts.StateFiring, Fingerprint: "f1"}}
	checks := health.Report{Results: []health.Result{
		{Target: "postgres", Name: "connections", Status: health.OK, Value: "12%"},
		{Target: "kubernetes", Name: "pod/api-1", Status: health.Crit, Value: "CrashLoopBackOff"},
	}}
	r := &opincident.Recorder{Store: s,
		Alerts: func(context.Context) ([]alerts.Alert, error) { return firing, nil },
		Checks: func(context.Context) health.Report { return checks }}
	if err := r.Once(rec); err != nil {
		t.Fatalf("no incident open: %v", err)
	}
	if _, err := s.Open(alice, "P1", "api down"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second round records nothing new
		if err := r.Once(rec); err != nil {
			t.Fatal(err)
		}
	}
	inc, _ := s.Get(alice, 0)
	if got := kinds(inc.Entries); got != "open alert:firing check:crit" {
		t.Fatalf("entries %s", got)
	}
	*now = now.Add(time.Minute)
	firing = nil
	checks.Results[1].Status = health.OK
	if err := r.Once(rec); err != nil {
		t.Fatal(err)
	}
	inc, _ = s.Get(alice, 0)
	if got := kinds(inc.Entries); got != "open alert:firing check:crit alert:resolved check:ok" {
		t.Fatalf("entries %s", got)
	}
	if e := inc.Entries[4]; !strings.Contains(e.Text, "kubernetes/pod/api-1 crit → ok") {
		t.Errorf("check change %q", e.Text)
	}
	// A viewer's recorder is refused: it may not write.
	viewer := accesstest.As(context.Background(), "vic", access.Viewer)
	checks.Results[1].Status = health.Warn
	if err := r.Once(viewer); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("viewer recorder: %v", err)
	}
}

func kinds(es []opincident.Entry) string {
	var out []string
	for _, e := range es {
		k := e.Kind
		if e.Status != "" {
			k += ":" + e.Status
		}
		out = append(out, k)
	}
	return strings.Join(out, " ")
}

func TestTimeline(t *testing.T) {
	s, cfg, now := newStore(t)
	alice := accesstest.As(context.Background(), "alice", access.Operator)
	inc, err := s.Open(alice, "P1", "api down")
	if err != nil {
		t.Fatal(err)
	}
	// A backup during the incident, and one long before its window.
	log := access.Audit(alice, cfg.OpenAudit())
	if err := log.Begin("backup.create", "database", nil).End(nil); err != nil {
		t.Fatal(err)
	}
	// A template first seen ten minutes before the opening, one a day before.
	st, err := oplogs.LoadStore(oplogs.StorePath(cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	st.Record("default", []oplogs.Template{
		{ID: "t1", Text: "connection refused to <ip>", Level: oplogs.LevelError, Count: 40, FirstSeen: now.Add(-10 * time.Minute), LastSeen: *now},
		{ID: "t2", Text: "old warning", Level: oplogs.LevelWarn, Count: 1, FirstSeen: now.Add(-24 * time.Hour), LastSeen: now.Add(-24 * time.Hour)},
	}, *now)
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	src := opincident.Sources{
		AuditPath: audit.PathIn(cfg.StateDir), TemplatesPath: oplogs.StorePath(cfg.StateDir),
		Lookback: cfg.Incident.Lookback,
		Alerts: func(context.Context) ([]alerts.Alert, error) {
			return nil, errors.New("alertmanager: connection refused")
		},
	}
	// The process's own scan: t1 again (one entry), t3 new.
	src.Templates = func() []oplogs.Template {
		return []oplogs.Template{
			{ID: "t1", Text: "connection refused to <ip>", Level: oplogs.LevelError, Count: 41, FirstSeen: now.Add(-10 * time.Minute)},
			{ID: "t3", Text: "order <num> rejected", Level: oplogs.LevelError, Count: 3, FirstSeen: now.Add(-2 * time.Minute), Workloads: []string{"deploy/api"}},
		}
	}
	tl := opincident.Timeline(alice, inc, src, now.Add(time.Minute))
	if n := strings.Count(kinds(tl), "template:error"); n != 2 {
		t.Errorf("%d template entries, want t1 once and t3: %s", n, kinds(tl))
	}
	got := kinds(tl)
	for _, want := range []string{"template:error", "open", "audit:ok", "source"} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline %s lacks %s", got, want)
		}
	}
	if strings.Contains(got, "template:warn") {
		t.Errorf("timeline %s holds a template from before the window", got)
	}
	for _, e := range tl {
		if e.Kind == opincident.KindSource && !strings.Contains(e.Text, "alerts: alertmanager: connection refused") {
			t.Errorf("source entry %q", e.Text)
		}
	}
}
