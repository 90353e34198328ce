package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsdeck/opsdeck/ops/postgres"
)

// A merge of several tables inserts into the referenced tables (parents)
// before the tables whose foreign keys point at them (children), so that
// each row's references exist when it goes in; its undo deletes in the
// reverse order.

// referencedBy reads, for each of tables (quoted names), the indexes in
// tables of the tables its foreign keys reference (itself left out).
func referencedBy(ctx context.Context, q postgres.Querier, tables []string) ([][]int, error) {
	rows, err := q.Query(ctx, `
		SELECT t.ord::int - 1, coalesce(array_agg(DISTINCT p.ord::int - 1) FILTER (WHERE p.ord IS NOT NULL), '{}')
		FROM unnest($1::text[]) WITH ORDINALITY t(name, ord)
		LEFT JOIN pg_constraint c ON c.contype = 'f' AND c.conrelid = t.name::regclass AND c.confrelid <> c.conrelid
		LEFT JOIN unnest($1::text[]) WITH ORDINALITY p(name, ord) ON p.name::regclass = c.confrelid
		GROUP BY t.ord`, tables)
	if err != nil {
		return nil, fmt.Errorf("read the foreign keys between %s: %w", strings.Join(tables, ", "), err)
	}
	defer rows.Close()
	parents := make([][]int, len(tables))
	for rows.Next() {
		var i int
		var ps []int
		if err := rows.Scan(&i, &ps); err != nil {
			return nil, fmt.Errorf("read the foreign keys between %s: %w", strings.Join(tables, ", "), err)
		}
		if i >= 0 && i < len(parents) {
			parents[i] = ps
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the foreign keys between %s: %w", strings.Join(tables, ", "), err)
	}
	return parents, nil
}

// fkOrder orders n tables so that each comes after the tables it
// references (parents[i] are i's), keeping the given order where the
// keys leave it free. cyclic lists the tables that reference each other
// in a cycle (and those that need them); order then holds the others.
func fkOrder(n int, parents [][]int) (order, cyclic []int) {
	placed := make([]bool, n)
	ready := func(i int) bool {
		for _, p := range parents[i] {
			if p >= 0 && p < n && !placed[p] {
				return false
			}
		}
		return true
	}
	for len(order) < n {
		next := -1
		for i := 0; i < n && next < 0; i++ {
			if !placed[i] && ready(i) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		placed[next] = true
		order = append(order, next)
	}
	for i := range n {
		if !placed[i] {
			cyclic = append(cyclic, i)
		}
	}
	return order, cyclic
}

// mergeOrder orders a merge's tables parents first, or refuses a cycle.
func mergeOrder(ctx context.Context, q postgres.Querier, tables []*mergeTable) ([]*mergeTable, error) {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.stats.Table
	}
	parents, err := referencedBy(ctx, q, names)
	if err != nil {
		return nil, err
	}
	order, cyclic := fkOrder(len(tables), parents)
	if len(cyclic) > 0 {
		var in []string
		for _, i := range cyclic {
			in = append(in, names[i])
		}
		return nil, fmt.Errorf("%s reference each other by foreign keys (a cycle): one transaction cannot insert parents before children — merge them in separate runs (opsdeck restore merge TABLE --from COPY), the rows others need first", strings.Join(in, ", "))
	}
	out := make([]*mergeTable, len(order))
	for i, j := range order {
		out[i] = tables[j]
	}
	return out, nil
}
