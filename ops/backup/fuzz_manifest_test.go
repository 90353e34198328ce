package backup

import (
	"bytes"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// sampleManifest is a set with every component and all their facts.
func sampleManifest() *Manifest {
	t0 := time.Date(2024, 5, 1, 2, 3, 4, 5, time.UTC)
	file := func(name, format string) []File {
		return []File{{Name: name, Format: format, Size: 1234, SHA256: "ab12", RawSize: 4321, Compression: "zstd", Encryption: "age"}}
	}
	return &Manifest{
		Format: FormatVersion, ID: NewID(t0), Kind: "full", Status: StatusPartial, Tags: []string{"nightly", "pre-upgrade"},
		Start: t0, End: t0.Add(time.Minute), OpsdeckVersion: "v1.2.3", Host: "ops-1", User: "alice",
		Components: []Component{
			{Name: Database, Status: StatusOK, Start: t0, End: t0, Files: file("database.dump.zst.age", "pg_dump-custom"),
				Postgres: &PostgresFacts{ServerVersion: "16.2", ServerVersionNum: 160002, Database: "app", PgDumpVersion: "16.2", Tables: []TableCount{{Schema: "public", Name: "t", Rows: 3}}}},
			{Name: Redis, Status: StatusOK, Start: t0, End: t0, Files: file("redis.rdb.zst", "rdb"),
				Redis: &RedisFacts{Version: "7.2.4", RDBVersion: 11, Keys: map[int]int64{0: 10, 3: 1}, Expires: map[int]int64{0: 2}}},
			{Name: Config, Status: StatusOK, Warnings: []string{"secrets skipped"}, Files: file("config.tar.zst", "tar"),
				Kube: &KubeFacts{Context: "prod", Server: "https://k8s:6443", Namespaces: []string{"app"}, Objects: map[string]int{"ConfigMap": 3}, SecretsSkipped: 1}},
			{Name: Logs, Status: StatusFailed, Error: "timeout", Logs: &LogsFacts{Namespaces: []string{"app"}, Window: time.Hour, Containers: 4, Failed: 1}},
			{Name: Base, Status: StatusOK, Start: t0, End: t0, Files: file("base.tar.zst.age", FormatBaseTar),
				Base: &BaseFacts{ServerVersion: "15.18", ServerVersionNum: 150018, PgBaseBackupVersion: "15.18", SystemID: 7716520006782380785,
					Timeline: 2, StartLSN: 0x16B374D848, StopLSN: 0x16B374D900, CheckpointLSN: 0x16B374D880, StartWALFile: "00000002000000160000000B",
					WALSegmentSize: 16 << 20, From: "primary", Files: 1329, DataBytes: 32552700, TotalBytes: 33442816,
					ChecksumAlgorithm: "CRC32C", ManifestChecksum: "d5d75947937e466d25eccbb7379cea289ca062e9319f91ffe74c3810c51a3f22"}},
		},
	}
}

func FuzzParseManifest(f *testing.F) {
	good, err := sampleManifest().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"format":1,"id":"20240501_020304","components":[{},{"files":[{}]}]}`))
	f.Add([]byte(`{"format":1,"id":"20240501_020304","components":[{"redis":{"keys":{"0":1}}}]}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m *Manifest
		var err error
		fuzzcheck.Run(t, len(data), func() { m, err = ParseManifest(data) })
		if err != nil {
			return
		}
		// What parses is written back, and reads the same.
		enc, err := m.Encode()
		if err != nil {
			return // e.g. a year past 9999: not a set opsdeck wrote
		}
		m2, err := ParseManifest(enc)
		if err != nil {
			t.Fatalf("the encoded manifest does not parse: %v\n%s", err, enc)
		}
		enc2, err := m2.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable over a round trip (%v):\n%s\n%s", err, enc, enc2)
		}
	})
}
