package redis

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// scanWorkers is how many connections look at the keys of SCAN's batches
// while another one scans ahead: Redis runs one batch while the previous
// one's replies are read here, so neither side waits for the other.
const scanWorkers = 2

// AnalyzeKeyspace scans the keyspace with SCAN and, for every key, sends
// TYPE, MEMORY USAGE and PTTL in one pipeline per batch of keys. One
// connection scans ahead while two others pipeline the batches, so Redis is
// never idle waiting for this side. The command rate is held under
// MaxOpsPerSec. When ctx ends, the analysis so far is returned with its
// Cursor set (to resume with KeyspaceOptions.Resume) together with ctx's
// error; batches are counted in SCAN's order, so the cursor is always just
// past the last batch counted.
func AnalyzeKeyspace(ctx context.Context, client *goredis.Client, o KeyspaceOptions) (*KeyspaceAnalysis, error) {
	t := targetOf(client.Options())
	a, err := prepareAnalysis(ctx, client, &o)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s := &scan{
		client: client, a: a, o: o, pace: &pacer{max: o.MaxOpsPerSec, start: start}, start: start,
		count: o.ScanCount,
	}
	if o.MaxOpsPerSec > 0 {
		// Keep one round trip near 100 ms of the budget: ~3 commands a key.
		s.count = max(min(s.count, o.MaxOpsPerSec/30), 10)
	}
	s.memory.Store(a.MemoryUnavailable == "")
	for _, d := range a.DBs {
		s.total += d.Size
		s.scanned += d.Scanned
	}
	for a.Cursor != nil {
		resume, err := s.db(ctx, *a.Cursor)
		if err != nil {
			a.Cursor = resume
			if ctx.Err() != nil {
				err = ctx.Err()
			} else {
				err = wrapErr(err, t)
			}
			return a, finish(a, start, err)
		}
		s.report(a.Cursor.DB)
		if i := a.Cursor.Index + 1; i < len(a.DBs) {
			a.Cursor = &ScanCursor{Index: i, DB: a.DBs[i].DB}
		} else {
			a.Cursor = nil
		}
	}
	conn := client.EphemeralConn()
	defer conn.Close()
	if err := readLengths(ctx, conn, a); err != nil {
		return a, finish(a, start, wrapErr(err, t))
	}
	return a, finish(a, start, nil)
}

// scan is one analysis in progress.
type scan struct {
	client  *goredis.Client
	a       *KeyspaceAnalysis
	o       KeyspaceOptions
	pace    *pacer
	start   time.Time
	count   int
	memory  atomic.Bool // MEMORY USAGE works
	scanOps atomic.Int64
	total   int64
	scanned int64
}

func (s *scan) report(db int) {
	if s.o.Progress != nil {
		s.o.Progress(KeyspaceProgress{DB: db, Scanned: s.scanned, Total: s.total, Ops: s.a.Ops + s.scanOps.Load(), Elapsed: time.Since(s.start)})
	}
}

// batch is one SCAN reply: the cursor it was asked with, the cursor it
// returned and its keys.
type batch struct {
	seq    int
	cursor uint64
	next   uint64
	keys   []string
}

// looked is what a worker saw of a batch.
type looked struct {
	batch
	keys      []KeyInfo
	vanished  int64
	ops       int64
	memRefuse string
	err       error
}

// db scans one database from cursor c. It returns nil when the database is
// done, else where to resume with the error that stopped it.
func (s *scan) db(ctx context.Context, c ScanCursor) (*ScanCursor, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 2*scanWorkers)
	results := make(chan looked, 2*scanWorkers)
	scanErr := make(chan error, 1)
	go func() { scanErr <- s.scanner(ctx, c, batches) }()
	var wg sync.WaitGroup
	for range scanWorkers {
		wg.Go(func() { s.worker(ctx, c.DB, batches, results) })
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	// Count the batches in SCAN's order; the ones that come early wait.
	pending := map[int]looked{}
	next, resume := 0, c.Cursor
	finished := false
	var firstErr error
	for r := range results {
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
				cancel()
			}
			continue
		}
		pending[r.seq] = r
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			s.count1(b, c)
			resume = b.next
			if b.next == 0 {
				finished = true
			}
			s.report(c.DB)
		}
	}
	s.a.Ops += s.scanOps.Swap(0)
	if err := <-scanErr; firstErr == nil && err != nil && !(finished && errors.Is(err, context.Canceled)) {
		firstErr = err
	}
	if finished {
		return nil, nil
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr == nil {
		firstErr = errors.New("the keyspace scan stopped early")
	}
	cur := c
	cur.Cursor = resume
	return &cur, firstErr
}

