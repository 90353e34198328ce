package config

import (
	"os"
	"path/filepath"
	"strings"
)

// AppName names opsdeck's directories under the XDG base directories.
const AppName = "opsdeck"

// LocalFileName is the config file looked for in the working directory.
const LocalFileName = "opsdeck.yaml"

// xdgDir returns $env/opsdeck when env holds an absolute path (the XDG spec
// ignores relative ones), else ~/fallback/opsdeck.
func xdgDir(env, fallback string) string {
	if d := os.Getenv(env); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, AppName)
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		// No home: keep state next to the working directory rather than fail.
		return filepath.Join("."+AppName, filepath.Base(fallback))
	}
	return filepath.Join(home, fallback, AppName)
}

// DefaultStateDir is $XDG_STATE_HOME/opsdeck, else ~/.local/state/opsdeck.
func DefaultStateDir() string { return xdgDir("XDG_STATE_HOME", filepath.Join(".local", "state")) }

// DefaultBackupDir is $XDG_DATA_HOME/opsdeck/backups, else
// ~/.local/share/opsdeck/backups.
func DefaultBackupDir() string {
	return filepath.Join(xdgDir("XDG_DATA_HOME", filepath.Join(".local", "share")), "backups")
}

// UserConfigPath is $XDG_CONFIG_HOME/opsdeck/config.yaml, else
// ~/.config/opsdeck/config.yaml.
func UserConfigPath() string {
	return filepath.Join(xdgDir("XDG_CONFIG_HOME", ".config"), "config.yaml")
}

// SearchPaths lists, in order, the files [Load] tries when given no path.
func SearchPaths() []string {
	return []string{UserConfigPath(), LocalFileName}
}

// expandHome replaces a leading "~/" (or a lone "~") with the home directory.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}
