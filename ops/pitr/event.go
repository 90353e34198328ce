package pitr

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// EventKind is what a destructive transaction did.
type EventKind string

// The kinds of destructive transactions wal find reports.
const (
	// Drop: a relation's files unlinked by its commit, the relation gone.
	Drop EventKind = "drop"
	// Truncate: a relation's files replaced by empty ones.
	Truncate EventKind = "truncate"
	// Rewrite: a relation's files replaced by new ones holding its rows
	// (VACUUM FULL, CLUSTER, an ALTER TABLE that rewrites).
	Rewrite EventKind = "rewrite"
	// Delete and Update: many rows of one relation, or a large share.
	Delete EventKind = "delete"
	Update EventKind = "update"
	// DDL: the relation's definition changed (columns, constraints,
	// indexes): catalog rows written and the relation invalidated.
	DDL EventKind = "ddl"
)

// Event is one destructive transaction found in the archived WAL.
type Event struct {
	// XID is the top-level transaction; Commit its commit record's LSN,
	// Time its commit time.
	XID    uint32    `json:"xid"`
	Commit pgwal.LSN `json:"commit_lsn"`
	Time   time.Time `json:"time"`
	// Timeline the commit is on.
	Timeline uint32 `json:"timeline"`
	// Kinds are what it did, the most destructive first.
	Kinds []EventKind `json:"kinds"`
	// Relations it touched, the most affected first.
	Relations []RelationChange `json:"relations"`
	// Context is what else happened in that minute: opsdeck's audit
	// records, Kubernetes rollouts and Warning events.
	Context []ContextLine `json:"context,omitempty"`
}

// RelationChange is what a transaction did to one relation.
type RelationChange struct {
	// Name is schema.name when the relfilenode map knows the file, else
	// "file <db>/<relfilenode>".
	Name string `json:"name"`
	// Known is false when no map names the file.
	Known bool      `json:"known"`
	Kind  EventKind `json:"kind"`
	// Deleted, Updated and Inserted count the transaction's row changes.
	Deleted  int64 `json:"deleted,omitempty"`
	Updated  int64 `json:"updated,omitempty"`
	Inserted int64 `json:"inserted,omitempty"`
	// Rows is the relation's size when the map was taken (pg_class's
	// estimate): the rows a TRUNCATE or DROP took, roughly; 0 unknown.
	Rows int64 `json:"rows,omitempty"`
}

// ContextLine is something that happened near an event.
type ContextLine struct {
	Time time.Time `json:"time"`
	// Source is "audit", "rollout" or "event".
	Source string `json:"source"`
	Text   string `json:"text"`
}

// Kind is the event's most destructive kind.
func (e Event) Kind() EventKind {
	if len(e.Kinds) == 0 {
		return ""
	}
	return e.Kinds[0]
}

// Before is the recovery target just before the event: its transaction,
// not included.
func (e Event) Before() Target {
	return Target{XID: uint64(e.XID), Exclusive: true,
		How: fmt.Sprintf("picked from wal find: just before %s", e.Summary())}
}

// Summary is the event in a line: "TRUNCATE public.daily_prices (~52,000
// rows) by transaction 1234 at 09:13:02".
func (e Event) Summary() string {
	return fmt.Sprintf("%s by transaction %d at %s", e.RelationsText(3), e.XID, e.Time.Format("2006-01-02 15:04:05"))
}

// RelationsText names the first n relation changes and how many more.
func (e Event) RelationsText(n int) string {
	var parts []string
	for i, r := range e.Relations {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Relations)-n))
			break
		}
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

// String is the change in a few words: "DELETE 30,000 rows of
// public.daily_prices (of ~100,000)".
func (r RelationChange) String() string {
	switch r.Kind {
	case Delete:
		return fmt.Sprintf("DELETE %s rows of %s%s", count(r.Deleted), r.Name, of(r.Rows))
	case Update:
		return fmt.Sprintf("UPDATE %s rows of %s%s", count(r.Updated), r.Name, of(r.Rows))
	case Truncate, Drop:
		s := strings.ToUpper(string(r.Kind)) + " " + r.Name
		if r.Rows > 0 {
			s += fmt.Sprintf(" (~%s rows)", count(r.Rows))
		}
		return s
	case Rewrite:
		return "rewrite of " + r.Name
	case DDL:
		return "DDL on " + r.Name
	}
	return r.Name
}

func of(rows int64) string {
	if rows <= 0 {
		return ""
	}
	return " (of ~" + count(rows) + ")"
}

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FindOptions choose what wal find reports.
type FindOptions struct {
	// Since and Until bound the commits' times; zero: the whole archive.
	Since, Until time.Time
	// Tables keep only the events touching these relations ("name" is
	// public.name); none: every relation.
	Tables []string
	// MinRows is the rows of one relation a transaction must delete or
	// update to be reported (default 1,000), MinShare the share of the
	// relation that is reported whatever the count (default 10 %).
	MinRows  int64
	MinShare float64
}

// Found is what wal find read and what it found.
type Found struct {
	Events []Event `json:"events"`
	// From and To are the WAL read; FromTime and ToTime the commit times
	// seen at its ends.
	From     pgwal.LSN `json:"from"`
	To       pgwal.LSN `json:"to"`
	FromTime time.Time `json:"from_time,omitzero"`
	ToTime   time.Time `json:"to_time,omitzero"`
	// Segments and Bytes are the WAL decoded; Records the records.
	Segments int   `json:"segments"`
	Bytes    int64 `json:"bytes"`
	Records  int64 `json:"records"`
	// Notes say what could not be told: files no map names, context
	// sources that did not answer.
	Notes []string `json:"notes,omitempty"`
}
