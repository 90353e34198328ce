package backup

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/opsdeck/opsdeck/ops/config"
)

func TestCRCJones(t *testing.T) {
	// The check value of Redis's crc64.c self-test.
	if got := crcJones(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc = %x", got)
	}
	// Incremental equals one shot.
	if crcJones(crcJones(0, []byte("1234")), []byte("56789")) != 0xe9c6d914c4b8d9ca {
		t.Fatal("incremental crc differs")
	}
}

// rdbFile builds a small RDB: an aux field, db 0 with a string and a
// key with a TTL, db 3 with a set, then EOF and the CRC.
func rdbFile(version string) []byte {
	var b bytes.Buffer
	b.WriteString("REDIS" + version)
	b.Write([]byte{0xFA, 9})
	b.WriteString("redis-ver")
	b.Write([]byte{6})
	b.WriteString("7.0.15")
	b.Write([]byte{0xFE, 0, 0xFB, 2, 1})
	b.Write([]byte{0, 3})
	b.WriteString("foo")
	b.Write([]byte{3})
	b.WriteString("bar")
	b.WriteByte(0xFC)
	b.Write(make([]byte, 8))
	b.Write([]byte{0, 1, 'k', 0xC0, 42}) // int-encoded string value
	b.Write([]byte{0xFE, 3, 2, 1, 's', 2, 1, 'a', 1, 'b'})
	b.WriteByte(0xFF)
	var crc [8]byte
	binary.LittleEndian.PutUint64(crc[:], crcJones(0, b.Bytes()))
	b.Write(crc[:])
	return b.Bytes()
}

func TestParseRDB(t *testing.T) {
	good := rdbFile("0010")
	s, err := ParseRDB(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 10 || s.Keys[0] != 2 || s.Keys[3] != 1 || s.Expires[0] != 1 || s.Aux["redis-ver"] != "7.0.15" {
		t.Fatalf("summary = %+v", s)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-12] ^= 0x01 // inside the set member
	truncated := good[:len(good)-20]
	trailing := append(bytes.Clone(good), 'x')
	noCRC := bytes.Clone(good)
	copy(noCRC[len(noCRC)-8:], make([]byte, 8))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"flipped byte", flipped, "CRC-64"},
		{"truncated", truncated, "unexpected EOF"},
		{"trailing garbage", trailing, "unexpected bytes after the checksum"},
		{"not rdb", []byte("HELLO0010"), "not an RDB"},
		{"empty", nil, "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRDB(bytes.NewReader(tt.data))
			if !errors.Is(err, ErrRDB) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	s, err = ParseRDB(bytes.NewReader(noCRC))
	if err != nil || !s.ChecksumDisabled {
		t.Fatalf("zero checksum: %v %+v", err, s)
	}
}

func TestMarkReader(t *testing.T) {
	mark := strings.Repeat("m", 40)
	for _, body := range []string{"", "x", strings.Repeat("payload", 20000)} {
		r := &markReader{r: bufio.NewReaderSize(strings.NewReader(body+mark), 16), mark: []byte(mark)}
		got, err := io.ReadAll(iotestOneByte{r})
		if err != nil || string(got) != body {
			t.Fatalf("body of %d: got %d bytes, %v", len(body), len(got), err)
		}
	}
	r := &markReader{r: bufio.NewReader(strings.NewReader("no mark here")), mark: []byte(mark)}
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("a stream without its mark was accepted")
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) > 7 {
		p = p[:7]
	}
	return o.r.Read(p)
}

