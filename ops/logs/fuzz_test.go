package logs

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// FuzzAdd: log lines come from applications opsdeck does not control; no
// line may panic the miner or make it allocate beyond the bound.
func FuzzAdd(f *testing.F) {
	var seed strings.Builder
	for _, e := range corpus(3, 40, 5) {
		seed.WriteString(e.line)
		seed.WriteByte('\n')
	}
	f.Add(seed.String())
	f.Add(seed.String()[:seed.Len()/3])
	for _, s := range []string{
		`{"level":"error","msg":{"nested":[1,2]},"error":null,"ts":-1}`,
		`{"level":"error"`,
		"E1399 99:99:99.999 x y] z",
		`ERROR msg="unterminated x=' y`,
		"ERROR 0x 1e 1.2.3.4.5 123e4567-e89b-12d3-a456-42661417400g 9999999999999999999999ms",
		"[2025-13-40T25:61:61Z] ERROR bad time",
		"2025-03-14T09:30:00+99:99 ERROR zone",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		fuzzcheck.Run(t, len(data), func() {
			m := NewMiner(Options{MaxTemplates: 50})
			for line := range strings.SplitSeq(data, "\n") {
				m.Add(Source{Workload: "w", Pod: "p"}, line, corpusStart)
			}
			for _, tp := range m.Templates() {
				if tp.Count <= 0 || tp.ID != TemplateID(tp.Text) {
					t.Fatalf("template %+v", tp)
				}
			}
		})
	})
}
