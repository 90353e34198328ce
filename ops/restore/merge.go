package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/health"
)

// A merge restore puts copies' rows back into their live tables in one
// transaction, parents before children: the rows whose key a live table
// lacks are inserted and kept in a table of their own (<copy>_merged);
// with Options.Overwrite the live rows whose key the copy has with other
// values take the copy's values, their live values kept in
// <copy>_overwritten. The undo, children first, puts back the live
// values of the rows still as the merge left them and deletes the
// inserted rows still as they were inserted; rows the application
// changed since are left and named.

// merge is a merge restore.
type merge struct {
	d *dbRestore
	// tables are in the order of Options.Tables.
	tables    []*mergeTable
	overwrite bool
	// planned is set once Prepare's preflight fixed what the plan
	// confirms (the rows it may overwrite).
	planned bool
}

// mergeTable is one table of a merge.
type mergeTable struct {
	stats MergeStats
	// def is the copy's: its columns and key (the preflight's).
	def tableDef
	// merged keeps the rows inserted, overwritten the live rows as they
	// were before they were overwritten (quoted, beside the copy).
	merged, overwritten string
	// confirmed is how many changed rows the plan asked to overwrite.
	confirmed int64
}

func newMerge(en *env) (*merge, error) {
	opts := en.plan.Options
	if len(opts.Tables) == 0 || len(opts.From) != len(opts.Tables) {
		return nil, &ConfigError{fmt.Errorf("name each table with its copy, in the same order (%d tables, %d copies): opsdeck restore merge TABLE... --from COPY, once per table", len(opts.Tables), len(opts.From))}
	}
	d, err := productionDB(en)
	if err != nil {
		return nil, err
	}
	m := &merge{d: d, overwrite: opts.Overwrite}
	var seen []string
	for i, t := range opts.Tables {
		mt := &mergeTable{stats: MergeStats{Table: qualified(t), Side: qualified(opts.From[i])}}
		for _, n := range []string{mt.stats.Table, mt.stats.Side} {
			if slices.Contains(seen, n) {
				return nil, &ConfigError{fmt.Errorf("%s is named twice: name each table and each copy once", n)}
			}
			seen = append(seen, n)
		}
		schema, side := splitTable(opts.From[i])
		mt.merged = pgx.Identifier{schema, truncateIdent(side + "_merged")}.Sanitize()
		mt.overwritten = pgx.Identifier{schema, truncateIdent(side + "_overwritten")}.Sanitize()
		m.tables = append(m.tables, mt)
	}
	return m, nil
}

// productionDB is postgres.dsn's database, which a merge changes.
func productionDB(en *env) (*dbRestore, error) {
	d := &dbRestore{en: en, dsn: en.cfg().Postgres.DSN}
	pc, err := pgx.ParseConfig(d.dsn)
	if err != nil {
		return nil, &ConfigError{errors.New("postgres.dsn does not parse — fix it (see opsdeck config validate)")}
	}
	d.target, d.production = pc.Database, true
	d.server = fmt.Sprintf("%s:%d", pc.Host, pc.Port)
	return d, nil
}

// names lists the tables' (live) or copies' names.
func (m *merge) names(copies bool) string {
	var out []string
	for _, t := range m.tables {
		if copies {
			out = append(out, t.stats.Side)
		} else {
			out = append(out, t.stats.Table)
		}
	}
	return strings.Join(out, ", ")
}

