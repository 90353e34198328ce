// Package runbooks is the operations manual as Markdown, compiled into the
// binary. ops/runbook reads it (and the runbooks.dir of the config, whose
// files override or add to these); the cockpit's Runbooks tab shows it.
//
// Section anchors are GitHub's heading anchors ("## Pod CrashLoop" is
// #pod-crashloop); the morning check, the generated alert rules and the
// cockpit open runbooks at those anchors, and tests keep them resolving.
// Lines of a fenced block marked ```opsdeck are commands the cockpit can run.
package runbooks

import "embed"

// FS holds the runbooks: one *.md file each at its root.
//
//go:embed *.md
var FS embed.FS

// Order is the reading order of the built-in runbooks; runbooks added from
// a directory follow them by name.
var Order = []string{
	"overview",
	"daily-operations",
	"monitoring",
	"troubleshooting",
	"incident-response",
	"backup-restore",
	"maintenance",
	"upgrades",
	"performance",
}
