package pitr

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zone database:", err)
	}
	got, err := ParseTime("2026-12-07 09:13:00", berlin)
	if err != nil || !got.Equal(time.Date(2026, 12, 7, 8, 13, 0, 0, time.UTC)) {
		t.Fatalf("local winter time: %v %v", got, err)
	}
	got, err = ParseTime("2026-12-07 09:13:00+00:00", berlin)
	if err != nil || !got.Equal(time.Date(2026, 12, 7, 9, 13, 0, 0, time.UTC)) {
		t.Fatalf("with an offset: %v %v", got, err)
	}
	got, err = ParseTime("2026-12-07T09:13:00.250Z", berlin)
	if err != nil || !got.Equal(time.Date(2026, 12, 7, 9, 13, 0, 250e6, time.UTC)) {
		t.Fatalf("RFC 3339: %v %v", got, err)
	}
	// 2026-10-25 02:30 happens twice in Berlin; 2026-03-29 02:30 never.
	if _, err := ParseTime("2026-10-25 02:30:00", berlin); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("ambiguous: %v", err)
	}
	if _, err := ParseTime("2026-03-29 02:30:00", berlin); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("skipped: %v", err)
	}
	if _, err := ParseTime("2026-10-25 02:30:00+01:00", berlin); err != nil {
		t.Fatalf("ambiguous with its offset: %v", err)
	}
	if _, err := ParseTime("2026-12-07 09:13:00 CET", berlin); err == nil {
		t.Fatal("a zone abbreviation was accepted")
	}
	if _, err := ParseTime("yesterday", berlin); err == nil || !strings.Contains(err.Error(), "is not a time") {
		t.Fatalf("garbage: %v", err)
	}
}

func TestTargetString(t *testing.T) {
	if s := (Target{}).String(); !strings.Contains(s, "head") {
		t.Fatal(s)
	}
	if s := (Target{XID: 812, Exclusive: true}).String(); s != "just before transaction 812" {
		t.Fatal(s)
	}
	if err := (Target{XID: 1, LSN: 5}).Validate(); err == nil {
		t.Fatal("two kinds accepted")
	}
}
