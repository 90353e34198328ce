// Package fingerprint computes the exact, order-independent digest of a
// table's rows that backups record and drills (and point-in-time
// restores) recompute from a restored copy.
//
// A table's fingerprint is defined over its rows as COPY text — the
// lines `COPY table (columns) TO STDOUT` writes, each without its
// newline, under pg_dump's session settings (DateStyle ISO, IntervalStyle
// postgres, extra_float_digits 3, the backup's TimeZone and client
// encoding; see postgres.DumpSession): for every row, the first 128 bits
// of the SHA-256 of its line, read as a big-endian unsigned integer, are
// added modulo 2^128. The sum and the number of rows are the fingerprint.
// Addition is commutative, so the order rows come in (a heap scan, a
// parallel restore) does not matter; any changed, added or removed row
// changes the sum except with probability about 2^-128 per change.
// Duplicate rows count as often as they occur.
//
// A backup computes it from pg_dump's own data stream (the custom-format
// archive's data blocks hold exactly this COPY text), so nothing is read
// twice; a drill computes it with COPY TO STDOUT from the restored
// database.
package fingerprint
