package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Facts of the maintenance report (ReadUpkeep, ReadSessions, ReadSecurity).
const (
	FactTables   Fact = "tables"
	FactIndexes  Fact = "indexes"
	FactBloat    Fact = "bloat"
	FactSettings Fact = "settings"
	FactSessions Fact = "sessions"
)

// Upkeep is what `maintain db` needs to know about the connected database:
// per-table vacuum state and sizes, indexes with their use, a bloat
// estimate and the settings that drive vacuum and timeouts. Facts that
// could not be read are listed in Missing.
type Upkeep struct {
	CollectedAt time.Time    `json:"collected_at"`
	Tables      []TableStat  `json:"tables"`
	Indexes     []IndexStat  `json:"indexes"`
	Bloat       []TableBloat `json:"bloat"`
	// Settings holds the server settings named in UpkeepSettings.
	Settings map[string]string `json:"settings"`
	// StatsResetAt is when the database's statistics were last reset (nil:
	// never); index scan counts are only as old as that.
	StatsResetAt *time.Time    `json:"stats_reset_at,omitempty"`
	Missing      []MissingFact `json:"missing,omitempty"`
}

// Has reports whether fact f was read.
func (u Upkeep) Has(f Fact) bool {
	for _, m := range u.Missing {
		if m.Fact == f {
			return false
		}
	}
	return true
}

// TableStat is one user table's vacuum state, activity and size.
type TableStat struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// LiveTuples and DeadTuples are the statistics' estimates.
	LiveTuples int64 `json:"live_tuples"`
	DeadTuples int64 `json:"dead_tuples"`
	// ModifiedSinceAnalyze counts rows changed since the last analyze.
	ModifiedSinceAnalyze int64      `json:"modified_since_analyze"`
	LastVacuum           *time.Time `json:"last_vacuum,omitempty"`
	LastAutovacuum       *time.Time `json:"last_autovacuum,omitempty"`
	LastAnalyze          *time.Time `json:"last_analyze,omitempty"`
	LastAutoanalyze      *time.Time `json:"last_autoanalyze,omitempty"`
	VacuumCount          int64      `json:"vacuum_count"`
	AutovacuumCount      int64      `json:"autovacuum_count"`
	SeqScans             int64      `json:"seq_scans"`
	SeqRowsRead          int64      `json:"seq_rows_read"`
	IndexScans           int64      `json:"index_scans"`
	// TableBytes is the heap with TOAST, IndexBytes all its indexes.
	TableBytes int64 `json:"table_bytes"`
	IndexBytes int64 `json:"index_bytes"`
	TotalBytes int64 `json:"total_bytes"`
}

// Qualified returns schema.name, quoted where needed, for SQL and display.
func (t TableStat) Qualified() string { return QualifiedName(t.Schema, t.Name) }

// DeadPercent is dead tuples as a share of live and dead ones, 0..100.
func (t TableStat) DeadPercent() float64 {
	if t.LiveTuples+t.DeadTuples <= 0 {
		return 0
	}
	return 100 * float64(t.DeadTuples) / float64(t.LiveTuples+t.DeadTuples)
}

// LastVacuumed is the later of the last manual and automatic vacuum.
func (t TableStat) LastVacuumed() *time.Time { return later(t.LastVacuum, t.LastAutovacuum) }

// LastAnalyzed is the later of the last manual and automatic analyze.
func (t TableStat) LastAnalyzed() *time.Time { return later(t.LastAnalyze, t.LastAutoanalyze) }

func later(a, b *time.Time) *time.Time {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.After(*a):
		return b
	}
	return a
}

// QualifiedName quotes schema and name as SQL identifiers, "public"."t".
func QualifiedName(schema, name string) string {
	return pgx.Identifier{schema, name}.Sanitize()
}

