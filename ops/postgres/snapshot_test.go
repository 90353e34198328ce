package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func TestSnapshot(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.DSN())
	s, err := postgres.TakeSnapshot(t.Context(), pool)
	if err != nil {
		t.Fatalf("TakeSnapshot: %v", err)
	}
	if len(s.Missing) != 0 || len(s.Notes) != 0 {
		t.Errorf("superuser snapshot: Missing %v Notes %q", s.Missing, s.Notes)
	}
	srv := s.Server
	if srv.Major() < 12 || !strings.HasPrefix(srv.Version, srv.Full[len("PostgreSQL "):len("PostgreSQL ")+2]) {
		t.Errorf("version %q (%d), full %q", srv.Version, srv.VersionNum, srv.Full)
	}
	if srv.Database != sandbox.PostgresDatabase || srv.User != sandbox.PostgresSuperuser || !srv.Superuser || !srv.CanSeeAllSessions {
		t.Errorf("server = %+v", srv)
	}
	if srv.InRecovery || s.Standby != nil || len(s.Replicas) != 0 {
		t.Errorf("a lone primary reports recovery %v, standby %+v, replicas %+v", srv.InRecovery, s.Standby, s.Replicas)
	}
	if time.Since(srv.StartedAt) > time.Hour || time.Since(srv.StartedAt) < 0 {
		t.Errorf("StartedAt = %s", srv.StartedAt)
	}
	c := s.Connections
	if c.Max != 100 || c.SuperuserReserved != 3 || c.Available() != 97 {
		t.Errorf("max_connections %d reserved %d", c.Max, c.SuperuserReserved)
	}
	if c.Total < 1 || c.Active < 1 || c.ThisDatabase < 1 || c.Hidden != 0 || c.Other < 0 {
		t.Errorf("connections = %+v: at least this session should be active", c)
	}
	if c.Active+c.Idle+c.IdleInTransaction+c.IdleInTransactionAborted+c.Other+c.Hidden != c.Total {
		t.Errorf("connection states do not add up: %+v", c)
	}
	if s.Cache.NoReadsYet {
		if s.Cache.HitPercent != 0 {
			t.Errorf("no reads yet but HitPercent = %v", s.Cache.HitPercent)
		}
	} else if s.Cache.HitPercent < 0 || s.Cache.HitPercent > 100 {
		t.Errorf("HitPercent = %v, want 0..100", s.Cache.HitPercent)
	}
	if s.Cache.BlocksHit+s.Cache.BlocksRead == 0 {
		t.Errorf("a seeded database shows no block access: %+v", s.Cache)
	}
	if s.DatabaseSizeBytes < 1<<20 {
		t.Errorf("DatabaseSizeBytes = %d, want a seeded database", s.DatabaseSizeBytes)
	}
	if s.Activity.Commits == 0 {
		t.Errorf("Activity = %+v", s.Activity)
	}
	if s.Took <= 0 || s.CollectedAt.IsZero() {
		t.Errorf("Took %s CollectedAt %s", s.Took, s.CollectedAt)
	}
}

