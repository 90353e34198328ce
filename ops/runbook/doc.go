// Package runbook reads the operations manual: Markdown runbooks embedded in
// the binary (package runbooks) and, optionally, a directory from the config
// whose files override or add to them. It parses each runbook into its
// headings (with GitHub-style anchors), links and runnable opsdeck command
// blocks; resolves references such as "pod-crashloop" or
// "troubleshooting.md#pod-crashloop"; searches the full text; and runs the
// opsdeck commands a runbook shows, with the read-only rule and the audit log.
//
// It never prints and imports nothing of the TUI.
package runbook