func TestSplitPasswordAndArgs(t *testing.T) {
	tests := []struct{ dsn, wantDSN, wantPW string }{
		{"postgres://app:s3cr%40t@db:5432/stocks?sslmode=require", "postgres://app@db:5432/stocks?sslmode=require", "s3cr@t"},
		{"postgres://db/stocks?user=app&password=pw1", "postgres://db/stocks?user=app", "pw1"},
		{"host=db user=app password='a b\\'c' dbname=stocks", "host=db user=app dbname=stocks", "a b'c"},
		{"host=db password=x dbname=y", "host=db dbname=y", "x"},
		{"host=db dbname=y", "host=db dbname=y", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		d, pw := SplitPassword(tt.dsn)
		if d != tt.wantDSN || pw != tt.wantPW {
			t.Errorf("SplitPassword(%q) = %q, %q; want %q, %q", tt.dsn, d, pw, tt.wantDSN, tt.wantPW)
		}
	}
	args := PgDumpArgs("postgres://app@db/stocks", "00000003-0000001B-1")
	want := []string{"--format=custom", "--compress=0", "--no-password", "--verbose", "--snapshot=00000003-0000001B-1", "--dbname=postgres://app@db/stocks"}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("args = %q", args)
	}
	if env := PgEnv("s3cr@t"); !reflect.DeepEqual(env[len(env)-1:], []string{"PGPASSWORD=s3cr@t"}) {
		t.Fatalf("env = %q", env)
	}
}

func TestPgDumpVersion(t *testing.T) {
	tests := []struct {
		out       string
		serverNum int
		wantMajor int
		wantErr   string
	}{
		{"pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", 150018, 15, ""},
		{"pg_dump (PostgreSQL) 16.4\n", 150018, 16, ""},
		{"pg_dump (PostgreSQL) 15.18\n", 160004, 15, "older than the server (PostgreSQL 16.4)"},
		{"pg_dump (PostgreSQL) 9.6.24\n", 90624, 9, ""},
	}
	for _, tt := range tests {
		major, _, err := PgDumpMajor(tt.out)
		if err != nil || major != tt.wantMajor {
			t.Fatalf("PgDumpMajor(%q) = %d, %v", tt.out, major, err)
		}
		err = CheckPgDumpVersion(major, tt.serverNum, "16.4", "pg_dump")
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%q vs %d: %v", tt.out, tt.serverNum, err)
		}
		if err != nil && !strings.Contains(err.Error(), "postgresql-client-16") {
			t.Errorf("no advice: %v", err)
		}
	}
	if _, _, err := PgDumpMajor("bash: pg_dump: command not found"); err == nil {
		t.Error("garbage version accepted")
	}
}

func TestStripObject(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{
			"name": "api", "namespace": "stockapp", "uid": "u", "resourceVersion": "9", "generation": int64(3),
			"creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": []any{map[string]any{}},
			"annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": "{secret}"},
			"labels":      map[string]any{"app": "api"},
		},
		"spec":   map[string]any{"clusterIP": "10.0.0.1", "clusterIPs": []any{"10.0.0.1"}, "ports": []any{map[string]any{"port": int64(80)}}},
		"status": map[string]any{"loadBalancer": map[string]any{}},
	}}
	StripObject(obj)
	b, err := ObjectYAML(obj)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
kind: Service
metadata:
  labels:
    app: api
  name: api
  namespace: stockapp
spec:
  ports:
  - port: 80