// preflight compares each copy with its table, checks that the tables
// the merge keeps are free and orders the tables; Prepare's fixes the
// second confirmation of an overwrite.
func (m *merge) preflight(ctx context.Context) {
	d := m.d
	chk := func(name string, st health.Status, format string, args ...any) {
		d.en.check("table", name, st, fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(ctx, TableTimeout)
	defer cancel()
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		chk("reachable", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	defer pool.Close()
	ok := true
	for _, mt := range m.tables {
		ok = m.checkTable(ctx, pool, mt, chk) && ok
	}
	if !ok {
		return
	}
	order, err := mergeOrder(ctx, pool, m.tables)
	if err != nil {
		chk("order", health.Crit, "%s", d.redact(err.Error()))
		return
	}
	d.en.plan.Merges = d.en.plan.Merges[:0]
	var names []string
	for _, mt := range order {
		d.en.plan.Merges = append(d.en.plan.Merges, mt.stats)
		names = append(names, mt.stats.Table)
	}
	if len(order) > 1 {
		chk("order", health.OK, "parents before children (foreign keys): %s; the undo goes the other way", strings.Join(names, ", "))
	}
	m.plan(chk)
}

// checkTable compares one copy with its table; false when it cannot be
// merged.
func (m *merge) checkTable(ctx context.Context, pool *pgxpool.Pool, mt *mergeTable, chk func(string, health.Status, string, ...any)) bool {
	d := m.d
	st, def, err := compare(ctx, pool, mt.stats.Table, mt.stats.Side)
	if err != nil {
		chk("compare", health.Crit, "%s", d.redact(err.Error()))
		return false
	}
	mt.stats, mt.def = st, def
	kept := []string{mt.merged}
	if m.overwrite {
		kept = append(kept, mt.overwritten)
	}
	free := true
	for _, k := range kept {
		var taken bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", k).Scan(&taken); err != nil {
			chk("kept rows", health.Crit, "%s", d.redact(err.Error()))
			return false
		}
		if taken {
			chk("kept rows", health.Crit, "%s exists (an earlier merge's record): drop it once you are sure that merge stays", k)
			free = false
		}
	}
	chk("missing", health.OK, "%d rows of %s are not in %s (by key %s): they are inserted", st.Missing, st.Side, st.Table, strings.Join(st.Key, ", "))
	switch {
	case st.Changed == 0:
	case m.overwrite:
		chk("changed", health.Warn, "%d rows of %s have the same key with other values: they are overwritten with the copy's (their live values kept in %s)", st.Changed, st.Table, mt.overwritten)
	default:
		chk("changed", health.Warn, "%d rows of %s have the same key with other values: they are left as they are (--overwrite replaces them, after a second confirmation)", st.Changed, st.Table)
	}
	return free
}

// plan fixes, once, how many changed rows the run may overwrite and the
// second confirmation that allows it.
func (m *merge) plan(chk func(string, health.Status, string, ...any)) {
	if m.planned || !m.overwrite {
		return
	}
	m.planned = true
	var total int64
	for _, mt := range m.tables {
		mt.confirmed = mt.stats.Changed
		total += mt.confirmed
	}
	if total == 0 {
		chk("overwrite", health.OK, "no row differs: nothing to overwrite")
		return
	}
	m.d.en.plan.ConfirmOverwrite = fmt.Sprintf("overwrite %d rows", total)
}

func (m *merge) steps() []*Step {
	title := fmt.Sprintf("Insert the rows of %s that %s lack, in one transaction, parents before children (the rows inserted kept in <copy>_merged)", m.names(true), m.names(false))
	undo := "Delete the inserted rows still as they were inserted, children first"
	if m.overwrite {
		title = fmt.Sprintf("Insert the rows of %s that %s lack and overwrite the rows that differ with the copy's values, in one transaction, parents before children (the rows inserted kept in <copy>_merged, the overwritten rows' live values in <copy>_overwritten)", m.names(true), m.names(false))
		undo = "Put the overwritten rows' live values back and delete the inserted rows, those still as the merge left them, children first"
	}
	return []*Step{{
		Name: "table.merge", Component: "table",
		Title: title, Undo: undo,
		do:          m.do,
		undo:        m.undo,
		undoTimeout: TableTimeout,
	}}
}

// do merges every table in one transaction.
func (m *merge) do(ctx context.Context) error {
	d := m.d
	ctx, cancel := context.WithTimeout(ctx, TableTimeout)
	defer cancel()
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return err
	}
	defer pool.Close()
	var done []string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		done = done[:0]
		order, err := mergeOrder(ctx, tx, m.tables)
		if err != nil {
			return err
		}
		for _, mt := range order {
			if len(mt.def.key) == 0 {
				return fmt.Errorf("%s was not compared with %s: run the merge again", mt.stats.Side, mt.stats.Table)
			}
			n, err := insertMissing(ctx, tx, mt)
			if err != nil {
				return err
			}
			done = append(done, fmt.Sprintf("%d rows inserted into %s; they are kept in %s (drop it once the merge stays)", n, mt.stats.Table, mt.merged))
			if !m.overwrite {
				continue
			}
			if n, err = overwriteChanged(ctx, tx, mt); err != nil {
				return err
			}
			done = append(done, fmt.Sprintf("%d rows of %s overwritten with the values of %s; their live values are kept in %s (drop it once the merge stays)", n, mt.stats.Table, mt.stats.Side, mt.overwritten))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge into %s (nothing was changed: the transaction rolled back): %s", m.names(false), d.redact(err.Error()))
	}
	for _, s := range done {
		d.en.note("%s", s)
	}
	return nil
}

// insertMissing inserts the copy's rows whose key the table lacks and
// keeps them whole in mt.merged.
func insertMissing(ctx context.Context, tx pgx.Tx, mt *mergeTable) (int64, error) {
	cols := strings.Join(quoteAll(mt.def.cols), ", ")
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM %s WITH NO DATA", mt.merged, cols, mt.stats.Side)); err != nil {
		return 0, fmt.Errorf("create %s: %w", mt.merged, err)
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf(`WITH ins AS (
		INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s s WHERE NOT EXISTS (SELECT 1 FROM %s p WHERE %s)
		RETURNING %s)
		INSERT INTO %s SELECT * FROM ins`,
		mt.stats.Table, cols, strings.Join(prefixed("s", mt.def.cols), ", "), mt.stats.Side, mt.stats.Table, joinOn("p", "s", mt.def.key),
		cols, mt.merged))
	if err != nil {
		return 0, fmt.Errorf("insert the missing rows into %s: %w", mt.stats.Table, err)
	}
	return tag.RowsAffected(), nil
}

