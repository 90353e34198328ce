package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// A table restore brings tables back as they were at a moment of the WAL
// archive, beside production: the database is recovered in a private
// instance (as for a point-in-time database restore), and each table is
// copied into production's database under a new name — its columns and
// its key, no defaults, triggers or foreign keys — and checked against
// the instance. Nothing of production is touched and no writer stops.
// Merging the rows back is its own restore (Merge).

// tableRestore copies tables from the recovered instance into side
// tables.
type tableRestore struct {
	d      *dbRestore // the database: its connection, the instance
	tables []sideTable
}

// sideTable is one table brought back: its name in production (and in
// the instance), the side table's, the columns copied and its key.
type sideTable struct {
	Table string   `json:"table"` // quoted schema.name
	Side  string   `json:"side"`  // quoted schema.name
	Cols  []string `json:"columns,omitempty"`
	Key   []string `json:"key,omitempty"`
	// Made is set once the side table exists (the undo drops it).
	Made bool `json:"made,omitempty"`
	// name is Side unquoted (schema.name), for people and commands.
	name string
	// sum is the copy's check: the stream read and the copy read back.
	sum sumPair
}

// sideName is the side table's default name: <table>_at_<the target's
// local time, or the plan's>.
func sideName(table string, t pitr.Target, at time.Time) string {
	if !t.Time.IsZero() {
		at = t.Time
	}
	return truncateIdent(table + "_at_" + at.Local().Format("20060102_1504"))
}

func truncateIdent(s string) string {
	if len(s) > maxIdentifier {
		return s[:maxIdentifier]
	}
	return s
}

func newTableRestore(ctx context.Context, en *env) (*tableRestore, error) {
	opts := en.plan.Options
	if opts.PointInTime == nil {
		return nil, &ConfigError{errors.New("a table restore needs a moment of the WAL archive: --to, --to-lsn or --to-xid")}
	}
	if len(opts.Tables) == 0 {
		return nil, &ConfigError{errors.New("name the tables to restore")}
	}
	if opts.Into != "" && len(opts.Tables) > 1 {
		return nil, &ConfigError{errors.New("--into names one table's copy: restore one table at a time with it")}
	}
	d, err := newDBRestore(ctx, en)
	if err != nil {
		return nil, err
	}
	tr := &tableRestore{d: d}
	for _, t := range opts.Tables {
		schema, name := splitTable(t)
		side := opts.Into
		if side == "" {
			side = sideName(name, *opts.PointInTime, en.eng.now())
		}
		sideSchema, sideTbl := splitTable(side)
		if !strings.Contains(side, ".") {
			sideSchema = schema
		}
		tr.tables = append(tr.tables, sideTable{
			Table: pgx.Identifier{schema, name}.Sanitize(),
			Side:  pgx.Identifier{sideSchema, sideTbl}.Sanitize(),
			name:  sideSchema + "." + sideTbl,
		})
	}
	return tr, nil
}

// splitTable reads "schema.table" or "table" (public).
func splitTable(s string) (string, string) {
	if schema, name, ok := strings.Cut(s, "."); ok {
		return schema, name
	}
	return "public", s
}

