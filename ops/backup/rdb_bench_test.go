package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// benchRDB is an RDB of a server filled with OPSDECK_BENCH_PARSE_KEYS keys
// (default 200,000) in the encodings a real one holds: strings, small
// hashes, sets, zsets and lists (listpacks and intsets), big ones (hash
// tables, skiplists, quicklists of several nodes) and streams. With
// OPSDECK_BENCH_RDB set it is read from that file, or written there when
// the file does not exist: two builds compare on the same bytes.
func benchRDB(b *testing.B) []byte {
	b.Helper()
	file := os.Getenv("OPSDECK_BENCH_RDB")
	if file != "" {
		if data, err := os.ReadFile(file); err == nil {
			return data
		}
	}
	ctx := accesstest.Admin(context.Background())
	keys := sandbox.EnvInt("OPSDECK_BENCH_PARSE_KEYS", 200_000)
	srv, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{MaxMemory: "2gb"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer c.Close()
	for i := 0; i < keys; i += 5000 {
		p := c.Pipeline()
		for j := i; j < min(i+5000, keys); j++ {
			n := strconv.Itoa(j)
			switch j % 10 {
			case 0, 1, 2:
				p.Set(ctx, "quote:"+n, fmt.Sprintf(`{"px":%.4f,"vol":%d}`, 10+float64(j%9973)/7.3, j*37%1000003), 0)
			case 3:
				p.HSet(ctx, "session:"+n, "user", j%5000, "ip", "10.0."+strconv.Itoa(j%250), "ua", "StockApp/3.4.1", "seen", 1764000000+j)
			case 4:
				p.ZAdd(ctx, "board:"+n, goredis.Z{Score: float64(j % 10007), Member: "u" + n}, goredis.Z{Score: 3.5, Member: "v" + n}, goredis.Z{Score: 7, Member: "w"})
			case 5:
				p.RPush(ctx, "queue:"+n, "job-a-"+n, "job-b-"+n, j, "job-c")
			case 6:
				p.SAdd(ctx, "ids:"+n, j, j+1, j+2, j+3, j+4)
			case 7:
				p.SAdd(ctx, "tags:"+n, "alpha", "beta", "gamma-"+n)
			case 8:
				if j%1000 == 8 { // a few big ones of each kind
					for k := range 300 {
						s := strconv.Itoa(k)
						p.HSet(ctx, "bighash:"+n, "field-"+s, "value-"+s+"-"+n)
						p.ZAdd(ctx, "bigzset:"+n, goredis.Z{Score: float64(k), Member: "member-" + s})
						p.RPush(ctx, "biglist:"+n, "item-"+s+"-"+n)
					}
				} else {
					p.Set(ctx, "count:"+n, j, 0)
				}
			case 9:
				if j%2000 == 9 {
					for k := range 200 {
						p.XAdd(ctx, &goredis.XAddArgs{Stream: "events:" + n, Values: []any{"sym", "S" + strconv.Itoa(k), "px", k}})
					}
				} else {
					p.Set(ctx, "flag:"+n, "1", time.Hour)
				}
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := SnapshotRDB(ctx, srv.URL(), &buf, RDBOptions{}); err != nil {
		b.Fatal(err)
	}
	if file != "" {
		if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

// BenchmarkParseRDB walks an RDB in memory: ParseRDB (the backup's check
// as the snapshot arrives, and deep verify) and ReadRDBEntries (the
// restore's walk, each value framed as a DUMP payload). Run it with
// OPSDECK_SKIP_INTEGRATION=1 go test ./ops/backup -run X -bench ParseRDB:
// it starts its own Redis. Besides the wall time per walk it reports the
// process's CPU time per walk (cpu-ms/op, garbage collection included),
// which a busy machine disturbs less.
func BenchmarkParseRDB(b *testing.B) {
	data := benchRDB(b)
	b.Logf("RDB of %d bytes", len(data))
	b.Run("ParseRDB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		cpu := sandbox.ProcessCPU()
		for b.Loop() {
			if _, err := ParseRDB(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("ReadRDBEntries", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		cpu := sandbox.ProcessCPU()
		for b.Loop() {
			if _, err := ReadRDBEntries(bytes.NewReader(data), func(RDBEntry) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
}

// reportCPU reports the process's CPU time since cpu per iteration.
func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(sandbox.ProcessCPU()-cpu)/1e6/float64(b.N), "cpu-ms/op")
}