// overwriteChanged keeps the live values of the rows that differ from
// the copy in mt.overwritten (locking them), then gives them the copy's
// values. More rows than the plan confirmed are refused.
func overwriteChanged(ctx context.Context, tx pgx.Tx, mt *mergeTable) (int64, error) {
	cols := strings.Join(quoteAll(mt.def.cols), ", ")
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM %s WITH NO DATA", mt.overwritten, cols, mt.stats.Table)); err != nil {
		return 0, fmt.Errorf("create %s: %w", mt.overwritten, err)
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s p JOIN %s s ON %s WHERE %s FOR UPDATE OF p",
		mt.overwritten, strings.Join(prefixed("p", mt.def.cols), ", "), mt.stats.Table, mt.stats.Side, joinOn("p", "s", mt.def.key), differs(mt.def.cols)))
	if err != nil {
		return 0, fmt.Errorf("keep the live values of the changed rows of %s: %w", mt.stats.Table, err)
	}
	n := tag.RowsAffected()
	if n > mt.confirmed {
		return 0, fmt.Errorf("%d rows of %s differ from %s now, more than the %d the plan showed and you confirmed: run the merge again to see and confirm them", n, mt.stats.Table, mt.stats.Side, mt.confirmed)
	}
	set := setFrom("s", nonKey(mt.def))
	if n == 0 || set == "" {
		return n, nil
	}
	tag, err = tx.Exec(ctx, fmt.Sprintf("UPDATE %s p SET %s FROM %s s, %s o WHERE %s AND %s",
		mt.stats.Table, set, mt.stats.Side, mt.overwritten, joinOn("p", "s", mt.def.key), joinOn("o", "s", mt.def.key)))
	if err != nil {
		return 0, fmt.Errorf("overwrite the changed rows of %s: %w", mt.stats.Table, err)
	}
	return tag.RowsAffected(), nil
}