// preflight: the instance's checks, the tables and that the side tables
// are free.
func (tr *tableRestore) preflight(ctx context.Context) {
	d := tr.d
	en := d.en
	chk := func(name string, st health.Status, format string, args ...any) {
		en.check("table", name, st, fmt.Sprintf(format, args...))
	}
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		chk("reachable", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	defer pool.Close()
	server, err := postgres.ServerVersion(ctx, pool)
	if err != nil {
		chk("reachable", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	chk("reachable", health.OK, "PostgreSQL %s at %s, database %s", server.Version, d.server, d.target)
	d.pit.preflight(ctx, d, server.VersionNum, chk)
	d.workDirCheck(chk)
	for _, t := range tr.tables {
		var exists, sideExists bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL", t.Table, t.Side).Scan(&exists, &sideExists); err != nil {
			chk("tables", health.Crit, "%s", d.redact(err.Error()))
			return
		}
		switch {
		case sideExists:
			chk(t.Table, health.Crit, "%s exists already: name another copy with --into, or drop it", t.Side)
		case exists:
			chk(t.Table, health.OK, "copied as it was into %s, beside the live table (nothing of it is changed)", t.Side)
		default:
			chk(t.Table, health.Warn, "%s is not in the database now (dropped?): it is looked for in the recovered one and copied into %s", t.Table, t.Side)
		}
	}
}

// steps: recover, copy, verify.
func (tr *tableRestore) steps() []*Step {
	d := tr.d
	var names, sides []string
	for _, t := range tr.tables {
		names = append(names, t.Table)
		sides = append(sides, t.Side)
	}
	return []*Step{d.pit.recoverStep(d), {
		Name: "table.copy", Component: "table",
		Title: fmt.Sprintf("Copy %s from the recovered instance into %s in %s", strings.Join(names, ", "), strings.Join(sides, ", "), d.target),
		Undo:  "Drop " + strings.Join(sides, ", "),
		do:    tr.copy,
		undo:  tr.drop,
	}, {
		Name: "table.verify", Component: "table",
		Title: "Compare the rows and a checksum of each copy with the recovered instance, then remove the instance",
		do:    tr.verify,
	}}
}

// copy makes each side table from the instance's definition and streams
// its rows.
func (tr *tableRestore) copy(ctx context.Context) error {
	d := tr.d
	s := d.pit
	if s.rec == nil {
		return errors.New("the recovered instance is gone")
	}
	src, err := s.rec.Connect(ctx, s.database)
	if err != nil {
		return fmt.Errorf("connect to the recovered instance: %w", err)
	}
	defer src.Close(context.WithoutCancel(ctx))
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return err
	}
	defer pool.Close()
	for i := range tr.tables {
		t := &tr.tables[i]
		def, err := tableDefinition(ctx, src, t.Table)
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return fmt.Errorf("%s was not in the database at %s either — check the name (schema.table), or pick another moment", t.Table, s.plan.Target)
		}
		if err != nil {
			return err
		}
		t.Cols, t.Key = def.cols, def.key
		if _, err := pool.Exec(ctx, def.create(t.Side)); err != nil {
			return fmt.Errorf("create %s: %s", t.Side, d.redact(err.Error()))
		}
		t.Made = true
		d.en.persist()
		ct := copyTable{name: t.Table, cols: strings.Join(quoteAll(t.Cols), ", "), binary: def.binary}
		out, _ := ct.copySQL()
		side := copyTable{name: t.Side, cols: ct.cols, binary: def.binary}
		back, in := side.copySQL()
		sum, err := s.copyStream(ctx, d, pool, out, in, func(int64) {})
		if err != nil {
			return fmt.Errorf("copy %s into %s: %s", t.Table, t.Side, d.redact(err.Error()))
		}
		got, err := readBack(ctx, pool, back)
		t.sum = sumPair{src: sum, dst: got, err: err}
		key := "no primary or unique key: the copy can be compared, not merged"
		if len(t.Key) > 0 {
			key = "key (" + strings.Join(t.Key, ", ") + ")"
		}
		d.en.note("%s: %d rows copied into %s, %s", t.Table, sum.rows, t.Side, key)
	}
	return nil
}

// drop removes the side tables this run made.
func (tr *tableRestore) drop(ctx context.Context) error {
	d := tr.d
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return err
	}
	defer pool.Close()
	for i := range tr.tables {
		t := &tr.tables[i]
		if !t.Made {
			continue
		}
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+t.Side); err != nil {
			return fmt.Errorf("drop %s: %s", t.Side, d.redact(err.Error()))
		}
		t.Made = false
		d.en.note("dropped %s", t.Side)
	}
	return nil
}

