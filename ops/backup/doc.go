// Package backup takes, catalogs, verifies and expires backup sets of
// PostgreSQL (pg_dump custom format), Redis (an RDB taken over the
// replication handshake), Kubernetes configuration (one YAML per object) and
// pod logs.
//
// A set is a directory (or S3 prefix) named by its ID, YYYYMMDD_HHMMSS in
// UTC, holding one file per component and manifest.json, which is written
// last: a set without a committed manifest is not a backup, is never listed,
// and is removed by the next run. Every file is zstd-compressed and, when
// age recipients are configured, encrypted; its SHA-256 (of the stored
// bytes) and sizes are in the manifest.
//
// Reading back, for verify and for restores:
//
//	eng, _ := backup.New(cfg, version)
//	lock, _ := backup.AcquireLockFor(eng.Store, backup.LockReader, "drill", user)
//	set, _ := backup.Get(ctx, eng.Store, id)     // manifest + verify state
//	ids, _ := eng.Identities()                   // nil unless encrypted
//	r := eng.CheckSet(ctx, set.Manifest, false, ids, progress)
//	c, _ := set.Manifest.Component(backup.Database)
//	rc, _ := backup.OpenFile(ctx, eng.Store, id, c.Files[0], ids)
//	_, err := io.Copy(dst, rc)                   // decrypted, decompressed;
//	                                             // ErrChecksum at EOF if damaged
//
// The store lock ([AcquireLockFor], lock.go) has three uses: readers
// (verify, drills) hold it shared, a backup holds it shared plus its own
// exclusive backup lock (one backup at a time, readers beside it), prune
// and restores hold it exclusive. Nothing here prints; long operations
// report through progress.Func.
package backup
