// Package audittab is the cockpit's Audit tab: the recent actions of every
// session (who, from where, what, on what, with which result), newest first,
// filterable, with the details of one record.
package audittab

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

// Limit is how many of the newest records the tab reads.
const Limit = 2000

// Sources is where the tab reads from.
type Sources struct {
	// Path is the audit log file.
	Path string
	// Every is how often the tab re-reads it (default 5s).
	Every time.Duration
}

// Tab is the Audit tab.
type Tab struct {
	c   *common.Common
	src Sources

	records []audit.Record
	err     error
	read    time.Time
	loading bool

	table      table.Model
	filter     textinput.Model
	filtering  bool
	detail     viewport.Model
	showDetail bool

	width, height int
}

type (
	loadedMsg struct {
		records []audit.Record
		err     error
		at      time.Time
	}
	tickMsg struct{}
)

var columns = []table.Column{
	{Title: "WHEN", Width: 14},
	{Title: "WHO", Width: 10},
	{Title: "ACTION", Width: 15},
	{Title: "TARGET", Width: 16},
	{Title: "RESULT", Width: 7},
	{Title: "FROM", Width: 15},
	{Title: "TOOK", Width: 6, Right: true},
	{Title: "ERROR", Width: 10, Flex: true},
}

// New returns the Audit tab.
func New(c *common.Common, src Sources) *Tab {
	if src.Every <= 0 {
		src.Every = 5 * time.Second
	}
	fi := styles.NewInput()
	fi.Prompt = "/"
	fi.Placeholder = "words match who, action, target, result, error"
	t := &Tab{c: c, src: src, table: table.New(&c.Styles, columns...), filter: fi, detail: viewport.New()}
	t.table.SetEmpty("no actions recorded yet: backups, restores, maintenance and silences appear here")
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Audit" }

// Init implements common.Tab.
func (t *Tab) Init() tea.Cmd { return t.load() }

// LastRefresh implements common.Refreshed.
func (t *Tab) LastRefresh() time.Time { return t.read }

// Capturing implements common.Tab.
func (t *Tab) Capturing() bool { return t.filtering }

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	t.width, t.height = w, h
	t.table.SetSize(w, max(h-1, 1))
	t.detail.SetWidth(w)
	t.detail.SetHeight(max(h-1, 1))
	t.filter.SetWidth(max(w-20, 10))
}

func (t *Tab) load() tea.Cmd {
	if t.loading {
		return nil
	}
	t.loading = true
	path := t.src.Path
	return func() tea.Msg {
		// Reading a local file; bounded anyway so a hung filesystem cannot
		// leave the tab loading forever.
		ctx, cancel := context.WithTimeout(t.c.Context, 5*time.Second)
		defer cancel()
		done := make(chan loadedMsg, 1)
		go func() {
			recs, err := audit.Read(path, audit.Filter{Limit: Limit})
			done <- loadedMsg{records: recs, err: err, at: time.Now()}
		}()
		select {
		case m := <-done:
			return m
		case <-ctx.Done():
			return loadedMsg{err: fmt.Errorf("reading %s took too long — is its filesystem hung?", path), at: time.Now()}
		}
	}
}

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	switch msg := msg.(type) {
	case loadedMsg:
		t.loading = false
		t.records, t.err, t.read = msg.records, msg.err, msg.at
		t.apply()
		return t, t.c.Tick(t.src.Every, func(time.Time) tea.Msg { return tickMsg{} })
	case tickMsg:
		return t, t.load()
	case tea.KeyPressMsg:
		return t, t.handleKey(msg)
	}
	if t.filtering {
		var cmd tea.Cmd
		t.filter, cmd = t.filter.Update(msg)
		return t, cmd
	}
	return t, nil
}

func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	if t.filtering {
		done, changed, cmd := t.c.FilterKey(&t.filter, msg)
		t.filtering = !done
		if changed {
			t.apply()
		}
		return cmd
	}
	if t.showDetail {
		if key.Matches(msg, k.Back, k.Enter) {
			t.showDetail = false
			return nil
		}
		var cmd tea.Cmd
		t.detail, cmd = t.detail.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(msg, k.Filter):
		t.filtering = true
		return t.filter.Focus()
	case key.Matches(msg, k.ClearFilter):
		t.filter.SetValue("")
		t.apply()
	case t.table.Navigate(msg, k):
	case key.Matches(msg, k.Enter):
		t.openDetail()
	case key.Matches(msg, k.Refresh):
		return t.load()
	}
	return nil
}

