package restore

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/postgres"
)

// TableTimeout bounds the row work of table copies and merges: a
// comparison of a copy with its table, a merge's transaction and its
// undo.
var TableTimeout = 30 * time.Minute

// Bounds of a merge's preview of changed rows.
const (
	previewRows    = 5
	previewColumns = 8
	previewWidth   = 40
)

// MergeStats compares a side table with the live one on its key.
type MergeStats struct {
	Table string   `json:"table"` // quoted schema.name
	Side  string   `json:"copy"`  // quoted schema.name
	Key   []string `json:"key"`
	// Missing are the side table's rows whose key the live table lacks;
	// Changed those whose key it has with other values.
	Missing int64 `json:"missing"`
	Changed int64 `json:"changed"`
	// Preview shows a few of the changed rows (at most 5, by key).
	Preview []ChangedRow `json:"preview,omitempty"`
}

// ChangedRow is a row the live table and its copy both have with other
// values: its key and the columns that differ.
type ChangedRow struct {
	// Key is the key's values, as text ("42" or "7, 2026-12-07").
	Key     string         `json:"key"`
	Columns []ColumnChange `json:"columns"`
	// More counts the differing columns left out (beyond 8).
	More int `json:"more,omitempty"`
}

// ColumnChange is one differing column: the live value and the copy's,
// as text cut to 40 characters (nil for a null).
type ColumnChange struct {
	Name string  `json:"name"`
	Live *string `json:"live"`
	Copy *string `json:"copy"`
}

// Compare counts what a merge of side into table would insert and what
// differs (with a preview of the changed rows), on production's
// database.
func (e *Engine) Compare(ctx context.Context, table, side string) (MergeStats, error) {
	ctx, cancel := context.WithTimeout(ctx, TableTimeout)
	defer cancel()
	pool, err := postgres.Connect(ctx, e.cfg().Postgres.DSN, e.cfg().Timeouts.Connect)
	if err != nil {
		return MergeStats{}, err
	}
	defer pool.Close()
	st, _, err := compare(ctx, pool, qualified(table), qualified(side))
	return st, err
}

// compare counts side's rows against table's (both quoted), previews the
// changed ones, and returns side's definition, which a merge goes by.
func compare(ctx context.Context, q postgres.Querier, table, side string) (MergeStats, tableDef, error) {
	st := MergeStats{Table: table, Side: side}
	def, err := tableDefinition(ctx, q, side)
	if err != nil {
		return st, def, err
	}
	if len(def.key) == 0 {
		return st, def, fmt.Errorf("%s has no primary key or unique key on NOT NULL columns: compare it with %s by hand; a merge needs a key", side, table)
	}
	st.Key = def.key
	on := joinOn("p", "s", def.key)
	absent := "p." + pgx.Identifier{def.key[0]}.Sanitize() + " IS NULL" // a key column is never NULL
	err = q.QueryRow(ctx, fmt.Sprintf(`SELECT
		count(*) FILTER (WHERE %s),
		count(*) FILTER (WHERE NOT %s AND %s)
		FROM %s s LEFT JOIN %s p ON %s`, absent, absent, differs(def.cols), side, table, on)).Scan(&st.Missing, &st.Changed)
	if err != nil {
		return st, def, fmt.Errorf("compare %s with %s: %w", side, table, err)
	}
	if st.Changed > 0 {
		if st.Preview, err = previewChanged(ctx, q, table, side, def); err != nil {
			return st, def, err
		}
	}
	return st, def, nil
}

// differs is true where the live row p and the copy's s differ.
func differs(cols []string) string {
	return fmt.Sprintf("ROW(%s) IS DISTINCT FROM ROW(%s)", strings.Join(prefixed("p", cols), ", "), strings.Join(prefixed("s", cols), ", "))
}

// previewChanged reads the first changed rows by key: the columns that
// differ, live and copy values as text.
func previewChanged(ctx context.Context, q postgres.Querier, table, side string, def tableDef) ([]ChangedRow, error) {
	var distinct, live, cp []string
	for _, c := range def.cols {
		qc := pgx.Identifier{c}.Sanitize()
		distinct = append(distinct, "p."+qc+" IS DISTINCT FROM s."+qc)
		live = append(live, "p."+qc+"::text")
		cp = append(cp, "s."+qc+"::text")
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT %s, ARRAY[%s], ARRAY[%s]::text[], ARRAY[%s]::text[]
		FROM %s s JOIN %s p ON %s WHERE %s ORDER BY %s LIMIT %d`,
		keyText("s", def.key), strings.Join(distinct, ", "), strings.Join(live, ", "), strings.Join(cp, ", "),
		side, table, joinOn("p", "s", def.key), differs(def.cols), strings.Join(prefixed("s", def.key), ", "), previewRows))
	if err != nil {
		return nil, fmt.Errorf("preview the changed rows of %s: %w", table, err)
	}
	var out []ChangedRow
	for rows.Next() {
		var r ChangedRow
		var diff []bool
		var lv, cv []*string
		if err := rows.Scan(&r.Key, &diff, &lv, &cv); err != nil {
			rows.Close()
			return nil, fmt.Errorf("preview the changed rows of %s: %w", table, err)
		}
		for i, d := range diff {
			switch {
			case !d:
			case len(r.Columns) == previewColumns:
				r.More++
			default:
				r.Columns = append(r.Columns, ColumnChange{Name: def.cols[i], Live: shown(lv[i]), Copy: shown(cv[i])})
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("preview the changed rows of %s: %w", table, err)
	}
	return out, nil
}

// keyText is the key's values of alias's row as one text ("7, 2026-12-07").
func keyText(alias string, key []string) string {
	var parts []string
	for _, k := range key {
		parts = append(parts, alias+"."+pgx.Identifier{k}.Sanitize()+"::text")
	}
	return "concat_ws(', ', " + strings.Join(parts, ", ") + ")"
}

// shown is a value of the preview: nil for NULL, else the text cut to
// previewWidth.
func shown(v *string) *string {
	if v == nil {
		return nil
	}
	s := strings.ToValidUTF8(*v, "?")
	if utf8.RuneCountInString(s) > previewWidth {
		s = string([]rune(s)[:previewWidth-1]) + "…"
	}
	return &s
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

// joinOn is the join condition of the rows a and b on key.
func joinOn(a, b string, key []string) string {
	var on []string
	for _, k := range key {
		q := pgx.Identifier{k}.Sanitize()
		on = append(on, a+"."+q+" = "+b+"."+q)
	}
	return strings.Join(on, " AND ")
}
