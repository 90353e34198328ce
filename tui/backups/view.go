package backups

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// View implements common.Tab.
func (t *Tab) View() string {
	if t.width == 0 {
		return ""
	}
	s := t.c.Styles
	switch t.mode {
	case modeDetail:
		return s.PanelTitle.Render("Backup set "+t.detailID()) + s.Muted.Render("  esc back · ↑/↓ scroll") + "\n" + t.detail.View()
	case modeChoose:
		return t.chooserView()
	case modeConfirm:
		return t.planView()
	}
	var b strings.Builder
	b.WriteString(t.titleLine())
	b.WriteString("\n")
	switch {
	case t.engErr != nil:
		b.WriteString(s.Error.Render(ansi.Wrap("Backup store unavailable: "+t.engErr.Error(), t.width, "")))
		b.WriteString("\n" + s.Muted.Render("Fix the backup section of the config, then press r."))
	case t.listErr != nil:
		b.WriteString(s.Error.Render(ansi.Wrap("Cannot read the catalog: "+t.listErr.Error(), t.width, "")))
		b.WriteString("\n" + s.Muted.Render("Press r to try again."))
	case t.loading && len(t.sets) == 0:
		b.WriteString(s.Muted.Render("reading the catalog…"))
	default:
		b.WriteString(t.tbl.View())
	}
	out := b.String()
	panel := t.walLines()
	lines := strings.Count(out, "\n") + 1
	if pad := t.height - 1 - len(panel) - lines; pad > 0 {
		out += strings.Repeat("\n", pad)
	}
	for _, l := range panel {
		out += "\n" + l
	}
	return out + "\n" + t.statusLine()
}

// walLines is the WAL panel for the tab's size: in full when the table
// keeps four rows beside it, else its answer and the streamer, else
// nothing; nothing without a store.
func (t *Tab) walLines() []string {
	if t.width == 0 || t.eng == nil {
		return nil
	}
	p := walPanel{s: t.c.Styles, d: t.wal, cfg: t.eng.Config, width: t.width, now: t.c.Now()}
	if full := p.lines(false); t.height-3-len(full) >= 5 {
		return full
	}
	if compact := p.lines(true); t.height-3-len(compact) >= 3 {
		return compact
	}
	return nil
}

func (t *Tab) titleLine() string {
	s := t.c.Styles
	store := ""
	if t.eng != nil {
		store = t.eng.Store.String()
	}
	title := s.Title.Render(fmt.Sprintf("Backup sets %d", len(t.sets)))
	if n := t.tbl.Len(); n != len(t.sets) {
		title += s.Muted.Render(fmt.Sprintf(" (%d shown)", n))
	}
	info := "  " + s.Muted.Render("sort "+t.sort.String()+" · "+store)
	if t.filtering || t.filter.Value() != "" {
		info = "  " + t.filter.View()
	}
	if t.c.ReadOnly {
		info += "  " + s.StatusReadOnly.Render("read-only: actions hidden")
	}
	return ansi.Truncate(title+info, t.width, "…")
}

// statusLine is the running action's progress, else the last result.
func (t *Tab) statusLine() string {
	s := t.c.Styles
	switch {
	case t.running == "prune plan":
		return s.Muted.Render("computing the prune plan…")
	case t.running != "":
		return t.progress.View(t.width)
	case t.result != "":
		st := s.OK
		if !t.resultOK {
			st = s.Error
		}
		return ansi.Truncate(st.Render(t.result), t.width, "…")
	}
	return ""
}

func (t *Tab) chooserView() string {
	s := t.c.Styles
	var b strings.Builder
	b.WriteString(ansi.Truncate(s.Title.Render("Take a backup")+s.Muted.Render("  space toggles · enter starts · esc cancels"), t.width, "…") + "\n\n")
	var cfg *config.Config
	if t.eng != nil {
		cfg = t.eng.Config
	}
	for i, c := range t.comps {
		box := "[ ]"
		if t.choices[i] {
			box = "[x]"
		}
		line := fmt.Sprintf("%s %d %-9s %s", box, i+1, c.Name(), s.Muted.Render(c.About(cfg)))
		if i == t.cursor {
			line = s.TableSelected.Render(ansi.Strip(line))
		}
		b.WriteString("  " + line + "\n")
	}
	if t.eng != nil && !t.eng.Config.Backup.Encryption.Enabled() {
		b.WriteString("\n" + s.Warn.Render(ansi.Wrap("Backups are not encrypted: Kubernetes Secrets will be skipped (set backup.encryption.recipients).", t.width, "")))
	}
	return b.String()
}