// nonKey lists def's columns outside its key.
func nonKey(def tableDef) []string {
	var out []string
	for _, c := range def.cols {
		if !slices.Contains(def.key, c) {
			out = append(out, c)
		}
	}
	return out
}

// setFrom is an UPDATE's SET list taking cols from alias's row.
func setFrom(alias string, cols []string) string {
	var parts []string
	for _, c := range cols {
		q := pgx.Identifier{c}.Sanitize()
		parts = append(parts, q+" = "+alias+"."+q)
	}
	return strings.Join(parts, ", ")
}

// undo reverts the merge in one transaction, children first: the
// overwritten rows get their live values back and the inserted rows go,
// each only while still as the merge left it.
func (m *merge) undo(ctx context.Context) error {
	d := m.d
	pool, err := d.connect(ctx, d.target)
	if err != nil {
		return err
	}
	defer pool.Close()
	var notes, warns []string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		notes, warns = notes[:0], warns[:0]
		order, err := mergeOrder(ctx, tx, m.tables)
		if err != nil {
			return err
		}
		for _, mt := range slices.Backward(order) {
			n, w, err := unmergeTable(ctx, tx, mt)
			if err != nil {
				return err
			}
			notes, warns = append(notes, n...), append(warns, w...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("undo the merge into %s (nothing was undone: the transaction rolled back): %s", m.names(false), d.redact(err.Error()))
	}
	for _, w := range warns {
		d.en.warn("%s", w)
	}
	for _, n := range notes {
		d.en.note("%s", n)
	}
	return nil
}

// unmergeTable undoes one table's part, when it committed (its kept
// tables exist): notes and warnings to show once the undo commits.
func unmergeTable(ctx context.Context, tx pgx.Tx, mt *mergeTable) (notes, warns []string, err error) {
	var merged, overwritten bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL", mt.merged, mt.overwritten).Scan(&merged, &overwritten); err != nil {
		return nil, nil, err
	}
	if !merged && !overwritten {
		return nil, nil, nil // the merge never committed: nothing to undo
	}
	def, err := tableDefinition(ctx, tx, mt.stats.Side)
	if err != nil {
		return nil, nil, fmt.Errorf("the merge's copy %s (its key and columns): %w", mt.stats.Side, err)
	}
	if len(def.key) == 0 {
		return nil, nil, fmt.Errorf("the merge's copy %s has lost its key: the undo matches rows by it — add it back", mt.stats.Side)
	}
	mt.def = def
	steps := []struct {
		kept bool
		fn   func(context.Context, pgx.Tx, *mergeTable) (string, string, error)
	}{{overwritten, putBack}, {merged, deleteInserted}}
	for _, s := range steps {
		if !s.kept {
			continue
		}
		note, warn, err := s.fn(ctx, tx, mt)
		if err != nil {
			return nil, nil, err
		}
		notes = append(notes, note)
		if warn != "" {
			warns = append(warns, warn)
		}
	}
	return notes, warns, nil
}

