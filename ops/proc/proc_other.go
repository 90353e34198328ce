//go:build !linux

package proc

import (
	"os/exec"
	"syscall"
)

// tie does nothing: there is no parent-death signal outside Linux.
func tie(*exec.Cmd, syscall.Signal) {}

// Wrap returns path itself: without a parent-death signal there is nothing
// for a wrapper to set.
func Wrap(_, path string) (string, error) { return path, nil }
