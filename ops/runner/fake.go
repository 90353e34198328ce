package runner

import (
	"context"
	"io"
	"strings"
	"sync"
)

// Fake is a Runner for unit tests: it records every command and answers
// with the Response registered for the program, so tests can assert the
// exact argv and environment and simulate output, stderr and failures.
type Fake struct {
	mu sync.Mutex
	// Calls are the commands run so far, in order.
	Calls []Cmd
	// Responses maps a program (Cmd.Path, or its base name) to its answer.
	Responses map[string]Response
}

// Response is what a faked program does.
type Response struct {
	Stdout string
	Stderr []string
	// Err, when set, is returned (wrapped in an *Error with Stderr) after
	// Stdout has been written.
	Err error
}

// Run implements Runner.
func (f *Fake) Run(ctx context.Context, c Cmd) error {
	f.mu.Lock()
	f.Calls = append(f.Calls, c)
	resp, ok := f.Responses[c.Path]
	if !ok {
		resp = f.Responses[base(c.Path)]
	}
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return &Error{Command: c.Path, ExitCode: -1, Err: err}
	}
	if c.Stdout != nil && resp.Stdout != "" {
		if _, err := io.WriteString(c.Stdout, resp.Stdout); err != nil {
			return &Error{Command: c.Path, ExitCode: -1, Err: err}
		}
	}
	for _, l := range resp.Stderr {
		if c.OnStderr != nil {
			c.OnStderr(l)
		}
	}
	if resp.Err != nil {
		return &Error{Command: c.Path, ExitCode: 1, Stderr: redactLines(append([]string(nil), resp.Stderr...), c.Secrets), Err: resp.Err}
	}
	return nil
}

func base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