func TestSnapshotSeesConnectionsAndLongTransaction(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	pool := connect(t, server.DSN())
	before, err := postgres.TakeSnapshot(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if before.LongestTransaction != nil {
		t.Fatalf("a transaction is open before the test: %+v", before.LongestTransaction)
	}

	const extra = 3
	conns := make([]*pgx.Conn, extra)
	for i := range conns {
		conn, err := pgx.Connect(ctx, server.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		conns[i] = conn
	}
	// The first one leaves a transaction open after a long statement.
	longQuery := "SELECT 1 AS " + strings.Repeat("very_long_alias_", 20) + "x, 2   AS\n\t two"
	tx, err := conns[0].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, longQuery); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)

	after, err := postgres.TakeSnapshot(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	// Other tests' sessions come and go, so only a floor is certain: the
	// pool's own session and the ones opened here.
	if after.Connections.Total < extra+1 {
		t.Errorf("connections %d → %d after opening %d", before.Connections.Total, after.Connections.Total, extra)
	}
	if after.Connections.IdleInTransaction < 1 {
		t.Errorf("IdleInTransaction = %d, want ≥ 1", after.Connections.IdleInTransaction)
	}
	lt := after.LongestTransaction
	if lt == nil {
		t.Fatal("LongestTransaction = nil with a transaction open")
	}
	if lt.PID != int(conns[0].PgConn().PID()) || lt.State != "idle in transaction" {
		t.Errorf("longest transaction pid %d state %q, want pid %d idle in transaction", lt.PID, lt.State, conns[0].PgConn().PID())
	}
	if lt.Duration < 50*time.Millisecond || lt.Duration > time.Minute {
		t.Errorf("Duration = %s", lt.Duration)
	}
	if n := len([]rune(lt.Query)); n != postgres.MaxQueryLen || !strings.HasSuffix(lt.Query, "…") || strings.ContainsAny(lt.Query, "\n\t") {
		t.Errorf("Query (%d chars) = %q, want folded and cut to %d", n, lt.Query, postgres.MaxQueryLen)
	}
	if !strings.HasPrefix(lt.Query, "SELECT 1 AS very_long_alias_") || lt.Database != sandbox.PostgresDatabase {
		t.Errorf("transaction = %+v", lt)
	}
}

func TestSnapshotAsOrdinaryRole(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	// Another user's idle session, whose state the app role may not see.
	other, err := pgx.Connect(ctx, server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())

	pool := connect(t, server.AppDSN())
	s, err := postgres.TakeSnapshot(ctx, pool)
	if err != nil {
		t.Fatalf("TakeSnapshot as %s: %v", sandbox.PostgresAppUser, err)
	}
	if s.Server.Superuser || s.Server.CanSeeAllSessions {
		t.Errorf("server = %+v", s.Server)
	}
	if s.Connections.Hidden < 1 {
		t.Errorf("Hidden = %d, want the superuser's sessions counted as hidden", s.Connections.Hidden)
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "pg_monitor") {
		t.Errorf("Notes = %q, want advice to grant pg_monitor", s.Notes)
	}
	if len(s.Missing) != 0 {
		t.Errorf("Missing = %+v", s.Missing)
	}
}

func TestSnapshotMissingPrivilegeLosesOneFact(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, server.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "REVOKE SELECT ON pg_catalog.pg_stat_replication FROM PUBLIC"); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(context.Background(), "GRANT SELECT ON pg_catalog.pg_stat_replication TO PUBLIC")

	pool := connect(t, server.AppDSN())
	s, err := postgres.TakeSnapshot(ctx, pool)
	if err != nil {
		t.Fatalf("TakeSnapshot: %v", err)
	}
	if s.Has(postgres.FactReplication) || len(s.Missing) != 1 {
		t.Fatalf("Missing = %+v, want only replication", s.Missing)
	}
	if r := s.Missing[0].Reason; !strings.Contains(r, "permission denied") || !strings.Contains(r, "pg_monitor") {
		t.Errorf("reason %q does not say what to grant", r)
	}
	for _, f := range []postgres.Fact{postgres.FactServer, postgres.FactConnections, postgres.FactDatabaseStats,
		postgres.FactDatabaseSize, postgres.FactLongestTransaction, postgres.FactRecovery} {
		if !s.Has(f) {
			t.Errorf("fact %s lost too", f)
		}
	}
	if s.Server.VersionNum == 0 || s.Connections.Total == 0 || s.DatabaseSizeBytes == 0 {
		t.Errorf("other facts empty: %+v", s)
	}
}

func TestSnapshotHonoursDeadline(t *testing.T) {
	requireServer(t)
	pool := connect(t, server.DSN())
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	_, err := postgres.TakeSnapshot(ctx, pool)
	if k := postgres.Classify(err); k != postgres.KindTimeout {
		t.Errorf("Classify = %v (%v), want timeout", k, err)
	}
}
