// Package postgres reads facts about a PostgreSQL server: version, connections
// by state, cache hit ratio, the longest open transaction, replication and
// database size. It judges nothing; package health compares the facts with the
// configured thresholds.
//
// Connect opens a small pool with a bounded connect timeout and turns failures
// into *Error values whose Kind says why in a word and whose message says what
// to do next. Errors never contain the password or the DSN.
//
// It also holds the SQL the other ops packages run (the sandbox's seeding
// aside), behind small named functions that take a Querier (a pool, a
// connection or a transaction) and the caller's context: the server's
// version, the tables and their row counts for backups, and the catalog
// work of a restore (CreateDatabase, RenameDatabases, TerminateSessions,
// ...). Identifiers are always quoted here; callers pass plain names.
package postgres
