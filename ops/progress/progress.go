// Package progress is the one event type long operations (backups, verify,
// prune, restores, maintenance) report with. An operation calls its Func;
// the CLI prints the events, the cockpit forwards them over a channel
// ([Chan]) and turns them into tea.Msgs.
package progress

import (
	"fmt"
	"sync"
	"time"
)

// Kind says what an Event reports.
type Kind string

// Kinds of events.
const (
	// Start: a step begins. Total, when known, is the bytes or items expected.
	Start Kind = "start"
	// Advance: Done more bytes or items of the step are finished.
	Advance Kind = "advance"
	// Warn: something the operator should know; the step goes on.
	Warn Kind = "warn"
	// Info: a plain note.
	Info Kind = "info"
	// Finish: the step ended well.
	Finish Kind = "finish"
	// Fail: the step failed; Err says why.
	Fail Kind = "fail"
)

// Event is one report of a long operation.
type Event struct {
	At   time.Time `json:"at"`
	Kind Kind      `json:"kind"`
	// Op is the whole operation ("backup", "verify", "prune").
	Op string `json:"op"`
	// Step is the part of it ("database", "redis", a file name).
	Step string `json:"step,omitempty"`
	// Done and Total count bytes when Bytes is set, else items; Total 0 is
	// unknown.
	Done  int64 `json:"done,omitempty"`
	Total int64 `json:"total,omitempty"`
	Bytes bool  `json:"bytes,omitempty"`
	// Message is a line for the operator.
	Message string `json:"message,omitempty"`
	// Err is the failure's text (Fail events).
	Err string `json:"err,omitempty"`
}

// String renders an event as one line for logs and the CLI.
func (e Event) String() string {
	s := string(e.Kind)
	if e.Step != "" {
		s += " " + e.Step
	}
	if e.Kind == Advance || (e.Kind == Finish && e.Done > 0) {
		if e.Bytes {
			s += " " + Bytes(e.Done)
			if e.Total > 0 {
				s += "/" + Bytes(e.Total)
			}
		} else {
			s += fmt.Sprintf(" %d", e.Done)
			if e.Total > 0 {
				s += fmt.Sprintf("/%d", e.Total)
			}
		}
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != "" {
		s += ": " + e.Err
	}
	return s
}

// Func receives events. It must not block for long; a nil Func is valid
// and drops every event.
type Func func(Event)

// Emit sends e to f, stamping its time. It is safe on a nil Func.
func (f Func) Emit(e Event) {
	if f == nil {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	f(e)
}

// Serialized passes f's events on one at a time, for an operation whose
// events come from several goroutines (a program's stdout copied by one,
// its stderr read by another): a consumer need not lock.
func (f Func) Serialized() Func {
	if f == nil {
		return nil
	}
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		f(e)
	}
}

// Chan returns a Func that sends events to ch. Advance events are dropped
// when ch is full (the next one carries the newer count); every other event
// is delivered, waiting for room if it must, so a consumer must drain ch
// until the operation returns.
func Chan(ch chan<- Event) Func { return ChanUntil(ch, nil) }

// ChanUntil is Chan for a consumer that may go away: once done is closed,
// an event that would wait for room is dropped instead, so the operation
// never blocks on a channel nobody reads any more. A nil done never
// closes.
func ChanUntil(ch chan<- Event, done <-chan struct{}) Func {
	return func(e Event) {
		if e.Kind == Advance {
			select {
			case ch <- e:
			default:
			}
			return
		}
		select {
		case ch <- e:
		case <-done:
		}
	}
}

// Bytes formats n bytes with a binary unit: "512 B", "1.5 KiB", "3.2 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
