package restore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/pitr"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// mergeCopies makes copies of stocks and prices as a table restore makes
// them (columns and key, no foreign keys), then damages the live tables:
// stocks 1 and 2 deleted with their prices, the symbols of 3 and 4 and
// one price of 3 changed.
func (f *dbFixture) mergeCopies() {
	f.exec(`CREATE TABLE stocks_copy (id int PRIMARY KEY, symbol text NOT NULL);
INSERT INTO stocks_copy SELECT id, symbol FROM stocks;
CREATE TABLE prices_copy (id bigint PRIMARY KEY, stock_id int, day date, close numeric(12,2));
INSERT INTO prices_copy SELECT id, stock_id, day, close FROM prices WHERE stock_id <= 5;
DELETE FROM prices WHERE stock_id IN (1, 2);
DELETE FROM stocks WHERE id IN (1, 2);
UPDATE stocks SET symbol = symbol || '.X' WHERE id IN (3, 4);
UPDATE prices SET close = 0 WHERE id = (SELECT min(id) FROM prices WHERE stock_id = 3);`)
}

// mergeCopiesOptions merges the copies mergeCopies makes, children named
// first, overwriting the changed rows.
var mergeCopiesOptions = oprestore.Options{Kind: oprestore.Merge, Tables: []string{"prices", "stocks"}, From: []string{"prices_copy", "stocks_copy"}, Overwrite: true}

// stocksPrint is the live stocks and prices of stocks 1 to 5.
const stocksPrint = `SELECT (SELECT string_agg(id || '=' || symbol, ',' ORDER BY id) FROM stocks WHERE id <= 5)
	|| '/' || (SELECT count(*) || ':' || sum(hashtext(p::text)::bigint) FROM prices p WHERE stock_id <= 5)`

// A merge of several tables goes parents first in one transaction; with
// Overwrite the changed rows take the copies' values only after the
// second confirmation, never more rows than it confirmed, and the undo
// puts their live values back except for the rows changed since, which it
// names.
func TestMergeOverwritesAfterASecondConfirmation(t *testing.T) {
	f := newDBFixture(t)
	f.mergeCopies()
	ctx := accesstest.Admin(context.Background())
	var damaged, want string
	f.query(stocksPrint, &damaged)
	f.query(strings.NewReplacer("FROM stocks", "FROM stocks_copy", "FROM prices p", "FROM prices_copy p").Replace(stocksPrint), &want)
	// Children named first: the merge orders them.
	opts := mergeCopiesOptions

	e := f.engine()
	plan := f.prepare(e, opts)
	if len(plan.Merges) != 2 || plan.Merges[0].Table != `"public"."stocks"` || plan.Merges[1].Table != `"public"."prices"` {
		t.Fatalf("merge order %+v", plan.Merges)
	}
	st := plan.Merges[0]
	if st.Missing != 2 || st.Changed != 2 || len(st.Preview) != 2 || st.Preview[0].Key != "3" ||
		len(st.Preview[0].Columns) != 1 || *st.Preview[0].Columns[0].Live != "S3.X" || *st.Preview[0].Columns[0].Copy != "S3" {
		t.Fatalf("stocks %+v", st)
	}
	if plan.ConfirmOverwrite != "overwrite 3 rows" {
		t.Fatalf("second confirmation %q", plan.ConfirmOverwrite)
	}
	if rep, err := e.Run(ctx, plan, nil); err == nil || rep != nil || !strings.Contains(err.Error(), "overwrite 3 rows") {
		t.Fatalf("a run without the second confirmation: %v %+v", err, rep)
	}
	if err := plan.AcknowledgeOverwrite("overwrite 2 rows"); err == nil {
		t.Fatal("a wrong second confirmation was taken")
	}
	f.assertPrint(damaged)

	// A row that changes after the plan is more than was confirmed.
	late := f.prepare(e, opts)
	if err := late.AcknowledgeOverwrite(late.ConfirmOverwrite); err != nil {
		t.Fatal(err)
	}
	f.exec("UPDATE stocks SET symbol = 'LATE' WHERE id = 5")
	if _, err := e.Run(ctx, late, nil); err == nil || !strings.Contains(err.Error(), "more than the 2 the plan showed") {
		t.Fatalf("an overwrite of more rows than confirmed: %v", err)
	}
	f.exec("UPDATE stocks SET symbol = 'S5' WHERE id = 5")
	f.assertPrint(damaged)

	// A failed merge is undone; a row the application changed in between
	// is left and named.
	failing := f.engine()
	oprestore.SetHook(failing, "after:table.merge", func() error {
		f.exec("UPDATE stocks SET symbol = 'APP' WHERE id = 4")
		return errors.New("injected")
	})
	plan = f.prepare(failing, opts)
	if err := plan.AcknowledgeOverwrite("overwrite 3 rows"); err != nil {
		t.Fatal(err)
	}
	rep, err := failing.Run(ctx, plan, nil)
	if err == nil || !rep.Undone {
		t.Fatalf("a failed merge: %v %+v", err, rep)
	}
	notes := strings.Join(rep.Steps[1].Notes, "\n")
	if !strings.Contains(notes, "1 overwritten rows of \"public\".\"stocks\" were changed or deleted since the merge and are left as they are now (key (4))") {
		t.Fatalf("the undo's notes do not name the row changed since:\n%s", notes)
	}
	f.assertPrint(strings.Replace(damaged, "4=S4.X", "4=APP", 1))
	f.exec("UPDATE stocks SET symbol = 'S4.X' WHERE id = 4")

	plan = f.prepare(e, opts)
	if err := plan.AcknowledgeOverwrite("overwrite 3 rows"); err != nil {
		t.Fatal(err)
	}
	rep, err = e.Run(ctx, plan, nil)
	if err != nil {
		t.Fatalf("merge: %v %+v", err, rep)
	}
	f.assertPrint(want)
	if md, err := os.ReadFile(rep.Path); err != nil || !strings.Contains(string(md), "| \"public\".\"stocks\" | \"public\".\"stocks_copy\" | id | 2 | 2 |") ||
		!strings.Contains(string(md), "2 rows of \"public\".\"stocks\" overwritten") {
		t.Errorf("report: %v\n%s", err, md)
	}
	for _, c := range [][2]string{{"stocks", "stocks_copy"}, {"prices", "prices_copy"}} {
		if st, err := e.Compare(ctx, c[0], c[1]); err != nil || st.Missing != 0 || st.Changed != 0 {
			t.Errorf("after the merge %s: %+v %v", c[0], st, err)
		}
	}
	if n := f.count("stocks_copy_overwritten"); n != 2 {
		t.Errorf("%d rows kept in stocks_copy_overwritten, want 2", n)
	}
}

