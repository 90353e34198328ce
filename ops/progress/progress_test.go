package progress

import (
	"testing"
	"time"
)

func TestBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := Bytes(tt.n); got != tt.want {
			t.Errorf("Bytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestEventString(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Kind: Start, Step: "database"}, "start database"},
		{Event{Kind: Advance, Step: "database", Done: 2048, Total: 4096, Bytes: true}, "advance database 2.0 KiB/4.0 KiB"},
		{Event{Kind: Advance, Step: "config", Done: 3, Total: 10}, "advance config 3/10"},
		{Event{Kind: Fail, Step: "redis", Err: "connection refused"}, "fail redis: connection refused"},
		{Event{Kind: Warn, Step: "config", Message: "secrets skipped"}, "warn config: secrets skipped"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%+v = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestChanDropsOnlyAdvance(t *testing.T) {
	ch := make(chan Event, 1)
	f := Chan(ch)
	f.Emit(Event{Kind: Advance, Done: 1})
	f.Emit(Event{Kind: Advance, Done: 2}) // dropped: full
	if e := <-ch; e.Done != 1 || e.At.IsZero() {
		t.Fatalf("got %+v", e)
	}
	done := make(chan struct{})
	go func() { f.Emit(Event{Kind: Finish}); close(done) }()
	if e := <-ch; e.Kind != Finish {
		t.Fatalf("got %+v", e)
	}
	<-done
	var nilF Func
	nilF.Emit(Event{Kind: Start}) // no panic
}

func TestChanUntilStopsWaitingWhenDone(t *testing.T) {
	ch := make(chan Event, 1)
	done := make(chan struct{})
	f := ChanUntil(ch, done)
	f.Emit(Event{Kind: Info, Message: "kept"})
	returned := make(chan struct{})
	go func() { f.Emit(Event{Kind: Finish}); close(returned) }() // waits: full
	select {
	case <-returned:
		t.Fatal("did not wait for room while the consumer is there")
	case <-time.After(50 * time.Millisecond):
	}
	close(done)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after done")
	}
	f.Emit(Event{Kind: Fail}) // full and done: dropped at once
	if e := <-ch; e.Message != "kept" {
		t.Fatalf("got %+v", e)
	}
}

func TestMeter(t *testing.T) {
	t0 := time.Unix(0, 0)
	m := NewMeter(t0, 1000)
	m.Update(t0.Add(time.Second), 100)
	m.Update(t0.Add(2*time.Second), 200)
	done, total, rate, eta := m.Stats(t0.Add(2 * time.Second))
	if done != 200 || total != 1000 || rate < 99 || rate > 101 {
		t.Fatalf("stats = %d %d %f", done, total, rate)
	}
	if eta < 7900*time.Millisecond || eta > 8100*time.Millisecond {
		t.Fatalf("eta = %v", eta)
	}
	m2 := NewMeter(t0, 0)
	if _, _, _, eta := m2.Stats(t0.Add(time.Second)); eta != -1 {
		t.Fatalf("unknown total eta = %v", eta)
	}
}