// IndexStat is one index of a user table.
type IndexStat struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	// Scans counts index scans since the statistics were last reset.
	Scans   int64 `json:"scans"`
	Unique  bool  `json:"unique"`
	Primary bool  `json:"primary"`
	// Constraint is the constraint the index backs (primary key, unique,
	// exclusion), "" for a plain index. Such indexes cannot simply be dropped.
	Constraint string `json:"constraint,omitempty"`
	Valid      bool   `json:"valid"`
	// Definition is CREATE INDEX ... as pg_get_indexdef gives it.
	Definition string `json:"definition"`
	// Columns is the indexed columns' numbers (0 for an expression), Key
	// identifies what the index indexes (columns, operator classes,
	// expressions, predicate): two indexes with the same Key are duplicates.
	Columns []int  `json:"columns"`
	Key     string `json:"-"`
	// Predicate is the WHERE clause of a partial index.
	Predicate string `json:"predicate,omitempty"`
	// Method is the access method, e.g. "btree".
	Method string `json:"method"`
}

// TableBloat estimates one table's dead space from its size and the average
// row width in pg_stats (the well-known estimate: an approximation that is
// close for tables without wide TOASTed rows).
type TableBloat struct {
	Schema        string `json:"schema"`
	Name          string `json:"name"`
	Pages         int64  `json:"pages"`
	ExpectedPages int64  `json:"expected_pages"`
	BlockSize     int64  `json:"block_size"`
}

// Bytes is the table's heap size.
func (b TableBloat) Bytes() int64 { return b.Pages * b.BlockSize }

// BloatBytes is the estimated dead space, never negative.
func (b TableBloat) BloatBytes() int64 { return max(b.Pages-b.ExpectedPages, 0) * b.BlockSize }

// BloatPercent is BloatBytes as a share of the table's size, 0..100.
func (b TableBloat) BloatPercent() float64 {
	if b.Pages <= 0 {
		return 0
	}
	return 100 * float64(max(b.Pages-b.ExpectedPages, 0)) / float64(b.Pages)
}

// UpkeepSettings are the server settings ReadUpkeep reports.
var UpkeepSettings = []string{
	"autovacuum", "track_counts", "autovacuum_vacuum_scale_factor", "autovacuum_vacuum_threshold",
	"autovacuum_naptime", "autovacuum_max_workers", "idle_in_transaction_session_timeout",
	"statement_timeout", "shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem",
	"max_connections", "shared_preload_libraries",
}

// ReadUpkeep reads the maintenance facts of the connected database, each
// in its own read-only transaction under statement_timeout (timeout, or
// DefaultStatementTimeout when zero): a fact the server refuses is listed
// in Missing and the rest are still read.
func ReadUpkeep(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) (Upkeep, error) {
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	u := Upkeep{CollectedAt: time.Now(), Settings: map[string]string{}}
	missing, err := readEachFact(ctx, pool, timeout, []namedRead{
		{FactTables, func(ctx context.Context, tx pgx.Tx) error { return readTables(ctx, tx, &u) }},
		{FactIndexes, func(ctx context.Context, tx pgx.Tx) error { return readIndexes(ctx, tx, &u) }},
		{FactBloat, func(ctx context.Context, tx pgx.Tx) error { return readBloat(ctx, tx, &u) }},
		{FactSettings, func(ctx context.Context, tx pgx.Tx) error { return readSettings(ctx, tx, &u) }},
	})
	u.Missing = missing
	return u, err
}

const tablesSQL = `
SELECT s.schemaname::text, s.relname::text,
       coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0), coalesce(s.n_mod_since_analyze, 0),
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       coalesce(s.vacuum_count, 0), coalesce(s.autovacuum_count, 0),
       coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0),
       pg_table_size(s.relid), pg_indexes_size(s.relid), pg_total_relation_size(s.relid),
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())
  FROM pg_stat_user_tables s
 ORDER BY s.schemaname, s.relname`

