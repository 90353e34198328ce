// Package pitr recovers the database to a moment of the WAL archive: a
// base backup and the WAL after it, up to a target (a time, an LSN, a
// transaction, a restore point) or to the archive's head, replayed by a
// private PostgreSQL instance on the bastion (ops/pgtemp) while
// production goes on serving. ops/restore copies from that instance.
package pitr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// Target is where recovery stops. The zero Target is the archive's head:
// every byte the archive holds.
type Target struct {
	// At most one of Time, LSN, XID and Name is set.
	Time time.Time `json:"time,omitzero"`
	LSN  pgwal.LSN `json:"lsn,omitempty"`
	XID  uint64    `json:"xid,omitempty"`
	Name string    `json:"name,omitempty"`
	// Exclusive stops just before the target instead of just after it
	// (recovery_target_inclusive = off): "just before the TRUNCATE".
	Exclusive bool `json:"exclusive,omitempty"`
	// How says how the target was chosen (typed, picked from wal find),
	// for the report and the audit record.
	How string `json:"how,omitempty"`
}

// Head reports whether the target is the archive's head.
func (t Target) Head() bool {
	return t.Time.IsZero() && t.LSN == 0 && t.XID == 0 && t.Name == ""
}

// Kind names the target's kind: time, lsn, xid, name or head.
func (t Target) Kind() string {
	switch {
	case !t.Time.IsZero():
		return "time"
	case t.LSN != 0:
		return "lsn"
	case t.XID != 0:
		return "xid"
	case t.Name != "":
		return "name"
	}
	return "head"
}

// String is the target for people: the time with its UTC offset.
func (t Target) String() string {
	var s string
	switch t.Kind() {
	case "time":
		s = t.Time.Format("2006-01-02 15:04:05.999999 -07:00 (MST)")
	case "lsn":
		s = "LSN " + t.LSN.String()
	case "xid":
		s = "transaction " + strconv.FormatUint(t.XID, 10)
	case "name":
		s = "restore point " + strconv.Quote(t.Name)
	default:
		return "the archive's head (the last byte stored)"
	}
	if t.Exclusive {
		return "just before " + s
	}
	return s + " (inclusive)"
}

// Validate refuses a target with more than one kind set.
func (t Target) Validate() error {
	n := 0
	for _, set := range []bool{!t.Time.IsZero(), t.LSN != 0, t.XID != 0, t.Name != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return errors.New("give one recovery target: a time, an LSN, a transaction id or a restore point name")
	}
	if t.Exclusive && t.Head() {
		return errors.New("--inclusive=false needs a target (--to, --to-lsn or --to-xid)")
	}
	return nil
}

// timeLayouts are the forms ParseTime accepts, with a zone or without.
var timeLayouts = []struct {
	layout string
	zoned  bool
}{
	{time.RFC3339Nano, true},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05.999999999 Z07:00", true},
	{"2006-01-02 15:04:05.999999999 -0700", true},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02 15:04:05.999999999", false},
	{"2006-01-02 15:04", false},
}

// ParseTime reads a recovery target time. A time without a zone is in
// loc (the bastion's zone); one that a daylight-saving change makes
// happen twice, or not at all, is refused. Zones are numeric offsets or
// Z: an abbreviation (CET) is ambiguous and Go would read an unknown one
// as UTC.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if !l.zoned {
			wall, err := time.Parse(l.layout, s)
			if err != nil {
				continue
			}
			return inZone(wall, s, loc)
		}
		if t, err := time.Parse(l.layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: write it as 2026-12-07 09:13:00 (the bastion's zone, %s) or with an offset, 2026-12-07 09:13:00+01:00", s, zoneName(loc))
}

// zoneName names loc for people: time.Local's name is "Local", so it is
// given with its abbreviation and offset now ("Local: CET, UTC+01:00").
func zoneName(loc *time.Location) string {
	abbr, _ := time.Now().In(loc).Zone()
	off := time.Now().In(loc).Format("-07:00")
	if abbr == "UTC" {
		return abbr
	}
	if loc.String() == "Local" || loc.String() == abbr {
		return abbr + ", UTC" + off
	}
	return loc.String() + ", now " + abbr + " UTC" + off
}

// inZone reads a wall-clock time (wall's fields) in loc, refusing one
// that a daylight-saving change makes ambiguous (it happens twice) or
// skips: the wall time is read with each offset the zone has half a day
// either side, and the readings that land on that wall time are counted.
func inZone(wall time.Time, s string, loc *time.Location) (time.Time, error) {
	var found []time.Time
	for _, probe := range []time.Time{wall.Add(-12 * time.Hour), wall.Add(12 * time.Hour)} {
		_, off := time.Date(probe.Year(), probe.Month(), probe.Day(), probe.Hour(), 0, 0, 0, loc).Zone()
		u := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), time.FixedZone("", off))
		l := u.In(loc)
		if _, lo := l.Zone(); lo != off {
			continue
		}
		if len(found) == 0 || !found[0].Equal(u) {
			found = append(found, u.In(loc))
		}
	}
	switch len(found) {
	case 0:
		return time.Time{}, fmt.Errorf("%q does not exist in %s (the clocks skip it for daylight saving): give a time with its offset", s, loc)
	case 2:
		return time.Time{}, fmt.Errorf("%q happens twice in %s (a daylight-saving change): give the offset, %s or %s",
			s, loc, found[0].Format("2006-01-02 15:04:05-07:00"), found[1].Format("2006-01-02 15:04:05-07:00"))
	}
	return found[0], nil
}