// count1 adds one batch to the analysis.
func (s *scan) count1(b looked, c ScanCursor) {
	a := s.a
	a.Ops += b.ops
	a.Vanished += b.vanished
	if b.memRefuse != "" && a.MemoryUnavailable == "" {
		a.MemoryUnavailable = b.memRefuse
		s.memory.Store(false)
	}
	for _, k := range b.keys {
		a.add(k, s.o.TopKeys, s.o.MaxPrefixes)
	}
	n := int64(len(b.batch.keys))
	s.scanned += n
	a.DBs[c.Index].Scanned += n
}

// scanner sends SCAN's batches in order until the cursor comes back to 0.
func (s *scan) scanner(ctx context.Context, c ScanCursor, out chan<- batch) error {
	defer close(out)
	conn := s.client.EphemeralConn()
	defer conn.Close()
	if err := conn.Select(ctx, c.DB).Err(); err != nil {
		return err
	}
	cur := c.Cursor
	for seq := 0; ; seq++ {
		if err := s.pace.wait(ctx, 1); err != nil {
			return err
		}
		keys, next, err := conn.Scan(ctx, cur, s.o.Match, int64(s.count)).Result()
		s.scanOps.Add(1)
		if err != nil {
			return err
		}
		select {
		case out <- batch{seq: seq, cursor: cur, next: next, keys: keys}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if next == 0 {
			return nil
		}
		cur = next
	}
}

// worker looks at the keys of each batch on a raw connection of its own.
func (s *scan) worker(ctx context.Context, db int, in <-chan batch, out chan<- looked) {
	conn, dialErr := dialRaw(ctx, s.client, db)
	if conn != nil {
		defer conn.Close()
	}
	for b := range in {
		r := looked{batch: b, err: dialErr}
		if r.err == nil {
			r = s.look(ctx, conn, db, b)
		}
		select {
		case out <- r:
		case <-ctx.Done():
			// Drain so that the scanner is not left blocked on a full channel.
			for range in {
			}
			return
		}
	}
}

// look sends TYPE, MEMORY USAGE and PTTL of a batch's keys in one round
// trip and reads the replies.
func (s *scan) look(ctx context.Context, conn *rawConn, db int, b batch) looked {
	r := looked{batch: b}
	if len(b.keys) == 0 {
		return r
	}
	if err := s.pace.wait(ctx, len(b.keys)*3); err != nil {
		r.err = err
		return r
	}
	memory := s.memory.Load()
	samples := strconv.Itoa(s.a.MemorySamples)
	for _, k := range b.keys {
		conn.write("TYPE", k)
		switch {
		case memory && samples == "5": // Redis's default: two words less to parse
			conn.write("MEMORY", "USAGE", k)
		case memory:
			conn.write("MEMORY", "USAGE", k, "SAMPLES", samples)
		}
		conn.write("PTTL", k)
	}
	perKey := int64(2)
	if memory {
		perKey = 3
	}
	r.ops = perKey * int64(len(b.keys))
	r.keys = make([]KeyInfo, 0, len(b.keys))
	r.err = conn.roundTrip(ctx, func() error {
		memFailures := 0
		for _, k := range b.keys {
			_, typ, err := conn.read()
			if err != nil {
				return err // NOPERM on TYPE: nothing can be read
			}
			var bytes int64
			if memory {
				kind, v, err := conn.read()
				var rerr replyError
				switch {
				case errors.Is(err, errNilReply):
				case errors.As(err, &rerr):
					memFailures++
					if r.memRefuse == "" {
						r.memRefuse = "MEMORY USAGE refused (" + rerr.Error() + "): sizes are not known; grant +memory to the ACL user"
					}
				case err != nil:
					return err
				case kind == ':':
					bytes, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			pttl, err := conn.readInt()
			if err != nil {
				return err
			}
			if typ == "none" || pttl == -2 {
				r.vanished++
				continue
			}
			ttl := time.Duration(-1)
			if pttl >= 0 {
				ttl = time.Duration(pttl) * time.Millisecond
			}
			r.keys = append(r.keys, KeyInfo{DB: db, Key: k, Type: typ, Bytes: bytes, TTL: ttl, Length: -1})
		}
		if memFailures < len(b.keys) {
			r.memRefuse = "" // some sizes were read: not a refusal, keys vanished or were odd
		}
		return nil
	})
	if r.memRefuse != "" {
		for i := range r.keys {
			r.keys[i].Bytes = 0
		}
	}
	return r
}