// verify holds each copy, read back as it was written, against the
// stream read from the instance's table, then removes the instance.
func (tr *tableRestore) verify(ctx context.Context) error {
	d := tr.d
	for _, t := range tr.tables {
		r := t.sum
		switch {
		case r.err != nil:
			return fmt.Errorf("read %s back: %s", t.Side, d.redact(r.err.Error()))
		case r.src != r.dst:
			return fmt.Errorf("%s has %d rows (SHA-256 %s), the recovered %s %d (%s)", t.Side, r.dst.rows, r.dst.sum, t.Table, r.src.rows, r.src.sum)
		}
		d.en.note("%s: %d rows, read back byte for byte as they were read from the recovered instance", t.Side, r.dst.rows)
	}
	if err := d.pit.remove(d); err != nil {
		d.en.warn("%v", err)
	}
	return nil
}

// tableDef is what a side table is made from.
type tableDef struct {
	cols, types []string
	key         []string
	// binary: every column copies in binary (see copyTable).
	binary bool
}

func (def tableDef) create(side string) string {
	var parts []string
	for i, c := range def.cols {
		parts = append(parts, pgx.Identifier{c}.Sanitize()+" "+def.types[i])
	}
	if len(def.key) > 0 {
		parts = append(parts, "PRIMARY KEY ("+strings.Join(quoteAll(def.key), ", ")+")")
	}
	return "CREATE TABLE " + side + " (" + strings.Join(parts, ", ") + ")"
}

// tableDefinition reads a table's stored columns (generated ones left
// out) and its key: the primary key, else a unique index on columns that
// are all NOT NULL.
func tableDefinition(ctx context.Context, conn *pgx.Conn, table string) (tableDef, error) {
	var def tableDef
	rows, err := conn.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod),
		       t.oid < 16384 AND t.typname !~ '^_?reg' AND t.typtype = 'b' AND (t.typelem = 0 OR t.typelem < 16384)
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, table)
	if err != nil {
		return def, fmt.Errorf("read the table %s: %w", table, err)
	}
	def.binary = true
	for rows.Next() {
		var c, t string
		var binary bool
		if err := rows.Scan(&c, &t, &binary); err != nil {
			return def, err
		}
		def.cols, def.types = append(def.cols, c), append(def.types, t)
		def.binary = def.binary && binary
	}
	if err := rows.Err(); err != nil {
		return def, fmt.Errorf("read the table %s: %w", table, err)
	}
	err = conn.QueryRow(ctx, `
		SELECT array_agg(a.attname ORDER BY k.ord)
		FROM (SELECT i.indexrelid, i.indkey, i.indisprimary FROM pg_index i
		      WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
		      ORDER BY i.indisprimary DESC, i.indnatts LIMIT 1) i
		CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = $1::regclass AND a.attnum = k.attnum
		GROUP BY i.indexrelid, i.indisprimary
		HAVING i.indisprimary OR bool_and(a.attnotnull)`, table).Scan(&def.key)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return def, fmt.Errorf("read the key of %s: %w", table, err)
	}
	return def, nil
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// MergeStats compares a side table with the live one on its key.
type MergeStats struct {
	Table, Side string
	Key         []string
	// Missing are the side table's rows whose key the live table lacks;
	// Changed those whose key it has with other values.
	Missing, Changed int64
}

// Compare counts what a merge of side into table would insert (and what
// differs), on production's database.
func (e *Engine) Compare(ctx context.Context, table, side string) (MergeStats, error) {
	pool, err := postgres.Connect(ctx, e.cfg().Postgres.DSN, e.cfg().Timeouts.Connect)
	if err != nil {
		return MergeStats{}, err
	}
	defer pool.Close()
	st, _, err := compare(ctx, pool, table, side)
	return st, err
}

