package job_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	"github.com/opsdeck/opsdeck/tui/job"
)

type result struct {
	who string
	n   int
}

// drive runs cmd's chain the way the tab would: apply each event, return
// its Next, until the result.
func drive(t *testing.T, cmd tea.Cmd) ([]progress.Event, job.DoneMsg[result]) {
	t.Helper()
	var got []progress.Event
	deadline := time.After(10 * time.Second)
	for {
		msgc := make(chan tea.Msg, 1)
		go func() { msgc <- cmd() }()
		select {
		case <-deadline:
			t.Fatal("the job's messages stopped coming")
		case msg := <-msgc:
			switch m := msg.(type) {
			case job.EventMsg[result]:
				got = append(got, m.Event)
				cmd = m.Next()
			case job.DoneMsg[result]:
				return got, m
			default:
				t.Fatalf("unexpected message %T", msg)
			}
		}
	}
}

// Every event arrives, in order, before the result — also when the job
// ends long before the UI reads its events.
func TestEventsArriveInOrderBeforeTheResult(t *testing.T) {
	c := tuitest.Common()
	const n = 200
	h, cmd := job.Start(c, job.Options{Task: "count", Buffer: n + 1}, func(ctx context.Context, p progress.Func) result {
		for i := range n {
			p(progress.Event{Kind: progress.Info, Step: fmt.Sprint(i)})
		}
		id, _ := access.FromContext(ctx)
		return result{who: id.User, n: n}
	})
	time.Sleep(50 * time.Millisecond) // the job is done; its events wait
	events, done := drive(t, cmd)
	if done.ID != h.ID || done.Result.n != n {
		t.Fatalf("done = %+v, handle %d", done, h.ID)
	}
	if len(events) != n {
		t.Fatalf("%d events, want %d", len(events), n)
	}
	for i, ev := range events {
		if ev.Step != fmt.Sprint(i) {
			t.Fatalf("event %d is %q: out of order", i, ev.Step)
		}
	}
	if done.Result.who != "test-admin" {
		t.Errorf("the job ran as %q, not as the session", done.Result.who)
	}
	if running := c.Tasks.Running(); len(running) != 0 {
		t.Errorf("still registered: %+v", running)
	}
}

// A job that streams while the UI reads gets every event through a small
// buffer, and is registered as a task until it ends.
func TestStreamingJobIsATask(t *testing.T) {
	c := tuitest.Common()
	release := make(chan struct{})
	_, cmd := job.Start(c, job.Options{Task: "backup full", Buffer: 1}, func(ctx context.Context, p progress.Func) result {
		<-release
		for i := range 50 {
			p(progress.Event{Kind: progress.Info, Step: fmt.Sprint(i)})
		}
		return result{n: 50}
	})
	if r := c.Tasks.Running(); len(r) != 1 || r[0].Name != "backup full" || r[0].Who != "test-admin" {
		t.Fatalf("tasks = %+v", r)
	}
	close(release)
	events, done := drive(t, cmd)
	if len(events) != 50 || done.Result.n != 50 {
		t.Fatalf("%d events, result %+v", len(events), done.Result)
	}
	if r := c.Tasks.Running(); len(r) != 0 {
		t.Errorf("registered after its result arrived: %+v", r)
	}
}

// Cancel and the session's end both stop the job; its result still comes.
func TestCancelAndSessionEnd(t *testing.T) {
	c := tuitest.Common()
	ctx, end := context.WithCancel(c.Context)
	c.Context = ctx
	wait := func(ctx context.Context, _ progress.Func) result {
		<-ctx.Done()
		return result{n: -1}
	}
	h, cmd := job.Start(c, job.Options{}, wait)
	h.Cancel()
	if _, done := drive(t, cmd); done.Result.n != -1 {
		t.Fatalf("cancelled job: %+v", done)
	}
	_, cmd = job.Start(c, job.Options{Timeout: time.Hour}, wait)
	end()
	if _, done := drive(t, cmd); done.Result.n != -1 {
		t.Fatalf("session end: %+v", done)
	}
}

// Once the session has ended nobody reads the job's events: the job does
// not wait for room for them, so it ends, and leaves the task list.
func TestSessionEndDoesNotStrandTheJob(t *testing.T) {
	c := tuitest.Common()
	ctx, end := context.WithCancel(c.Context)
	c.Context = ctx
	returned := make(chan struct{})
	release := make(chan struct{})
	// The Cmd is never run: the session's program is gone.
	_, _ = job.Start(c, job.Options{Task: "restore database", Buffer: 1}, func(ctx context.Context, p progress.Func) result {
		defer close(returned)
		<-release
		for i := range 10 { // the undo's notes, past the buffer
			p(progress.Event{Kind: progress.Info, Step: fmt.Sprint(i)})
		}
		return result{}
	})
	end()
	close(release)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the job waits for room for events nobody reads")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(c.Tasks.Running()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still registered: %+v", c.Tasks.Running())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
