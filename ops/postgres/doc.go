// Package postgres reads facts about a PostgreSQL server: version, connections
// by state, cache hit ratio, the longest open transaction, replication and
// database size. It judges nothing; package health compares the facts with the
// configured thresholds.
//
// Connect opens a small pool with a bounded connect timeout and turns failures
// into *Error values whose Kind says why in a word and whose message says what
// to do next. Errors never contain the password or the DSN.
package postgres
