//go:build tools

// Package tools pins nfpm for scripts/nfpm.sh.
package tools

import _ "github.com/goreleaser/nfpm/v2/cmd/nfpm"