// compare counts side's rows against table's, and returns side's
// definition, which a merge inserts by.
func compare(ctx context.Context, pool *pgxpool.Pool, table, side string) (MergeStats, tableDef, error) {
	st := MergeStats{Table: qualified(table), Side: qualified(side)}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return st, tableDef{}, err
	}
	defer conn.Release()
	def, err := tableDefinition(ctx, conn.Conn(), st.Side)
	if err != nil {
		return st, def, err
	}
	if len(def.key) == 0 {
		return st, def, fmt.Errorf("%s has no primary key: compare it by hand; a merge needs a key", st.Side)
	}
	st.Key = def.key
	on, _ := keyJoin(def.key)
	cols := strings.Join(prefixed("s", def.cols), ", ")
	live := strings.Join(prefixed("p", def.cols), ", ")
	absent := "p." + pgx.Identifier{def.key[0]}.Sanitize() + " IS NULL" // a key column is never NULL
	err = pool.QueryRow(ctx, fmt.Sprintf(`SELECT
		count(*) FILTER (WHERE %s),
		count(*) FILTER (WHERE NOT %s AND ROW(%s) IS DISTINCT FROM ROW(%s))
		FROM %s s LEFT JOIN %s p ON %s`, absent, absent, cols, live, st.Side, st.Table, on)).Scan(&st.Missing, &st.Changed)
	if err != nil {
		return st, def, fmt.Errorf("compare %s with %s: %w", st.Side, st.Table, err)
	}
	return st, def, nil
}

// qualified quotes a table name as typed (schema.table or table).
func qualified(name string) string {
	schema, t := splitTable(name)
	return pgx.Identifier{schema, t}.Sanitize()
}

func prefixed(alias string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + pgx.Identifier{c}.Sanitize()
	}
	return out
}

// keyJoin is the join condition of p (live) and s (side) on key, and the
// key's columns of s.
func keyJoin(key []string) (string, string) {
	var on []string
	for _, k := range key {
		q := pgx.Identifier{k}.Sanitize()
		on = append(on, "p."+q+" = s."+q)
	}
	return strings.Join(on, " AND "), strings.Join(prefixed("s", key), ", ")
}

// merge is a merge restore: the side table's rows the live table lacks
// inserted in one transaction; the rows inserted are kept in a table of
// their own (<side>_merged), and the undo deletes those still as they
// were inserted.
type merge struct {
	d     *dbRestore
	stats MergeStats
	def   tableDef
	// keys is the table of the inserted rows.
	keys string
}

func newMerge(ctx context.Context, en *env) (*merge, error) {
	opts := en.plan.Options
	if len(opts.Tables) != 1 || opts.From == "" {
		return nil, &ConfigError{errors.New("merge one table from its copy: opsdeck restore merge TABLE --from COPY")}
	}
	d := &dbRestore{en: en, dsn: en.cfg().Postgres.DSN}
	pc, err := pgx.ParseConfig(d.dsn)
	if err != nil {
		return nil, &ConfigError{errors.New("postgres.dsn does not parse — fix it (see opsdeck config validate)")}
	}
	d.target, d.production = pc.Database, true
	d.server = fmt.Sprintf("%s:%d", pc.Host, pc.Port)
	m := &merge{d: d, stats: MergeStats{Table: qualified(opts.Tables[0]), Side: qualified(opts.From)}}
	schema, side := splitTable(opts.From)
	m.keys = pgx.Identifier{schema, truncateIdent(side + "_merged")}.Sanitize()
	return m, nil
}

