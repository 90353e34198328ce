package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/postgres"
)

func TestTakeSample(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	pool := connect(t, server.DSN())
	before, err := postgres.TakeSample(ctx, pool)
	if err != nil {
		t.Fatalf("TakeSample: %v", err)
	}
	if before.Connections.Max != 100 || before.Connections.Available() != 97 || before.Connections.Active < 1 {
		t.Errorf("connections = %+v", before.Connections)
	}
	if before.InRecovery || before.Replicas != 0 || before.ReplicationLag != 0 {
		t.Errorf("a lone primary: recovery %v replicas %d lag %v", before.InRecovery, before.Replicas, before.ReplicationLag)
	}

	// Three more sessions, one of them idle in a transaction.
	var conns []*pgx.Conn
	for range 3 {
		c, err := pgx.Connect(ctx, server.DSN())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	tx, err := conns[0].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM stocks"); err != nil {
		t.Fatal(err)
	}
	// The inserts run on a session that then ends: a backend flushes its
	// statistics when it exits (an idle one only every few seconds).
	writer, err := pgx.Connect(ctx, server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := writer.Exec(ctx, "INSERT INTO data_quality_checks (check_name, table_name, run_at, rows_checked, rows_failed, score) VALUES ($1, 't', now(), 1, 0, 100)", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	writer.Close(ctx)
	var after postgres.Sample
	for deadline := time.Now().Add(5 * time.Second); ; {
		after, err = postgres.TakeSample(ctx, pool)
		if err != nil {
			t.Fatalf("TakeSample: %v", err)
		}
		settled := after.Connections.Total-before.Connections.Total == 3 && after.Tuples.Inserted-before.Tuples.Inserted >= 20
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := after.Connections.Total - before.Connections.Total; got != 3 {
		t.Errorf("connections grew by %d, want the 3 opened (before %+v, after %+v)", got, before.Connections, after.Connections)
	}
	if after.Connections.IdleInTransaction < 1 {
		t.Errorf("idle in transaction = %d, want the open transaction", after.Connections.IdleInTransaction)
	}
	if after.LongestTransaction <= 0 {
		t.Errorf("LongestTransaction = %v, want the open transaction's age", after.LongestTransaction)
	}
	if d := after.Activity.Transactions() - before.Activity.Transactions(); d < 20 {
		t.Errorf("transactions grew by %d, want at least the 20 inserts", d)
	}
	if d := after.Tuples.Inserted - before.Tuples.Inserted; d < 20 {
		t.Errorf("inserted tuples grew by %d, want at least 20", d)
	}
	if after.Tuples.Total() <= before.Tuples.Total() {
		t.Errorf("tuples total did not grow: %d -> %d", before.Tuples.Total(), after.Tuples.Total())
	}
	_ = tx.Rollback(ctx)

	size, err := postgres.DatabaseSize(ctx, pool)
	if err != nil || size < 1<<20 {
		t.Errorf("DatabaseSize = %d, %v", size, err)
	}
}

func TestQueryValue(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.DSN())
	tests := []struct {
		name    string
		sql     string
		want    float64
		wantNaN bool
		wantErr string
	}{
		{"integer", "SELECT count(*) FROM stocks", 25, false, ""},
		{"numeric", "SELECT 99.25::numeric", 99.25, false, ""},
		{"float", "SELECT 0.5::float8", 0.5, false, ""},
		{"null", "SELECT NULL::numeric", 0, true, ""},
		{"no row", "SELECT 1 WHERE false", 0, false, "one row with one number"},
		{"text", "SELECT 'x'", 0, false, "one row with one number"},
		{"write refused", "DELETE FROM stocks RETURNING 1", 0, false, "read-only transaction"},
		{"syntax", "SELEC 1", 0, false, "syntax error"},
		{"too slow", "SELECT pg_sleep(3)::text::int", 0, false, "ran longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			got, err := postgres.QueryValue(ctx, pool, tt.sql)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("QueryValue(%q) = %v, %v; want error %q", tt.sql, got, err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "one row") && !errors.Is(err, postgres.ErrNotANumber) {
					t.Errorf("error %v is not ErrNotANumber", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("QueryValue(%q): %v", tt.sql, err)
			}
			if tt.wantNaN != math.IsNaN(got) || (!tt.wantNaN && got != tt.want) {
				t.Errorf("QueryValue(%q) = %v, want %v (NaN %v)", tt.sql, got, tt.want, tt.wantNaN)
			}
		})
	}
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM stocks").Scan(&n); err != nil || n != 25 {
		t.Errorf("stocks after the refused delete: %d, %v", n, err)
	}
}

func TestSampleUnreachable(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.DSN())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := postgres.TakeSample(ctx, pool); err == nil {
		t.Fatal("TakeSample on a canceled context succeeded")
	}
}
