// Package logging sets up opsdeck's structured log: slog JSON lines in a file
// under the state directory, never on the terminal (the cockpit owns the
// screen and the CLI's stdout belongs to its output).
package logging
