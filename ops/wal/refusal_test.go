package wal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// runOnce runs a streamer that must end by itself (a refusal), within 30s.
func runOnce(t *testing.T, c *cluster) error {
	t.Helper()
	s := New(c.e)
	s.MinBackoff, s.MaxBackoff = 50*time.Millisecond, 100*time.Millisecond
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 30*time.Second)
	defer cancel()
	err := s.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the streamer kept retrying a refusal: %+v", s.State())
	}
	return err
}

func preflight(t *testing.T, c *cluster) error {
	t.Helper()
	s := New(c.e)
	_, ok, err := s.Preflight(context.Background())
	if !ok {
		t.Fatal("preflight could not read the server")
	}
	return err
}

func wantRefused(t *testing.T, what string, err error, fix string) {
	t.Helper()
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), fix) {
		t.Errorf("%s: %v, want a refusal naming %q", what, err, fix)
	}
}

func TestRefusalsNameTheFix(t *testing.T) {
	t.Run("wal_level minimal", func(t *testing.T) {
		c := startCluster(t, map[string]string{"wal_level": "minimal", "max_wal_senders": "0"})
		wantRefused(t, "preflight", preflight(t, c), "set wal_level = replica")
		wantRefused(t, "stream", runOnce(t, c), "max_wal_senders")
	})
	t.Run("role without REPLICATION", func(t *testing.T) {
		c := startCluster(t, nil)
		c.cfg.Postgres.DSN = c.pg.AppDSN()
		wantRefused(t, "preflight", preflight(t, c), "ALTER ROLE <role> REPLICATION")
		wantRefused(t, "stream", runOnce(t, c), "REPLICATION attribute")
	})
	t.Run("no replication line in pg_hba", func(t *testing.T) {
		c := startCluster(t, nil)
		conn, err := pgx.Connect(context.Background(), c.pg.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var hba string
		if err := conn.QueryRow(context.Background(), "SHOW hba_file").Scan(&hba); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(hba)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, "replication") {
				keep = append(keep, l)
			}
		}
		if err := os.WriteFile(filepath.Clean(hba), []byte(strings.Join(keep, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(context.Background(), "SELECT pg_reload_conf()"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		wantRefused(t, "stream", runOnce(t, c), "pg_hba.conf")
	})
	t.Run("every sender in use", func(t *testing.T) {
		c := startCluster(t, map[string]string{"max_wal_senders": "1"})
		held, err := postgres.ConnectReplication(context.Background(), c.pg.DSN(), "holder", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close(context.Background())
		wantRefused(t, "preflight", preflight(t, c), "all 1 WAL senders are in use")
		wantRefused(t, "stream", runOnce(t, c), "max_wal_senders")
	})
	t.Run("every slot in use", func(t *testing.T) {
		c := startCluster(t, map[string]string{"max_replication_slots": "1"})
		c.exec(t, "SELECT pg_create_physical_replication_slot('other')")
		wantRefused(t, "preflight", preflight(t, c), "all 1 replication slots are in use")
		wantRefused(t, "stream", runOnce(t, c), "max_replication_slots")
	})
}
