// Package maintain is the engine of `opsdeck maintain` and the Maintenance
// tab: routine upkeep of the database, Redis, the backup store and the
// cluster, done the way the reference system's system_maintenance.sh meant
// it, but with evidence.
//
// A run (Engine.Run) takes a Mode — full, health, db, redis, cleanup,
// security or capacity — reads what it needs, and returns a Report of
// Findings. Every finding says what was found, on which object, with the
// evidence behind it, why it matters and what to do, and links the runbook
// section that explains it; a fact the connected user may not read makes
// its finding "n/a" instead of failing the run. Statuses are ops/health's,
// so the report's worst status is the exit code `opsdeck check` would give.
//
// Some findings carry an Action: VACUUM (ANALYZE) a table, cancel or
// terminate a session, drop an old <db>_pre_* database, delete a log
// archive, prune backups. Run never acts; Engine.Apply does, one action at
// a time, after the caller has confirmed it. Apply refuses in read-only
// mode, re-checks that the action still applies (the session is the same
// one, the file is still old enough), and writes an audit record.
//
// Capacity planning keeps a small history (JSON lines under the state dir)
// of sizes per run, so growth rates and days until full come from opsdeck's
// own past runs and from the backup catalog.
//
// Nothing here prints or exits, and nothing imports the TUI.
package maintain