func (t *Tab) planView() string {
	s := t.c.Styles
	var b strings.Builder
	b.WriteString(s.Title.Render("Prune: the plan (nothing is deleted until you confirm)") + "\n")
	max := t.height - 12
	shown := 0
	for _, d := range t.plan.Decisions {
		if shown >= max && max > 0 {
			b.WriteString(s.Muted.Render(fmt.Sprintf("  … %d more", len(t.plan.Decisions)-shown)) + "\n")
			break
		}
		act, st := "keep  ", s.Muted
		if d.Delete {
			act, st = "DELETE", s.Crit
		}
		line := fmt.Sprintf("  %s  %s  %-8s %9s  %s", st.Render(act), d.ID, d.Kind, progress.Bytes(d.Size), s.Muted.Render(d.Reason))
		b.WriteString(ansi.Truncate(line, t.width, "…") + "\n")
		shown++
	}
	for _, id := range t.plan.Leftovers {
		b.WriteString("  " + s.Crit.Render("DELETE") + "  " + id + s.Muted.Render("  leftover of an interrupted run") + "\n")
	}
	for _, w := range t.plan.Warnings {
		b.WriteString(s.Warn.Render("  "+w) + "\n")
	}
	b.WriteString("\n" + t.confirm.View())
	return b.String()
}

func (t *Tab) detailID() string {
	row, _ := t.tbl.Selected()
	return row.Key
}

// openDetail shows the selected set's manifest.
func (t *Tab) openDetail() {
	row, ok := t.tbl.Selected()
	if !ok {
		return
	}
	for _, set := range t.sets {
		if set.ID == row.Key {
			t.detail.SetContent(t.detailText(set))
			t.detail.GotoTop()
			t.mode = modeDetail
			return
		}
	}
}

func (t *Tab) detailText(set backup.Set) string {
	s := t.c.Styles
	var b strings.Builder
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s %s\n", s.Muted.Render(fmt.Sprintf("%-12s", k)), v)
		}
	}
	if set.Manifest == nil {
		kv("manifest", s.Error.Render(set.Err))
		return b.String()
	}
	m := set.Manifest
	kv("status", m.Status)
	kv("kind", m.Kind)
	kv("started", m.Start.Format(time.RFC3339))
	kv("took", m.End.Sub(m.Start).Round(time.Millisecond).String())
	kv("size", progress.Bytes(m.Size()))
	kv("by", m.User+"@"+m.Host+" · opsdeck "+m.OpsdeckVersion)
	kv("tags", strings.Join(m.Tags, ", "))
	vs := set.VerifyState()
	if set.Verify != nil {
		vs += " at " + set.Verify.At.Format(time.RFC3339)
	}
	kv("verify", vs)
	if d, ok := t.proven[set.ID]; ok {
		kv("drill", provenMark(d)+" · by "+d.Proof+" · report "+d.Report)
	}
	if set.Verify != nil {
		for _, p := range set.Verify.Problems {
			b.WriteString("  " + s.Error.Render(p) + "\n")
		}
	}
	for _, c := range m.Components {
		b.WriteString("\n" + s.PanelTitle.Render(c.Name) + "  " + c.Status + "  " + s.Muted.Render(c.End.Sub(c.Start).Round(time.Millisecond).String()) + "\n")
		if c.Error != "" {
			b.WriteString("  " + s.Error.Render(c.Error) + "\n")
		}
		for _, f := range c.Files {
			enc := ""
			if f.Encryption != "" {
				enc = " + " + f.Encryption
			}
			fmt.Fprintf(&b, "  %s  %s (raw %s, %s%s)\n  %s\n", f.Name, progress.Bytes(f.Size), progress.Bytes(f.RawSize), f.Compression, enc, s.Muted.Render("sha256 "+f.SHA256))
		}
		switch {
		case c.Postgres != nil:
			fmt.Fprintf(&b, "  PostgreSQL %s · database %s · pg_dump %s\n", c.Postgres.ServerVersion, c.Postgres.Database, c.Postgres.PgDumpVersion)
			for _, tc := range c.Postgres.Tables {
				fmt.Fprintf(&b, "    %-32s %12d rows\n", tc.Schema+"."+tc.Name, tc.Rows)
			}
		case c.Redis != nil:
			fmt.Fprintf(&b, "  Redis %s · RDB v%d\n", c.Redis.Version, c.Redis.RDBVersion)
			dbs := make([]int, 0, len(c.Redis.Keys))
			for db := range c.Redis.Keys {
				dbs = append(dbs, db)
			}
			sort.Ints(dbs)
			for _, db := range dbs {
				fmt.Fprintf(&b, "    db%-3d %8d keys, %d with a TTL\n", db, c.Redis.Keys[db], c.Redis.Expires[db])
			}
		case c.Kube != nil:
			fmt.Fprintf(&b, "  context %s · %s · namespaces %s\n", c.Kube.Context, c.Kube.Server, strings.Join(c.Kube.Namespaces, ", "))
			kinds := make([]string, 0, len(c.Kube.Objects))
			for k := range c.Kube.Objects {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			for _, k := range kinds {
				fmt.Fprintf(&b, "    %-24s %d\n", k, c.Kube.Objects[k])
			}
		case c.Logs != nil:
			fmt.Fprintf(&b, "  %d containers' logs over %s, %d failed\n", c.Logs.Containers, c.Logs.Window, c.Logs.Failed)
		}
		if c.Name == backup.Base {
			if start, ok := backup.BaseStartOf(m); ok {
				for _, l := range baseLines(s, start, t.wal.ovs) {
					b.WriteString("  " + l + "\n")
				}
			}
		}
		for _, w := range c.Warnings {
			b.WriteString("  " + s.Warn.Render("warning: "+w) + "\n")
		}
	}
	return b.String()
}