func (m *merge) preflight(ctx context.Context) {
	d := m.d
	chk := func(name string, st health.Status, format string, args ...any) {
		d.en.check("table", name, st, fmt.Sprintf(format, args...))
	}
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		chk("reachable", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	defer pool.Close()
	st, def, err := compare(ctx, pool, d.en.plan.Options.Tables[0], d.en.plan.Options.From)
	if err != nil {
		chk("compare", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	m.stats, m.def = st, def
	var taken bool
	pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", m.keys).Scan(&taken)
	if taken {
		chk("keys table", health.Crit, "%s exists (an earlier merge's record): drop it once you are sure that merge stays", m.keys)
	}
	chk("missing", health.OK, "%d rows of %s are not in %s (by key %s): they are inserted", st.Missing, st.Side, st.Table, strings.Join(st.Key, ", "))
	if st.Changed > 0 {
		chk("changed", health.Warn, "%d rows have the same key with other values: they are left as they are (compare them by hand)", st.Changed)
	}
}

func (m *merge) steps() []*Step {
	return []*Step{{
		Name: "table.merge", Component: "table",
		Title: fmt.Sprintf("Insert the rows of %s that %s lacks, in one transaction (their keys kept in %s)", m.stats.Side, m.stats.Table, m.keys),
		Undo:  fmt.Sprintf("Delete the inserted rows from %s by the keys in %s", m.stats.Table, m.keys),
		do:    m.insert,
		undo:  m.uninsert,
	}}
}

func (m *merge) insert(ctx context.Context) error {
	d := m.d
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return err
	}
	defer pool.Close()
	on, _ := keyJoin(m.def.key)
	cols := strings.Join(quoteAll(m.def.cols), ", ")
	var n int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The rows inserted are kept whole: the undo deletes only those
		// still as they were inserted.
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM %s WITH NO DATA", m.keys, cols, m.stats.Side)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`WITH ins AS (
			INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s s WHERE NOT EXISTS (SELECT 1 FROM %s p WHERE %s)
			RETURNING %s)
			INSERT INTO %s SELECT * FROM ins`,
			m.stats.Table, cols, strings.Join(prefixed("s", m.def.cols), ", "), m.stats.Side, m.stats.Table, on,
			cols, m.keys))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("insert the missing rows into %s (nothing was inserted): %s", m.stats.Table, d.redact(err.Error()))
	}
	d.en.note("%d rows inserted into %s; they are kept in %s (drop it once the merge stays)", n, m.stats.Table, m.keys)
	return nil
}

func (m *merge) uninsert(ctx context.Context) error {
	d := m.d
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return err
	}
	defer pool.Close()
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", m.keys).Scan(&exists); err != nil || !exists {
		return err // the transaction never committed: nothing to undo
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	side, err := tableDefinition(ctx, conn.Conn(), m.stats.Side)
	conn.Release()
	if err != nil {
		return fmt.Errorf("the merge's copy %s: %w", m.stats.Side, err)
	}
	var on []string
	for _, k := range side.key {
		q := pgx.Identifier{k}.Sanitize()
		on = append(on, "p."+q+" = k."+q)
	}
	same := fmt.Sprintf("ROW(%s) IS NOT DISTINCT FROM ROW(%s)", strings.Join(prefixed("p", side.cols), ", "), strings.Join(prefixed("k", side.cols), ", "))
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var kept int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+m.keys).Scan(&kept); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s p USING %s k WHERE %s AND %s", m.stats.Table, m.keys, strings.Join(on, " AND "), same))
		if err != nil {
			return fmt.Errorf("delete the merged rows: %s", d.redact(err.Error()))
		}
		if left := kept - tag.RowsAffected(); left > 0 {
			d.en.warn("%d merged rows of %s were changed or deleted since the merge and are left as they are now", left, m.stats.Table)
		}
		if _, err := tx.Exec(ctx, "DROP TABLE "+m.keys); err != nil {
			return err
		}
		d.en.note("deleted the %d merged rows from %s", tag.RowsAffected(), m.stats.Table)
		return nil
	})
}

// buildTable plans a table restore: recover, copy, verify; nothing of
// production is replaced and no writer stops.
func (e *Engine) buildTable(ctx context.Context, en *env) error {
	tr, err := newTableRestore(ctx, en)
	if err != nil {
		return err
	}
	en.table = tr
	for _, t := range tr.tables {
		en.plan.Copies = append(en.plan.Copies, t.name)
	}
	planTables(en, tr.d, tr, tr.steps())
	return nil
}

// buildMerge plans a merge: one step, undone by the keys it inserted.
func (e *Engine) buildMerge(ctx context.Context, en *env) error {
	m, err := newMerge(ctx, en)
	if err != nil {
		return err
	}
	planTables(en, m.d, m, m.steps())
	return nil
}

// planTables fills a table restore's or a merge's plan: its database (the
// journal's), its preflight, the confirmation (the first table's name).
func planTables(en *env, d *dbRestore, c component, steps []*Step) {
	plan := en.plan
	en.db = d
	en.components = append(en.components, c)
	plan.Target.Database, plan.Target.Postgres = d.target, d.server
	_, plan.Confirm = splitTable(plan.Options.Tables[0])
	plan.Steps = append([]*Step{en.preflightStep()}, steps...)
}
