package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/progress"
)

// Postmortem returns the Markdown skeleton of a closed incident's
// postmortem: summary, impact window, the timeline, the actions taken (the
// audit records and notes), the bundles, and the sections a team fills in.
func Postmortem(inc Incident, timeline []Entry) string {
	var b strings.Builder
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
	fmt.Fprintf(&b, "# Postmortem: %s — %s %s\n\n", inc.Name(), inc.Level, inc.Title)
	fmt.Fprintf(&b, "- Environment: %s\n- Opened: %s by %s\n", inc.Env, ts(inc.OpenedAt), inc.OpenedBy)
	if !inc.IsOpen() {
		fmt.Fprintf(&b, "- Closed: %s by %s, after %s\n", ts(inc.ClosedAt), inc.ClosedBy, Short(inc.Elapsed(inc.ClosedAt)))
	}
	b.WriteString("\n## Summary\n\n")
	if inc.Summary != "" {
		b.WriteString(inc.Summary + "\n\n")
	} else {
		b.WriteString("_What happened, in two or three sentences._\n\n")
	}
	b.WriteString("## Impact\n\n")
	first, last := impactWindow(inc, timeline)
	fmt.Fprintf(&b, "- Window: %s to %s (%s), from the first alert or failed check to the last resolved one\n", ts(first), ts(last), Short(last.Sub(first)))
	b.WriteString("- Users affected: _who could not do what, for how long_\n\n")

	b.WriteString("## Timeline\n\n| time (UTC) | kind | who | what |\n| --- | --- | --- | --- |\n")
	for _, e := range timeline {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", e.At.UTC().Format("15:04:05"), e.Label(), cell(e.Who), cell(e.Text))
	}

	b.WriteString("\n## Actions taken\n\n")
	n := 0
	for _, e := range timeline {
		if e.Kind == KindAudit || e.Kind == KindNote {
			fmt.Fprintf(&b, "- %s %s: %s\n", e.At.UTC().Format("15:04"), e.Who, e.Text)
			n++
		}
	}
	if n == 0 {
		b.WriteString("_None recorded._\n")
	}
	b.WriteString("\n## Diagnostic bundles\n\n")
	if len(inc.Bundles) == 0 {
		b.WriteString("_None written._\n")
	}
	for _, bu := range inc.Bundles {
		fmt.Fprintf(&b, "- [%s](%s) — %s, %s by %s\n", bu.Path, bu.Path, progress.Bytes(bu.Size), ts(bu.At), bu.Who)
	}
	b.WriteString("\n## Root cause\n\n_Why it happened; ask why until the answer is something to change._\n\n")
	b.WriteString("## What went well, what did not\n\n_…_\n\n")
	b.WriteString("## Follow-ups\n\n| action | owner | due |\n| --- | --- | --- |\n|  |  |  |\n")
	return b.String()
}

// impactWindow is from the first alert firing or check failing to the last
// one resolved (the incident's own span when none was recorded).
func impactWindow(inc Incident, timeline []Entry) (time.Time, time.Time) {
	first, last := inc.OpenedAt, inc.End(inc.OpenedAt)
	for _, e := range timeline {
		bad := (e.Kind == KindAlert && e.Status == "firing") || (e.Kind == KindCheck && e.Status != "ok")
		good := (e.Kind == KindAlert && e.Status == "resolved") || (e.Kind == KindCheck && e.Status == "ok")
		if bad && e.At.Before(first) {
			first = e.At
		}
		if (bad || good) && e.At.After(last) {
			last = e.At
		}
	}
	return first, last
}

// Label is an entry's kind with its status: "alert firing".
func (e Entry) Label() string {
	if e.Status != "" && e.Kind != KindAudit {
		return e.Kind + " " + e.Status
	}
	return e.Kind
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
