package backup

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgwal"
)

func TestRenderWALMetrics(t *testing.T) {
	at := time.Unix(1_760_000_000, 0)
	cat := &WALCatalog{Bytes: 3 << 20, Segments: map[uint32][]WALObject{1: {{}, {}, {}}}}
	m := WALMetrics{
		Slot: "opsdeck", Updated: at, Streaming: true, LagSeconds: 1.5,
		Durable: pgwal.LSN(0x3000060), LastDurable: at.Add(-time.Second),
		Overview: &WALOverview{Catalog: cat, Gaps: []Gap{{}},
			Coverage: []Coverage{{Base: WALStart{At: at.Add(-time.Hour)}, To: 0x2000000}, {Base: WALStart{At: at.Add(-time.Minute)}, To: 0x3000060}}},
	}
	got := string(RenderWALMetrics(m))
	for _, want := range []string{
		`opsdeck_wal_updated_timestamp_seconds{slot="opsdeck"} 1760000000`,
		`opsdeck_wal_streaming{slot="opsdeck"} 1`,
		`opsdeck_wal_archive_lag_seconds{slot="opsdeck"} 1.5`,
		`opsdeck_wal_durable_lsn_bytes{slot="opsdeck"} 50331744`,
		`opsdeck_wal_last_durable_timestamp_seconds{slot="opsdeck"} 1759999999`,
		`opsdeck_wal_archive_bytes{slot="opsdeck"} 3145728`,
		`opsdeck_wal_segments{slot="opsdeck"} 3`,
		`opsdeck_wal_gaps{slot="opsdeck"} 1`,
		`opsdeck_wal_base_coverage_end_lsn_bytes{slot="opsdeck"} 50331744`,
		"# TYPE opsdeck_wal_gaps gauge",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	// Before the first durable write and the first overview: the lag and
	// the update time only.
	got = string(RenderWALMetrics(WALMetrics{Slot: "opsdeck", Updated: at, LagSeconds: 12}))
	if strings.Contains(got, "durable") || strings.Contains(got, "segments") || !strings.Contains(got, `opsdeck_wal_streaming{slot="opsdeck"} 0`) {
		t.Errorf("early metrics:\n%s", got)
	}
}
