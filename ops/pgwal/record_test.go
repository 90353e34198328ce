package pgwal_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// rmgrNames are pg_waldump's names of the resource managers.
var rmgrNames = []string{"XLOG", "Transaction", "Storage", "CLOG", "Database", "Tablespace", "MultiXact", "RelMap",
	"Standby", "Heap2", "Heap", "Btree", "Hash", "Gin", "Gist", "Sequence", "SPGist", "BRIN", "CommitTs",
	"ReplicationOrigin", "Generic", "LogicalMessage"}

// walWorkload writes WAL of every shape the decoder meets: records across
// pages and segments (1 MiB segments, full-page images, a row of 30 kB
// uncompressed), subtransactions, COPY's multi-inserts, deletes and
// updates, TRUNCATE, DROP, DDL, a prepared transaction, a segment switch.
func walWorkload(t *testing.T) (*pgtemp.Instance, walRange) {
	t.Helper()
	if _, err := pgtemp.BinDir(0); err != nil {
		t.Skipf("no PostgreSQL server binaries: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := pgtemp.Start(ctx, pgtemp.Options{WALSegmentMB: 1, Settings: map[string]string{
		"max_prepared_transactions": "2", "full_page_writes": "on", "wal_level": "replica", "wal_keep_size": "1GB"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Remove() })
	conn, err := inst.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var start string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_current_wal_lsn())").Scan(&start); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE a (id int PRIMARY KEY, v text)",
		"CREATE TABLE b (id int PRIMARY KEY, big text)",
		"ALTER TABLE b ALTER big SET STORAGE PLAIN",
		"INSERT INTO a SELECT g, repeat('x', g % 200) FROM generate_series(1, 20000) g",
		"CHECKPOINT",
		"UPDATE a SET v = v || 'y' WHERE id % 3 = 0",
		"BEGIN; SAVEPOINT s; DELETE FROM a WHERE id <= 6000; RELEASE s; SAVEPOINT t; DELETE FROM a WHERE id > 19000; ROLLBACK TO t; COMMIT",
		"COPY a (id) FROM PROGRAM 'seq 30001 34000'",
		"INSERT INTO b SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 250) g",
		"BEGIN; INSERT INTO b VALUES (2, 'p'); PREPARE TRANSACTION 'p1'",
		"COMMIT PREPARED 'p1'",
		"ALTER TABLE a ADD COLUMN w int",
		"TRUNCATE b",
		"DROP TABLE a",
		"SELECT pg_switch_wal()",
		"CREATE TABLE c AS SELECT g FROM generate_series(1, 1000) g",
		"CHECKPOINT",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := conn.Exec(ctx, "INSERT INTO c VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var end string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_current_wal_insert_lsn())").Scan(&end); err != nil {
		t.Fatal(err)
	}
	return inst, walRange{start, end}
}

// walRange is the first and the last segment a workload wrote.
type walRange struct{ first, last string }