// apply filters the records into the table, newest first.
func (t *Tab) apply() {
	words := strings.Fields(strings.ToLower(t.filter.Value()))
	rows := make([]table.Row, 0, len(t.records))
	for _, r := range t.records {
		from := "local"
		if r.SSH != nil {
			from = r.SSH.RemoteAddr
		}
		hay := strings.ToLower(strings.Join([]string{r.Who, from, r.Action, r.Target, r.Result, r.Error}, " "))
		if !matchAll(hay, words) {
			continue
		}
		lvl := styles.LevelOK
		switch r.Result {
		case audit.ResultError:
			lvl = styles.LevelCrit
		case audit.ResultRefused:
			lvl = styles.LevelWarn
		}
		rows = append(rows, table.Row{
			Key:   r.ID,
			Level: lvl,
			Cells: []string{r.Start.Local().Format("01-02 15:04:05"), r.Who, r.Action, r.Target, r.Result, from,
				took(r.DurationMS), firstLine(r.Error)},
		})
	}
	t.table.SetRows(rows)
}

func matchAll(hay string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

func took(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (t *Tab) openDetail() {
	row, ok := t.table.Selected()
	if !ok {
		return
	}
	for _, r := range t.records {
		if r.ID == row.Key {
			t.detail.SetContent(t.describe(r))
			t.detail.GotoTop()
			t.showDetail = true
			return
		}
	}
}

func (t *Tab) describe(r audit.Record) string {
	s := t.c.Styles
	var b strings.Builder
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %s %s\n", s.Muted.Render(fmt.Sprintf("%-12s", k+":")), v)
		}
	}
	kv("Action", r.Action)
	kv("Target", r.Target)
	kv("Who", r.Who)
	if r.SSH != nil {
		kv("SSH user", r.SSH.User)
		kv("Key", strings.TrimSpace(r.SSH.KeyFingerprint+" "+r.SSH.KeyComment))
		kv("From", r.SSH.RemoteAddr)
	}
	kv("Started", r.Start.Local().Format(time.RFC3339))
	kv("Ended", r.End.Local().Format(time.RFC3339))
	kv("Took", took(r.DurationMS))
	res := r.Result
	switch r.Result {
	case audit.ResultError:
		res = s.Crit.Render(res)
	case audit.ResultRefused:
		res = s.Warn.Render(res)
	}
	kv("Result", res)
	kv("Error", r.Error)
	if len(r.Params) > 0 {
		p, _ := json.MarshalIndent(r.Params, "  ", "  ")
		b.WriteString("\n" + s.Title.Render("Parameters") + s.Muted.Render(" (secrets redacted)") + "\n  " + string(p) + "\n")
	}
	return b.String()
}

// View implements common.Tab.
func (t *Tab) View() string {
	s := t.c.Styles
	if t.showDetail {
		return s.PanelTitle.Render("Audit record") + s.Muted.Render("  esc back") + "\n" + t.detail.View()
	}
	head := s.Subtitle.Render(fmt.Sprintf("  %d actions", len(t.records)))
	if n := t.table.Len(); n != len(t.records) {
		head = s.Subtitle.Render(fmt.Sprintf("  %d of %d actions", n, len(t.records)))
	}
	if t.filtering {
		head += "  " + t.filter.View()
	} else if v := t.filter.Value(); v != "" {
		head += "  " + s.FilterPrompt.Render("/"+v)
	}
	if t.err != nil {
		head = s.Error.Render("  audit log: " + t.err.Error())
	}
	return ansi.Truncate(head, t.width, "…") + "\n" + t.table.View()
}

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding {
	k := t.c.Keys
	if t.showDetail {
		return []key.Binding{k.Back}
	}
	return []key.Binding{k.Filter, k.Enter, k.Refresh}
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k := t.c.Keys
	return [][]key.Binding{{k.Filter, k.ClearFilter, k.Enter, k.Refresh}}
}
