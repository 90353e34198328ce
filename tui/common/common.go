// Package common holds what the root model shares with every tab: styles,
// the key map, the configuration, the terminal size and the clock, plus the
// contract a tab fulfils.
package common

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/config"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/ops/tasks"
	"github.com/opsdeck/opsdeck/tui/keys"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// Common is embedded by pointer in the root model and every tab.
type Common struct {
	Styles styles.Styles
	Keys   keys.KeyMap
	Config *config.Config
	// ReadOnly hides every action that changes anything (--read-only, the
	// config, a viewer's SSH session, or a session without an identity).
	ReadOnly bool
	// Env is the environment this session acts on.
	Env access.Env
	// Identity is who this session acts as: the local user, or an SSH key
	// with its role. Tabs offer an action only when Can says so; ops checks
	// again before acting.
	Identity access.Identity
	// Tasks are the operations running in this process, shared by every
	// session of a server.
	Tasks *tasks.Registry
	// Context carries Identity and ends when the session ends. Every Cmd
	// that calls ops derives its context from it (so ops knows who asked),
	// and waits that may outlive a message (a subscription, a long action)
	// select on it.
	Context context.Context
	// Now is the clock; golden tests fix it.
	Now func() time.Time
	// Incidents holds the environment's open incident, shared by every
	// session of a server; nil when incident mode is off. The root model
	// draws its banner.
	Incidents *opincident.Watcher
}

// New returns the Common of the session of ctx, with the styles of the
// configuration's theme (auto starts dark: see ThemeOf) and the default key
// map. The session acts as the identity ctx carries; without one it is
// read-only, and ops would refuse its actions anyway.
func New(ctx context.Context, cfg *config.Config) *Common {
	if cfg == nil {
		cfg = config.Default()
	}
	env := cfg.Env()
	id, known := access.FromContext(ctx)
	role, hasRole := id.RoleIn(env.Name)
	return &Common{
		Styles:   styles.For(ThemeOf(cfg.Theme)),
		Keys:     keys.Default(),
		Config:   cfg,
		ReadOnly: env.ReadOnly || !known || !hasRole || role == access.Viewer,
		Env:      env,
		Identity: id,
		Tasks:    tasks.New(),
		Context:  ctx,
		Now:      time.Now,
	}
}

// ThemeOf is the theme a session starts with for the configuration's
// theme: light for "light", dark otherwise. "auto" starts dark, the
// palette of a terminal that never says what its background is; the root
// model asks the terminal and switches when it answers light (SetTheme).
func ThemeOf(name string) styles.Theme {
	if name == config.ThemeLight {
		return styles.Light
	}
	return styles.Dark
}

// AutoTheme reports whether the session follows the terminal's
// background (the configuration's theme is auto).
func (c *Common) AutoTheme() bool {
	return c.Config != nil && c.Config.Theme == config.ThemeAuto
}

// SetTheme replaces the styles with those of theme t, in place: every tab
// and component that holds &c.Styles sees them at its next render. It
// reports whether the theme changed.
func (c *Common) SetTheme(t styles.Theme) bool {
	if c.Styles.Theme == t {
		return false
	}
	c.Styles = styles.For(t)
	return true
}

// Can reports whether this session may run a: the tab shows the action only
// then. It is a courtesy; ops checks again with access.Check.
func (c *Common) Can(a access.Action) bool {
	return !c.ReadOnly && c.Identity.Can(c.Env.Name, a)
}

// Refusal says why this session may not run a ("needs the admin role"),
// or "" when it may: what a tab shows in place of an action it does not
// offer.
func (c *Common) Refusal(a access.Action) string {
	switch {
	case c.Can(a):
		return ""
	case c.Env.ReadOnly:
		return "read-only"
	case !c.Identity.Known():
		return "no identity"
	}
	return "needs " + access.Needs(a).String()
}

// Tab is one screen of the cockpit. Tabs are plain structs; the root model
// routes messages to them and lays them out.
type Tab interface {
	// Title is the label in the tab bar.
	Title() string
	// Init starts the tab's data sources.
	Init() tea.Cmd
	// Update handles a message and returns the commands it wants run.
	Update(msg tea.Msg) (Tab, tea.Cmd)
	// View renders the tab into the size last given to SetSize.
	View() string
	// SetSize gives the tab the space below the tab bar and above the status bar.
	SetSize(width, height int)
	// ShortHelp lists the tab's most useful bindings for the help line.
	ShortHelp() []key.Binding
	// FullHelp lists all of the tab's bindings, grouped, for the help screen.
	FullHelp() [][]key.Binding
	// Capturing reports whether the tab is taking text input, in which case
	// the root passes every key to it (so "q" types a q instead of quitting).
	Capturing() bool
}

// ShortTitler is a tab whose title has a shorter form for the tab bar of
// a narrow terminal.
type ShortTitler interface {
	ShortTitle() string
}

// IncidentOpener is the tab that opens incidents: the root model sends i
// from any tab to it.
type IncidentOpener interface {
	StartOpen() tea.Cmd
}

// Refreshed is implemented by tabs that know when their data was last loaded;
// the status bar shows it.
type Refreshed interface {
	LastRefresh() time.Time
}

// Tick is tea.Tick bound to the session: when the session ends before the
// timer fires, the command returns at once with no message, so a closed SSH
// session leaves no timer goroutine behind.
func (c *Common) Tick(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
	done := c.Context.Done()
	return func() tea.Msg {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case now := <-t.C:
			return fn(now)
		case <-done:
			return nil
		}
	}
}