`
	if string(b) != want {
		t.Fatalf("yaml:\n%s\nwant:\n%s", b, want)
	}
	if ObjectPath(obj) != "stockapp/Service/api.yaml" {
		t.Fatalf("path %s", ObjectPath(obj))
	}
}

func mkSet(id string, verified bool, comps ...string) Set {
	t, _ := time.Parse(IDLayout, id)
	m := &Manifest{Format: 1, ID: id, Kind: strings.Join(comps, "+"), Status: StatusOK, Start: t}
	for _, c := range comps {
		st := StatusOK
		if strings.HasSuffix(c, "!") {
			st, c = StatusFailed, strings.TrimSuffix(c, "!")
		}
		m.Components = append(m.Components, Component{Name: c, Status: st, Files: []File{{Size: 10}}})
	}
	s := Set{ID: id, Manifest: m}
	if verified {
		s.Verify = &VerifyResult{ID: id, OK: true}
	}
	return s
}

func TestPlanPrune(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	r := config.DefaultBackupRetention()
	tests := []struct {
		name    string
		sets    []Set
		deletes []string
		warn    string
	}{
		{"all past retention keeps the newest verified", []Set{
			mkSet("20260301_020000", true, Database), mkSet("20260201_020000", true, Database), mkSet("20260101_020000", true, Database),
		}, []string{"20260201_020000", "20260101_020000"}, ""},
		{"unverified newer set is not the one kept", []Set{
			mkSet("20260401_020000", false, Database), mkSet("20260301_020000", true, Database), mkSet("20260201_020000", true, Database),
		}, []string{"20260401_020000", "20260201_020000"}, ""},
		{"failed component is not the one kept", []Set{
			mkSet("20260401_020000", true, Database+"!", Redis), mkSet("20260301_020000", true, Database), mkSet("20260201_020000", true, Database),
		}, []string{"20260201_020000"}, ""},
		{"within retention kept", []Set{
			mkSet("20260531_020000", true, Database), mkSet("20260520_020000", false, Database), mkSet("20260301_020000", true, Database),
		}, []string{"20260301_020000"}, ""},
		{"per component retention", []Set{
			mkSet("20260531_020000", true, Logs), mkSet("20260520_020000", true, Logs), mkSet("20260520_030000", true, Config),
			mkSet("20260510_030000", true, Config),
		}, []string{"20260520_020000"}, ""},
		{"full set kept while one component is young", []Set{
			mkSet("20260531_020000", true, Database, Logs), mkSet("20260520_020000", true, Database, Logs),
		}, nil, ""},
		{"no verified set keeps everything", []Set{
			mkSet("20260301_020000", false, Redis), mkSet("20260201_020000", false, Redis),
		}, nil, "no verified redis backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanPrune(tt.sets, []string{"20260101_000000"}, r, config.BaseRetention{Count: 2, Days: 14}, now)
			var got []string
			for _, d := range plan.Deletes() {
				got = append(got, d.ID)
			}
			if strings.Join(got, ",") != strings.Join(tt.deletes, ",") {
				t.Errorf("deletes %v, want %v\n%+v", got, tt.deletes, plan.Decisions)
			}
			if tt.warn != "" && !strings.Contains(strings.Join(plan.Warnings, ";"), tt.warn) {
				t.Errorf("warnings %v lack %q", plan.Warnings, tt.warn)
			}
			if len(plan.Leftovers) != 1 {
				t.Errorf("leftovers %v", plan.Leftovers)
			}
		})
	}
}

func TestRenderMetrics(t *testing.T) {
	t0 := time.Unix(1764036000, 0)
	got := string(RenderMetrics(map[string]componentMetrics{
		"database": {LastRun: t0, LastSuccess: t0, Success: true, Duration: 12.5, Size: 1024},
		"redis":    {LastRun: t0, Success: false, Duration: 1},
	}))
	for _, w := range []string{
		`opsdeck_backup_last_success_timestamp_seconds{component="database"} 1.764036e+09`,
		`opsdeck_backup_last_run_success{component="database"} 1`,
		`opsdeck_backup_last_run_success{component="redis"} 0`,
		`opsdeck_backup_last_size_bytes{component="database"} 1024`,
		"# TYPE opsdeck_backup_last_duration_seconds gauge",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("metrics lack %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, `last_success_timestamp_seconds{component="redis"}`) {
		t.Errorf("a never-successful component has a success time:\n%s", got)
	}
}

func TestCompareCounts(t *testing.T) {
	want := []TableCount{{Schema: "public", Name: "a", Rows: 3}, {Schema: "public", Name: "b", Rows: 0}}
	if err := compareCounts(want, []TableCount{{Schema: "public", Name: "b", Rows: 0}, {Schema: "public", Name: "a", Rows: 3}}); err != nil {
		t.Fatal(err)
	}
	err := compareCounts(want, []TableCount{{Schema: "public", Name: "a", Rows: 2}})
	if err == nil || !strings.Contains(err.Error(), "public.a has 2 rows, the manifest says 3") || !strings.Contains(err.Error(), "public.b is missing") {
		t.Fatalf("err = %v", err)
	}
}

func TestCountArchiveRejects(t *testing.T) {
	for _, in := range []string{"", "PGDMP", "HELLO world", "PGDMP\x01\x0e\x00\x04\x08\x01\x00\x03\x00\x00\x00"} {
		if _, err := CountArchive(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
