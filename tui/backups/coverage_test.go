package backups

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// A base backup's details say where its WAL starts and how far the
// archive carries it.
func TestBaseLines(t *testing.T) {
	b := backup.WALStart{ID: "20261124_020000", SystemID: 7, Timeline: 2, Start: pgwal.LSN(0x3_70000028), Stop: pgwal.LSN(0x3_70100000)}
	at := time.Date(2026, 11, 25, 8, 29, 58, 0, time.UTC)
	for _, tt := range []struct {
		name string
		cov  *backup.Coverage
		want string
	}{
		{"carried", &backup.Coverage{Base: b, To: pgwal.LSN(0x3_9A0001C8), ToTimeline: 2, ToTime: at}, "recoverable: the archive carries it to 3/9A0001C8 on timeline 2, stored 2026-11-25T08:29:58Z"},
		{"missing", &backup.Coverage{Base: b, To: b.Start, ToTimeline: 2, Missing: "000000020000000300000070"}, "not recoverable: segment 000000020000000300000070 is missing"},
		{"short", &backup.Coverage{Base: b, To: pgwal.LSN(0x3_70080000), ToTimeline: 2}, "not recoverable yet: the archive reaches 3/70080000, short of 3/70100000"},
		{"no archive read", nil, "has not been read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ovs []backup.WALOverview
			if tt.cov != nil {
				ovs = []backup.WALOverview{{SystemID: 7, Coverage: []backup.Coverage{*tt.cov}}}
			}
			got := ansi.Strip(strings.Join(baseLines(styles.Default(), b, ovs), "\n"))
			if !strings.Contains(got, "timeline 2") || !strings.Contains(got, "WAL from 3/70000028, consistent at 3/70100000") || !strings.Contains(got, tt.want) {
				t.Errorf("got\n%s\nwant %q", got, tt.want)
			}
		})
	}
}
