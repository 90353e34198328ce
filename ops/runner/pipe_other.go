//go:build !linux

package runner

import (
	"io"
	"os"
)

// polledPipe exists on Linux only; elsewhere stdout goes through the
// netpoller (os/exec's own pipe).
type polledPipe struct{ w *os.File }

func newPolledPipe() *polledPipe { return nil }

func (*polledPipe) copyTo(io.Writer) error { return nil }

func (*polledPipe) Stop() {}