// putBack gives the overwritten rows still as the merge left them (the
// copy's values) their live values back, names those changed since, and
// drops mt.overwritten.
func putBack(ctx context.Context, tx pgx.Tx, mt *mergeTable) (note, warn string, err error) {
	def := mt.def
	asLeft := fmt.Sprintf("ROW(%s) IS NOT DISTINCT FROM ROW(%s)", strings.Join(prefixed("p", def.cols), ", "), strings.Join(prefixed("s", def.cols), ", "))
	left, keys, err := leftRows(ctx, tx, mt.overwritten, fmt.Sprintf(
		"SELECT %s FROM %s o JOIN %s s ON %s LEFT JOIN %s p ON %s WHERE p.%s IS NULL OR NOT (%s)",
		keyText("o", def.key), mt.overwritten, mt.stats.Side, joinOn("o", "s", def.key), mt.stats.Table, joinOn("p", "o", def.key),
		pgx.Identifier{def.key[0]}.Sanitize(), asLeft))
	if err != nil {
		return "", "", err
	}
	var n int64
	if set := setFrom("o", nonKey(def)); set != "" {
		tag, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s p SET %s FROM %s o, %s s WHERE %s AND %s AND %s",
			mt.stats.Table, set, mt.overwritten, mt.stats.Side, joinOn("p", "o", def.key), joinOn("s", "o", def.key), asLeft))
		if err != nil {
			return "", "", fmt.Errorf("put the overwritten rows of %s back: %w", mt.stats.Table, err)
		}
		n = tag.RowsAffected()
	}
	if _, err := tx.Exec(ctx, "DROP TABLE "+mt.overwritten); err != nil {
		return "", "", fmt.Errorf("drop %s: %w", mt.overwritten, err)
	}
	if left > 0 {
		warn = fmt.Sprintf("%d overwritten rows of %s were changed or deleted since the merge and are left as they are now (key %s): compare them with %s", left, mt.stats.Table, keys, mt.stats.Side)
	}
	return fmt.Sprintf("put the live values of %d overwritten rows of %s back", n, mt.stats.Table), warn, nil
}

// deleteInserted deletes the inserted rows still as they were inserted,
// names those changed since, and drops mt.merged.
func deleteInserted(ctx context.Context, tx pgx.Tx, mt *mergeTable) (note, warn string, err error) {
	def := mt.def
	same := fmt.Sprintf("ROW(%s) IS NOT DISTINCT FROM ROW(%s)", strings.Join(prefixed("p", def.cols), ", "), strings.Join(prefixed("k", def.cols), ", "))
	left, keys, err := leftRows(ctx, tx, mt.merged, fmt.Sprintf(
		"SELECT %s FROM %s k LEFT JOIN %s p ON %s WHERE p.%s IS NULL OR NOT (%s)",
		keyText("k", def.key), mt.merged, mt.stats.Table, joinOn("p", "k", def.key), pgx.Identifier{def.key[0]}.Sanitize(), same))
	if err != nil {
		return "", "", err
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s p USING %s k WHERE %s AND %s", mt.stats.Table, mt.merged, joinOn("p", "k", def.key), same))
	if err != nil {
		return "", "", fmt.Errorf("delete the merged rows of %s: %w", mt.stats.Table, err)
	}
	if _, err := tx.Exec(ctx, "DROP TABLE "+mt.merged); err != nil {
		return "", "", fmt.Errorf("drop %s: %w", mt.merged, err)
	}
	if left > 0 {
		warn = fmt.Sprintf("%d merged rows of %s were changed or deleted since the merge and are left as they are now (key %s)", left, mt.stats.Table, keys)
	}
	return fmt.Sprintf("deleted the %d merged rows from %s", tag.RowsAffected(), mt.stats.Table), warn, nil
}

// leftRows counts the rows the query (one text column, the key) returns
// and names the first ten.
func leftRows(ctx context.Context, tx pgx.Tx, kept, query string) (int64, string, error) {
	var n int64
	var keys []string
	err := tx.QueryRow(ctx, "SELECT count(*), coalesce((array_agg(k ORDER BY k))[1:10], '{}') FROM ("+query+") l(k)").Scan(&n, &keys)
	if err != nil {
		return 0, "", fmt.Errorf("compare the rows kept in %s with the live ones: %w", kept, err)
	}
	named := "(" + strings.Join(keys, "), (") + ")"
	if n > int64(len(keys)) {
		named += fmt.Sprintf(" and %d more", n-int64(len(keys)))
	}
	return n, named, nil
}

// buildMerge plans a merge: one step, undone by the rows it kept.
func (e *Engine) buildMerge(_ context.Context, en *env) error {
	m, err := newMerge(en)
	if err != nil {
		return err
	}
	planTables(en, m.d, m, m.steps())
	return nil
}
