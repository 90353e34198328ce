package maintain

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// WriteMarkdown writes the report as a Markdown maintenance report: a
// summary, then per area a table of findings, the details of those that
// need attention, and the tables behind them (dead tuples, keyspace,
// capacity projections, cleanup list), then the actions taken.
func WriteMarkdown(w io.Writer, r *Report) error {
	b := &mdWriter{}
	b.line("# opsdeck maintenance report: %s", r.Mode)
	b.line("")
	host := r.Host
	if host == "" {
		host = "unknown host"
	}
	b.line("%s on %s, took %s. **Status: %s**%s.", r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), host,
		r.Took.Round(time.Millisecond), strings.ToUpper(r.Status.String()), modeNote(r))
	b.line("")
	counts := r.Counts()
	b.line("| status | findings |")
	b.line("| --- | --- |")
	for _, s := range []string{"crit", "warn", "unknown", "n/a", "ok"} {
		if counts[s] > 0 {
			b.line("| %s | %d |", s, counts[s])
		}
	}
	for _, ar := range r.Areas {
		b.line("")
		b.line("## %s — %s", ar.Area.Title(), strings.ToUpper(ar.Status.String()))
		b.line("")
		for _, n := range ar.Notes {
			b.line("> %s", md(n))
		}
		if len(ar.Notes) > 0 {
			b.line("")
		}
		var fs []Finding
		for _, f := range r.Findings {
			if f.Area == ar.Area {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			b.line("Nothing to report.")
			continue
		}
		b.line("| status | check | object | finding |")
		b.line("| --- | --- | --- | --- |")
		for _, f := range fs {
			b.line("| %s | %s | %s | %s |", strings.ToUpper(f.StatusText()), md(f.Check), md(f.Object), md(f.Summary))
		}
		var details []Finding
		for _, f := range fs {
			if f.Status != health.OK || f.Done != "" || f.Suggestion != "" && f.Action != nil {
				details = append(details, f)
			}
		}
		for _, f := range details {
			b.line("")
			title := f.Check
			if f.Object != "" {
				title += ": " + f.Object
			}
			b.line("### %s (%s)", md(title), f.StatusText())
			b.line("")
			b.line("%s", md(f.Summary))
			if len(f.Evidence) > 0 {
				b.line("")
				b.line("Evidence:")
				b.line("")
				for _, e := range f.Evidence {
					b.line("- %s", md(e))
				}
			}
			if f.Why != "" {
				b.line("")
				b.line("Why it matters: %s.", md(strings.TrimSuffix(f.Why, ".")))
			}
			if f.Suggestion != "" {
				b.line("")
				b.line("What to do: %s", md(f.Suggestion))
			}
			if f.Done != "" {
				b.line("")
				b.line("Done: %s", md(f.Done))
			}
			if f.Runbook != "" {
				b.line("")
				b.line("Runbook: [%s](%s)", f.Runbook, "runbooks/"+f.Runbook)
			}
		}
		switch ar.Area {
		case AreaDB:
			b.dbTables(r.DB)
		case AreaRedis:
			b.keyspaceTables(r.Redis)
		case AreaCapacity:
			b.capacityTable(r.Capacity)
		}
	}
	if len(r.Actions) > 0 {
		b.line("")
		b.line("## Actions")
		b.line("")
		b.line("| action | target | result | detail |")
		b.line("| --- | --- | --- | --- |")
		for _, a := range r.Actions {
			res := "ok"
			detail := a.Detail
			switch {
			case a.Refused:
				res, detail = "refused", a.Error
			case !a.OK:
				res, detail = "failed", a.Error
			}
			b.line("| %s | %s | %s | %s |", a.Action.Kind, md(a.Action.Target()), res, md(detail))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func modeNote(r *Report) string {
	var parts []string
	if r.DryRun {
		parts = append(parts, "dry run: nothing was changed")
	}
	if r.ReadOnly {
		parts = append(parts, "read-only")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

type mdWriter struct{ strings.Builder }

func (b *mdWriter) line(format string, args ...any) {
	fmt.Fprintf(&b.Builder, format, args...)
	b.WriteByte('\n')
}

// md escapes text for a Markdown table cell or line.
func md(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "`", "'")
}

func (b *mdWriter) dbTables(d *DBDetail) {
	if d == nil || len(d.Upkeep.Tables) == 0 {
		return
	}
	tables := slices.Clone(d.Upkeep.Tables)
	slices.SortStableFunc(tables, func(x, y postgres.TableStat) int {
		if c := cmp.Compare(y.DeadPercent(), x.DeadPercent()); c != 0 {
			return c
		}
		return cmp.Compare(y.TotalBytes, x.TotalBytes)
	})
	b.line("")
	b.line("### Tables by dead tuples")
	b.line("")
	b.line("| table | live | dead | dead %% | last vacuum | last autovacuum | last analyze | last autoanalyze | size |")
	b.line("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for i, t := range tables {
		if i == 20 {
			break
		}
		b.line("| %s | %s | %s | %.1f | %s | %s | %s | %s | %s |", md(t.Qualified()), count(t.LiveTuples), count(t.DeadTuples), t.DeadPercent(),
			stamp(t.LastVacuum), stamp(t.LastAutovacuum), stamp(t.LastAnalyze), stamp(t.LastAutoanalyze), progress.Bytes(t.TotalBytes))
	}
}

func (b *mdWriter) keyspaceTables(d *RedisDetail) {
	if d == nil || d.Keyspace == nil {
		return
	}
	a := d.Keyspace
	b.line("")
	b.line("### Biggest keys by type")
	b.line("")
	b.line("| type | key | db | memory | length | TTL |")
	b.line("| --- | --- | --- | --- | --- | --- |")
	for _, t := range slices.Sorted(maps.Keys(a.ByType)) {
		for _, k := range a.ByType[t].Top {
			length := "-"
			if k.Length >= 0 {
				length = count(k.Length)
			}
			b.line("| %s | %s | %d | %s | %s | %s |", t, md(quoteKey(k.Key)), k.DB, progress.Bytes(k.Bytes), length, ttlText(k))
		}
	}
	b.line("")
	b.line("### Memory by prefix")
	b.line("")
	b.line("| prefix | keys | memory | without TTL |")
	b.line("| --- | --- | --- | --- |")
	prefixes := slices.Collect(maps.Keys(a.Prefixes))
	slices.SortFunc(prefixes, func(x, y string) int { return cmp.Compare(a.Prefixes[y].Bytes, a.Prefixes[x].Bytes) })
	for i, p := range prefixes {
		if i == 25 {
			break
		}
		pb := a.Prefixes[p]
		b.line("| %s | %s | %s | %s |", md(quoteKey(p)), count(pb.Keys), progress.Bytes(pb.Bytes), count(pb.NoTTL))
	}
	b.line("")
	b.line("### Keys by TTL")
	b.line("")
	b.line("| TTL | keys | memory |")
	b.line("| --- | --- | --- |")
	for _, t := range a.TTL.Named() {
		b.line("| %s | %s | %s |", t.Label, count(t.Keys), progress.Bytes(t.Bytes))
	}
}

func (b *mdWriter) capacityTable(d *CapacityDetail) {
	if d == nil || len(d.Projections) == 0 {
		return
	}
	b.line("")
	b.line("### Projections")
	b.line("")
	b.line("| resource | used | capacity | use | growth/day | full in | growth from |")
	b.line("| --- | --- | --- | --- | --- | --- | --- |")
	for _, p := range d.Projections {
		capacity, use, growth, left := "unknown", "-", "-", "-"
		if p.Capacity > 0 {
			capacity, use = amount(p.Capacity, p.Unit), fmt.Sprintf("%.0f%%", p.Percent)
		}
		if p.Growth.OK {
			growth = amount(int64(p.Growth.PerDay), p.Unit)
		}
		if p.HasDaysLeft {
			left = days(p.DaysLeft)
		}
		b.line("| %s | %s | %s | %s | %s | %s | %s |", p.Resource, amount(p.Used, p.Unit), capacity, use, growth, left, md(p.GrowthSource))
	}
}

func stamp(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04")
}
