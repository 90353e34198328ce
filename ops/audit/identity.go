package audit

import (
	"os"
	"os/user"
)

// CurrentUser returns the person running opsdeck: $SUDO_USER (the human
// behind sudo), else $USER, else the account name, else "unknown".
func CurrentUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