func readTables(ctx context.Context, tx pgx.Tx, u *Upkeep) error {
	rows, err := tx.Query(ctx, tablesSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	u.Tables = []TableStat{}
	for rows.Next() {
		var t TableStat
		var reset *time.Time
		if err := rows.Scan(&t.Schema, &t.Name, &t.LiveTuples, &t.DeadTuples, &t.ModifiedSinceAnalyze,
			&t.LastVacuum, &t.LastAutovacuum, &t.LastAnalyze, &t.LastAutoanalyze,
			&t.VacuumCount, &t.AutovacuumCount, &t.SeqScans, &t.SeqRowsRead, &t.IndexScans,
			&t.TableBytes, &t.IndexBytes, &t.TotalBytes, &reset); err != nil {
			return err
		}
		t.LastVacuum, t.LastAutovacuum = timeOrNil(t.LastVacuum), timeOrNil(t.LastAutovacuum)
		t.LastAnalyze, t.LastAutoanalyze = timeOrNil(t.LastAnalyze), timeOrNil(t.LastAutoanalyze)
		u.StatsResetAt = timeOrNil(reset)
		u.Tables = append(u.Tables, t)
	}
	return rows.Err()
}

// indexesSQL lists the indexes of user tables. The key identifies what an
// index indexes: two indexes with equal keys are duplicates.
const indexesSQL = `
SELECT s.schemaname::text, s.relname::text, s.indexrelname::text,
       pg_relation_size(s.indexrelid), coalesce(s.idx_scan, 0),
       i.indisunique, i.indisprimary, i.indisvalid,
       coalesce((SELECT conname::text FROM pg_constraint c WHERE c.conindid = s.indexrelid LIMIT 1), ''),
       pg_get_indexdef(s.indexrelid),
       string_to_array(i.indkey::text, ' ')::int[],
       i.indrelid::text || '|' || i.indkey::text || '|' || i.indclass::text || '|' || i.indcollation::text || '|' ||
           coalesce(pg_get_expr(i.indexprs, i.indrelid), '') || '|' || coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
       coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
       am.amname::text
  FROM pg_stat_user_indexes s
  JOIN pg_index i ON i.indexrelid = s.indexrelid
  JOIN pg_class ic ON ic.oid = s.indexrelid
  JOIN pg_am am ON am.oid = ic.relam
 ORDER BY s.schemaname, s.relname, s.indexrelname`

func readIndexes(ctx context.Context, tx pgx.Tx, u *Upkeep) error {
	rows, err := tx.Query(ctx, indexesSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	u.Indexes = []IndexStat{}
	for rows.Next() {
		var ix IndexStat
		var cols []int32
		if err := rows.Scan(&ix.Schema, &ix.Table, &ix.Name, &ix.Bytes, &ix.Scans, &ix.Unique, &ix.Primary,
			&ix.Valid, &ix.Constraint, &ix.Definition, &cols, &ix.Key, &ix.Predicate, &ix.Method); err != nil {
			return err
		}
		for _, c := range cols {
			ix.Columns = append(ix.Columns, int(c))
		}
		u.Indexes = append(u.Indexes, ix)
	}
	return rows.Err()
}

// bloatSQL estimates each analyzed table's expected size: its row count
// times the row width (tuple header, line pointer, null bitmap and the
// average column widths from pg_stats) over the usable page size at the
// table's fillfactor.
const bloatSQL = `
WITH t AS (
    SELECT n.nspname::text AS schema, c.relname::text AS name, c.reltuples, c.relpages::bigint AS pages,
           current_setting('block_size')::bigint AS bs,
           coalesce((regexp_match(array_to_string(c.reloptions, ','), 'fillfactor=(\d+)'))[1]::int, 100) AS ff,
           (SELECT sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))
              FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname) AS width,
           (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS ncols
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'm')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg_toast%'
       AND c.relpages > 0
)
SELECT schema, name, pages,
       ceil(reltuples * (24 + 4 + ceil(ncols / 8.0) + width) / ((bs - 24) * ff / 100.0))::bigint,
       bs
  FROM t
 WHERE width IS NOT NULL AND reltuples >= 0
 ORDER BY schema, name`

func readBloat(ctx context.Context, tx pgx.Tx, u *Upkeep) error {
	rows, err := tx.Query(ctx, bloatSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	u.Bloat = []TableBloat{}
	for rows.Next() {
		var b TableBloat
		if err := rows.Scan(&b.Schema, &b.Name, &b.Pages, &b.ExpectedPages, &b.BlockSize); err != nil {
			return err
		}
		u.Bloat = append(u.Bloat, b)
	}
	return rows.Err()
}

func readSettings(ctx context.Context, tx pgx.Tx, u *Upkeep) error {
	rows, err := tx.Query(ctx, `SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1)`, UpkeepSettings)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return err
		}
		u.Settings[name] = value
	}
	return rows.Err()
}
