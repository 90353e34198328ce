package logging

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// FileName is the log file's name inside the state directory.
const FileName = "opsdeck.log"

// MaxSize is the size above which the log is rotated when opened: the current
// file becomes FileName+".1" (replacing an older one) and a new file starts.
const MaxSize = 10 << 20

// Path returns the log file's path inside stateDir.
func Path(stateDir string) string { return filepath.Join(stateDir, FileName) }

// Setup opens <stateDir>/opsdeck.log (0600, directories 0700) for appending,
// rotating it first if it is larger than [MaxSize], and returns a logger that
// writes JSON lines to it at level Info, or Debug when debug is set (debug
// records also carry their source position, and the engines' trace is
// written: see [Span] and [Call]). Every record goes through [Redacting]
// with secrets (the configuration's Secrets): no secret reaches the file
// whatever a caller logs. Close the returned io.Closer on exit. Setup never
// writes to stdout or stderr.
func Setup(stateDir string, debug bool, secrets ...string) (*slog.Logger, io.Closer, error) {
	if stateDir == "" {
		return nil, nil, errors.New("logging: state directory is empty — set state_dir in the config or $XDG_STATE_HOME")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("logging: create state directory: %w — check its permissions or set state_dir", err)
	}
	path := Path(stateDir)
	if err := rotate(path); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("logging: open log file: %w — check the permissions of %s", err, stateDir)
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	h := slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level, AddSource: debug})
	return slog.New(Redacting(h, secrets...)), f, nil
}

// rotate moves path to path.1 when it is larger than MaxSize.
func rotate(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logging: inspect log file: %w", err)
	}
	if st.Size() <= MaxSize {
		return nil
	}
	if err := os.Rename(path, path+".1"); err != nil {
		return fmt.Errorf("logging: rotate log file: %w — remove %s by hand if the problem persists", err, path)
	}
	return nil
}

// Discard returns a logger that drops everything, for tests and for callers
// that were given no logger.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// OrDiscard returns l, or a discarding logger when l is nil, so library code
// can accept an optional *slog.Logger.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return Discard()
	}
	return l
}
