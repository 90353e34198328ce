package common

import (
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/tui/styles"
)

// KubeInfoMsg tells the root model which cluster the cockpit is looking at,
// for the status bar. The Health tab sends it once it has connected.
type KubeInfoMsg struct {
	Context    string
	Server     string
	Namespaces []string
}

// OpenRunbookMsg asks the cockpit to show a runbook section. Section is
// what ops/runbook resolves: an anchor ("pod-crashloop"), a runbook
// ("troubleshooting"), both ("troubleshooting.md#pod-crashloop") or a
// runbook_url. The root model switches to the tab that implements
// RunbookOpener and hands it the section.
type OpenRunbookMsg struct {
	Section string
}

// RunbookOpener is implemented by the tab that shows runbooks.
type RunbookOpener interface {
	// OpenRunbook shows the section and returns the commands that needs.
	OpenRunbook(section string) tea.Cmd
}

// ThemeMsg tells every tab that Common.Styles changed to another theme
// (the terminal reported its background after the cockpit opened). Tabs
// that keep rendered text (the Metrics tab's panels, the runbooks) drop it
// and draw again; the others read the styles as they render.
type ThemeMsg struct {
	Theme styles.Theme
}
