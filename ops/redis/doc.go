// Package redis reads facts about a Redis server from INFO: version, memory
// against maxmemory, keyspace hit rate, evictions, clients and keys per
// database. It judges nothing; package health compares the facts with the
// configured thresholds.
//
// NewClient builds a go-redis client with bounded dial, read and write
// timeouts and no retries, so that a dead server is reported at once.
// Failures are *Error values whose Kind says why in a word and whose
// message says what to do next; they never contain the password or the URL.
package redis
