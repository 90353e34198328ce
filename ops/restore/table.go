package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	if opts.Into != "" && (len(opts.Tables) > 1 || opts.WithDependents) {
		return nil, &ConfigError{errors.New("--into names one table's copy: restore one table at a time with it, or let the copies take their default names (<table>_at_<time>)")}
	}
	d, err := newDBRestore(ctx, en)
	if err != nil {
		return nil, err
	}
	tr := &tableRestore{d: d}
	tables := opts.Tables
	if opts.WithDependents {
		deps, err := d.dependents(ctx, tables)
		if err != nil {
			return nil, err
		}
		tables = append(slices.Clone(tables), deps...)
	}
	for _, t := range tables {
		if err := tr.add(t, opts.Into, *opts.PointInTime); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// add adds a table (schema.table or table) and its copy: into, else
// <table>_at_<time> in the table's schema.
func (tr *tableRestore) add(t, into string, at pitr.Target) error {
	schema, name := splitTable(t)
	side := into
	if side == "" {
		side = sideName(name, at, tr.d.en.eng.now())
	}
	sideSchema, sideTbl := splitTable(side)
	if !strings.Contains(side, ".") {
		sideSchema = schema
	}
	st := sideTable{
		Table: pgx.Identifier{schema, name}.Sanitize(),
		Side:  pgx.Identifier{sideSchema, sideTbl}.Sanitize(),
		name:  sideSchema + "." + sideTbl,
	}
	for _, o := range tr.tables {
		if o.Table == st.Table || o.Side == st.Side {
			return &ConfigError{fmt.Errorf("%s is named twice: name each table once", t)}
		}
	}
	tr.tables = append(tr.tables, st)
	return nil
}

// dependents lists the tables (schema.name) that reference tables by
// foreign key, transitively, from the live database's catalog (a table
// dropped since is not found), tables themselves left out.
func (d *dbRestore) dependents(ctx context.Context, tables []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.ddlTimeout())
	defer cancel()
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return nil, fmt.Errorf("--with-dependents reads the foreign keys of the live database: %w", err)
	}
	defer pool.Close()
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = qualified(t)
	}
	rows, err := pool.Query(ctx, `
		WITH RECURSIVE dep(oid) AS (
			SELECT to_regclass(n)::oid FROM unnest($1::text[]) n
			UNION
			SELECT c.conrelid FROM pg_constraint c JOIN dep ON c.confrelid = dep.oid
			WHERE c.contype = 'f' AND c.conparentid = 0
		)
		SELECT ns.nspname || '.' || r.relname FROM dep
		JOIN pg_class r ON r.oid = dep.oid JOIN pg_namespace ns ON ns.oid = r.relnamespace
		WHERE dep.oid <> ALL (SELECT to_regclass(n)::oid FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL)
		ORDER BY 1`, names)
	if err != nil {
		return nil, fmt.Errorf("read the tables that reference %s: %s", strings.Join(names, ", "), d.redact(err.Error()))
	}
	deps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the tables that reference %s: %s", strings.Join(names, ", "), d.redact(err.Error()))
	}
	return deps, nil
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
func tableDefinition(ctx context.Context, conn postgres.Querier, table string) (tableDef, error) {
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
		en.plan.Copied = append(en.plan.Copied, unquoted(t.Table))
	}
	planTables(en, tr.d, tr, tr.steps())
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

// unquoted is a quoted schema.name as schema.name.
func unquoted(q string) string {
	return strings.ReplaceAll(q, `"`, "")
}
