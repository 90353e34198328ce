package sandbox

import (
	"context"
	"fmt"
	"os"
	"time"
)

// RunTests is the body of a test package's TestMain: unless
// OPSDECK_SKIP_INTEGRATION=1, it starts the sandbox the package's tests
// share (within 3 minutes) into *sb, runs the tests and stops it. A failed
// start fails the package with what to do. m is the *testing.M.
func RunTests(m interface{ Run() int }, opts Options, sb **Sandbox) int {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the sandbox: %v\nrun `make deps`, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
		return 1
	}
	defer s.Stop()
	*sb = s
	return m.Run()
}
