package maintain

// PlanItem is one item of the reference maintenance plan and what opsdeck
// does for it.
type PlanItem struct {
	// Period is "daily", "weekly" or "monthly".
	Period string `json:"period"`
	Item   string `json:"item"`
	// How is the opsdeck command or tab that does it ("" when opsdeck
	// does not).
	How string `json:"how"`
	// Mode is the maintain mode that covers it, "" when none does.
	Mode Mode `json:"mode,omitempty"`
	// Automated says how much of it opsdeck does: "yes", "partly", "no".
	Automated string `json:"automated"`
	// Note says what is left to the operator.
	Note    string `json:"note,omitempty"`
	Runbook string `json:"runbook"`
}

// Plan is the reference system's maintenance plan (daily: health, alerts,
// error logs, backup check; weekly: trends, resource use, log cleanup,
// patches; monthly: capacity, performance review, security audit, a
// restore drill) with what opsdeck automates for each item.
var Plan = []PlanItem{
	{"daily", "health check", "opsdeck maintain health", ModeHealth, "yes", "the morning check of every target", "daily-operations.md#morning-check"},
	{"daily", "alerts", "Metrics tab, alerts view", "", "partly", "opsdeck lists firing alerts; owning them is yours", "monitoring.md#alerts"},
	{"daily", "error logs", "opsdeck maintain health", ModeHealth, "yes", "new kinds of errors and warnings in the watched pods' last 24 h of logs (opsdeck logs errors); read them in the Health tab (l on a pod)", "daily-operations.md#logs"},
	{"daily", "backup check", "opsdeck maintain health", ModeHealth, "yes", "age of the last good database and Redis backups; verify them in the Backups tab", "backup-restore.md#check-backups"},
	{"weekly", "performance trends", "Metrics tab", "", "partly", "the last 15 minutes here; weeks in Grafana", "monitoring.md#dashboards"},
	{"weekly", "resource use", "opsdeck maintain capacity", ModeCapacity, "yes", "requests against allocatable per node", "maintenance.md#weekly"},
	{"weekly", "database upkeep", "opsdeck maintain db", ModeDB, "yes", "vacuum after confirmation", "performance.md#vacuum-and-bloat"},
	{"weekly", "Redis upkeep", "opsdeck maintain redis", ModeRedis, "yes", "keyspace by prefix and TTL", "troubleshooting.md#redis-memory"},
	{"weekly", "log cleanup", "opsdeck maintain cleanup", ModeCleanup, "yes", "deletes after confirmation", "maintenance.md#weekly"},
	{"weekly", "security patches", "", "", "no", "node OS and base images", "upgrades.md"},
	{"monthly", "capacity planning", "opsdeck maintain capacity", ModeCapacity, "yes", "days until full from the run history and the backup catalog", "maintenance.md#monthly"},
	{"monthly", "performance review", "opsdeck maintain db", ModeDB, "partly", "indexes, sequential scans and bloat; slow queries in pg_stat_statements", "performance.md#measure-first"},
	{"monthly", "security audit", "opsdeck maintain security", ModeSecurity, "yes", "Postgres, Redis, Kubernetes, backup store", "maintenance.md#monthly"},
	{"monthly", "restore drill", "opsdeck drill database latest", "", "yes", "scheduled: proven in a throwaway instance, timed, checked by opsdeck check", "backup-restore.md#restore-drill"},
}
