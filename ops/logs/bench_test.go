package logs

import "testing"

// BenchmarkMine feeds the corpus (about four fifths noise, as application
// logs are) to a miner and reports lines per second; allocations are per
// line.
func BenchmarkMine(b *testing.B) {
	lines := corpus(1, 2400, 100)
	m := NewMiner(Options{Redact: redactor})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := lines[i%len(lines)]
		m.Add(e.src, e.line, e.at)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkMineErrors is the same with error and warning lines only: the
// cost of a counted line (masking, the tree, the redactor).
func BenchmarkMineErrors(b *testing.B) {
	var lines []entry
	for _, e := range corpus(1, 0, 100) {
		if DetectLevel(e.line) != LevelNone {
			lines = append(lines, e)
		}
	}
	m := NewMiner(Options{Redact: redactor})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := lines[i%len(lines)]
		m.Add(e.src, e.line, e.at)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