func (f *dbFixture) assertPrint(want string) {
	f.t.Helper()
	var got string
	f.query(stocksPrint, &got)
	if got != want {
		f.t.Fatalf("stocks and prices are %s, want %s", got, want)
	}
}

// Tables that reference each other are refused, and so is a table
// without a key (its copy can be compared by hand, not merged); without
// Overwrite the changed rows are left and no second confirmation asked.
func TestMergeRefusesACycleAndATableWithoutKey(t *testing.T) {
	f := newDBFixture(t)
	f.exec(`CREATE TABLE a (id int PRIMARY KEY, b_id int);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a);
ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
CREATE TABLE a_copy (id int PRIMARY KEY, b_id int);
CREATE TABLE b_copy (id int PRIMARY KEY, a_id int);
CREATE TABLE nokey (x int);
CREATE TABLE nokey_copy (x int);`)
	f.mergeCopies()
	e := f.engine()
	for _, tc := range []struct {
		tables, from []string
		want         string
	}{
		{[]string{"a", "b"}, []string{"a_copy", "b_copy"}, `"public"."a", "public"."b" reference each other by foreign keys (a cycle)`},
		{[]string{"nokey"}, []string{"nokey_copy"}, "has no primary key or unique key on NOT NULL columns"},
	} {
		plan, err := e.Prepare(accesstest.Admin(context.Background()), oprestore.Options{Kind: oprestore.Merge, Tables: tc.tables, From: tc.from, Overwrite: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Blocked(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.tables, err, tc.want)
		}
	}
	if _, err := e.Prepare(accesstest.Admin(context.Background()), oprestore.Options{Kind: oprestore.Merge, Tables: []string{"stocks", "prices"}, From: []string{"stocks_copy"}}, nil); err == nil || !strings.Contains(err.Error(), "2 tables, 1 copies") {
		t.Errorf("tables without copies: %v", err)
	}
	plan := f.prepare(e, oprestore.Options{Kind: oprestore.Merge, Tables: []string{"stocks"}, From: []string{"stocks_copy"}})
	if plan.ConfirmOverwrite != "" || plan.Merges[0].Changed != 2 {
		t.Fatalf("a merge without overwrite: %q %+v", plan.ConfirmOverwrite, plan.Merges)
	}
	if _, err := e.Run(accesstest.Admin(context.Background()), plan, nil); err != nil {
		t.Fatal(err)
	}
	var symbols string
	f.query("SELECT string_agg(symbol, ',' ORDER BY id) FROM stocks WHERE id <= 4", &symbols)
	if symbols != "S1,S2,S3.X,S4.X" {
		t.Errorf("stocks after a merge without overwrite: %s", symbols)
	}
}

// A table restore with its dependents copies the tables that reference
// it; the merge of them all gives back a parent deleted with its
// children.
func TestTableRestoreWithDependents(t *testing.T) {
	f := newDBFixture(t)
	s := f.archiving()
	var before string
	f.query(stocksPrint, &before)
	xid := f.txid("DELETE FROM prices WHERE stock_id IN (1, 2); DELETE FROM stocks WHERE id IN (1, 2)")
	f.archived(s)
	ctx := accesstest.Admin(context.Background())

	e := f.engine()
	plan := f.prepare(e, oprestore.Options{Kind: oprestore.Table, Tables: []string{"stocks"}, WithDependents: true, PointInTime: &pitr.Target{XID: xid, Exclusive: true}})
	if len(plan.Copied) != 2 || plan.Copied[0] != "public.stocks" || plan.Copied[1] != "public.prices" || !strings.HasPrefix(plan.Copies[1], "public.prices_at_") {
		t.Fatalf("copied %v into %v", plan.Copied, plan.Copies)
	}
	if _, err := e.Run(ctx, plan, nil); err != nil {
		t.Fatalf("table restore: %v", err)
	}
	// Children first on purpose: the merge orders them.
	merge := oprestore.Options{Kind: oprestore.Merge, Tables: []string{plan.Copied[1], plan.Copied[0]}, From: []string{plan.Copies[1], plan.Copies[0]}}
	mp := f.prepare(e, merge)
	if mp.Merges[0].Missing != 2 || mp.Merges[1].Missing != 800 {
		t.Fatalf("merge plan %+v", mp.Merges)
	}
	if _, err := e.Run(ctx, mp, nil); err != nil {
		t.Fatalf("merge: %v", err)
	}
	f.assertPrint(before)
}