// walFiles are the segment files of pg_wal the workload wrote, in order
// (not those recycled for later).
func walFiles(t *testing.T, inst *pgtemp.Instance, r walRange) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(inst.DataDir, "pg_wal", "0000000*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if b := filepath.Base(n); pgwal.IsSegmentName(b) && b >= r.first && b <= r.last {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// decoded is a record as both sides describe it.
type decoded struct {
	lsn, rmgr, tx, tot string
	blocks             string
	dropped            string
}

var dumpLine = regexp.MustCompile(`^rmgr: (\S+)\s+len \(rec/tot\):\s+\d+/\s*(\d+), tx:\s+(\d+), lsn: (\S+), prev \S+, desc: (.*)$`)
var dumpBlock = regexp.MustCompile(`blkref #\d+: rel (\d+/\d+/\d+)(?: fork \S+)? blk (\d+)`)
var dumpRels = regexp.MustCompile(`; rels: ([^;]+)`)

func TestDecoderMatchesPgWaldump(t *testing.T) {
	inst, start := walWorkload(t)
	files := walFiles(t, inst, start)
	if len(files) < 4 {
		t.Fatalf("only %d segments written (%s to %s)", len(files), start.first, start.last)
	}
	const segSize = 1 << 20
	// Ours.
	d := pgwal.NewDecoder(segSize)
	var ours []decoded
	commits := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := pgwal.ParseSegmentName(filepath.Base(f), segSize)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Feed(seg, data, func(r *pgwal.Record) error {
			x := decoded{lsn: r.LSN.String(), rmgr: rmgrNames[r.Rmgr], tx: strconv.FormatUint(uint64(r.XID), 10), tot: strconv.Itoa(int(r.Len))}
			var bl []string
			for _, b := range r.Blocks {
				bl = append(bl, fmt.Sprintf("%s blk %d", b.Rel, b.Block))
			}
			x.blocks = strings.Join(bl, ",")
			if r.Rmgr == pgwal.RmgrXact && (r.XactOp() == pgwal.XactCommit || r.XactOp() == pgwal.XactCommitPrepared) {
				e, err := pgwal.ParseXactEnd(r, d.Version())
				if err != nil {
					return err
				}
				commits++
				var rels []string
				for _, f := range e.Dropped {
					rels = append(rels, fmt.Sprintf("base/%d/%d", f.DB, f.Rel))
				}
				x.dropped = strings.Join(rels, " ")
				if e.Time.Before(time.Now().Add(-time.Hour)) || e.Time.After(time.Now().Add(time.Minute)) {
					t.Errorf("commit at %s: time %s", r.LSN, e.Time)
				}
			}
			ours = append(ours, x)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
	}
	if v, _ := os.ReadFile(filepath.Join(inst.DataDir, "PG_VERSION")); strconv.Itoa(d.Version()) != strings.TrimSpace(string(v)) {
		t.Errorf("version %d, the server is %s", d.Version(), v)
	}

	// pg_waldump's, over the same files.
	cmd := exec.Command(filepath.Join(inst.BinDir, "pg_waldump"), "--path", filepath.Join(inst.DataDir, "pg_wal"),
		filepath.Base(files[0]), filepath.Base(files[len(files)-1]))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && !strings.Contains(stderr.String(), "invalid record length") && !strings.Contains(stderr.String(), "could not find a valid record") {
		t.Fatalf("pg_waldump: %v: %s", err, stderr.String())
	}
	var theirs []decoded
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		m := dumpLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		lsn, err := pgwal.ParseLSN(m[4])
		if err != nil {
			t.Fatal(err)
		}
		x := decoded{rmgr: m[1], tot: m[2], tx: m[3], lsn: lsn.String()}
		var bl []string
		for _, b := range dumpBlock.FindAllStringSubmatch(m[5], -1) {
			bl = append(bl, b[1]+" blk "+b[2])
		}
		x.blocks = strings.Join(bl, ",")
		if r := dumpRels.FindStringSubmatch(m[5]); r != nil && (strings.HasPrefix(m[5], "COMMIT")) {
			x.dropped = strings.TrimSpace(r[1])
		}
		theirs = append(theirs, x)
	}
	// pg_waldump starts at the first record that begins in the first
	// file; so do we.
	if len(theirs) < 10000 {
		t.Fatalf("pg_waldump listed only %d records: %s", len(theirs), stderr.String())
	}
	if len(ours) != len(theirs) {
		t.Errorf("%d records decoded, pg_waldump lists %d", len(ours), len(theirs))
	}
	for i := range min(len(ours), len(theirs)) {
		if ours[i] != theirs[i] {
			t.Fatalf("record %d:\n ours   %+v\n theirs %+v", i, ours[i], theirs[i])
		}
	}
	dropping := 0
	for _, x := range ours {
		if x.dropped != "" {
			dropping++
		}
	}
	if dropping < 2 { // TRUNCATE b, DROP TABLE a
		t.Errorf("%d commits unlink files, want the TRUNCATE's and the DROP's", dropping)
	}
	if commits < 10 {
		t.Errorf("only %d commits", commits)
	}
	t.Logf("%d records in %d segments, %d commits", len(ours), len(files), commits)
}

func TestDecoderCatchesDamage(t *testing.T) {
	inst, start := walWorkload(t)
	files := walFiles(t, inst, start)
	if len(files) < 4 {
		t.Fatalf("only %d segments written (%s to %s)", len(files), start.first, start.last)
	}
	data, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := pgwal.ParseSegmentName(filepath.Base(files[1]), 1<<20)
	data[300000] ^= 0x40
	err = pgwal.NewDecoder(1<<20).Feed(seg, data, func(*pgwal.Record) error { return nil })
	if !errors.Is(err, pgwal.ErrDamaged) {
		t.Fatalf("a flipped bit: %v", err)
	}
	// A prefix (a segment stored in part) followed by the next segment is
	// a gap, not damage: the next segment's first record is skipped.
	next, _ := os.ReadFile(files[2])
	nextSeg, _ := pgwal.ParseSegmentName(filepath.Base(files[2]), 1<<20)
	whole0, _ := os.ReadFile(files[1])
	d := pgwal.NewDecoder(1 << 20)
	if err := d.Feed(seg, whole0[:300001], func(*pgwal.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := d.Feed(nextSeg, next, func(*pgwal.Record) error { return nil }); err != nil {
		t.Errorf("the segment after a prefix: %v", err)
	}
	// A prefix cut anywhere decodes what it holds, without an error.
	whole, _ := os.ReadFile(files[1])
	for _, cut := range []int{5, 8192, 8200, 100001, 1<<20 - 3} {
		n := 0
		if err := pgwal.NewDecoder(1<<20).Feed(seg, whole[:cut], func(*pgwal.Record) error { n++; return nil }); err != nil {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
}
