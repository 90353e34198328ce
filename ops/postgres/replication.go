package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A physical replication connection speaks the replication protocol's
// commands (IDENTIFY_SYSTEM, READ_REPLICATION_SLOT, START_REPLICATION…),
// not SQL. The WAL streamer (ops/wal) drives the stream; the commands and
// the advice on refusals live here with every other statement.

// ConnectReplication opens a physical replication connection (the DSN's
// database is ignored by the server) named app in pg_stat_replication.
// Failures are *Error values with advice (see ReplicationAdvice).
func ConnectReplication(ctx context.Context, dsn, app string, connectTimeout time.Duration) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, &Error{Kind: KindConfig, msg: message(KindConfig, "", target{}, 0)}
	}
	connectTimeout = Defaults(cfg, app, connectTimeout)
	cfg.RuntimeParams["replication"] = "true"
	// The streamer is known by its name in pg_stat_replication (and
	// synchronous_standby_names): PGAPPNAME does not rename it.
	cfg.RuntimeParams["application_name"] = app
	t := targetOf(*cfg)
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, replicationErr(wrapErr(err, t, connectTimeout))
	}
	return conn, nil
}

// replicationErr adds to err the fix for the refusals a replication
// connection meets.
func replicationErr(err error) error {
	if err == nil {
		return nil
	}
	if advice := ReplicationAdvice(errorText(err), ""); advice != "" {
		return fmt.Errorf("%w — %s", err, advice)
	}
	return err
}

// errorText is what the server said in err: its message and detail when
// it is a server error, else err's text.
func errorText(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message + " " + pgErr.Detail
	}
	return err.Error()
}

// IsReplicationRefusal reports whether err is a refusal ReplicationAdvice
// has a fix for: retrying will not get past it.
func IsReplicationRefusal(err error) bool { return ReplicationAdvice(errorText(err), "") != "" }

// ReplicationAdvice names the fix for the server's refusal of a
// replication connection or command, read from what it said (an error's
// text, or the stderr of a tool such as pg_basebackup); role is the role
// that connected, "" when unknown. It returns "" for anything else.
func ReplicationAdvice(msg, role string) string {
	if role == "" {
		role = "<role>"
	}
	switch {
	case strings.Contains(msg, "no pg_hba.conf entry for replication connection"):
		return fmt.Sprintf("the server's pg_hba.conf has no line for replication connections from this host — add one such as `host replication %s <this host's address>/32 scram-sha-256` (the database column must say replication: `all` does not match it) and reload PostgreSQL (SELECT pg_reload_conf())", role)
	case strings.Contains(msg, "superuser or replication role"), strings.Contains(msg, "permission denied to start WAL sender"),
		strings.Contains(msg, "REPLICATION attribute"):
		return fmt.Sprintf("the role needs the REPLICATION attribute: ALTER ROLE %s REPLICATION, or connect as a role that has it (postgres.dsn, or postgres.wal.dsn for the streamer)", role)
	case strings.Contains(msg, "exceeds max_wal_senders"):
		return "every WAL sender is in use (or max_wal_senders is 0, as wal_level=minimal requires): raise max_wal_senders on the server (a restart) or end an unused replication connection (a replica, pg_receivewal)"
	case strings.Contains(msg, "all replication slots are in use"):
		return "raise max_replication_slots on the server (a restart), or drop an unused slot (SELECT pg_drop_replication_slot(name) FROM pg_replication_slots WHERE NOT active)"
	case strings.Contains(msg, "wal_level"), strings.Contains(msg, "WAL level not sufficient"):
		return `set wal_level = replica on the server (a restart): with "minimal" the WAL cannot be archived, streamed or backed up physically`
	case strings.Contains(msg, "max_replication_slots > 0"):
		return "set max_replication_slots to at least 1 on the server (a restart)"
	}
	return ""
}

// SystemIdentity is IDENTIFY_SYSTEM's answer.
type SystemIdentity struct {
	SystemID uint64
	Timeline uint32
	// XLogPos is the server's current WAL flush position.
	XLogPos string
}

// replCommand runs one replication command and returns its rows as text.
func replCommand(ctx context.Context, conn *pgconn.PgConn, cmd string) ([][]string, error) {
	results, err := conn.Exec(ctx, cmd).ReadAll()
	if err != nil {
		return nil, replicationErr(err)
	}
	var rows [][]string
	for _, r := range results {
		if r.Err != nil {
			return nil, replicationErr(r.Err)
		}
		for _, row := range r.Rows {
			var out []string
			for _, v := range row {
				out = append(out, string(v))
			}
			rows = append(rows, out)
		}
	}
	return rows, nil
}

// IdentifySystem asks the server who it is.
func IdentifySystem(ctx context.Context, conn *pgconn.PgConn) (SystemIdentity, error) {
	rows, err := replCommand(ctx, conn, "IDENTIFY_SYSTEM")
	if err != nil {
		return SystemIdentity{}, fmt.Errorf("IDENTIFY_SYSTEM: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) < 3 {
		return SystemIdentity{}, errors.New("IDENTIFY_SYSTEM: unexpected answer")
	}
	sys, err1 := strconv.ParseUint(rows[0][0], 10, 64)
	tli, err2 := strconv.ParseUint(rows[0][1], 10, 32)
	if err1 != nil || err2 != nil {
		return SystemIdentity{}, fmt.Errorf("IDENTIFY_SYSTEM: unexpected answer %q", rows[0])
	}
	return SystemIdentity{SystemID: sys, Timeline: uint32(tli), XLogPos: rows[0][2]}, nil
}

// ReplicationSetting returns a server setting over a replication
// connection (SHOW works there), e.g. wal_segment_size.
func ReplicationSetting(ctx context.Context, conn *pgconn.PgConn, name string) (string, error) {
	rows, err := replCommand(ctx, conn, "SHOW "+name)
	if err != nil {
		return "", fmt.Errorf("SHOW %s: %w", name, err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return "", fmt.Errorf("SHOW %s: unexpected answer", name)
	}
	return rows[0][0], nil
}

// ParseSize reads a size as SHOW prints it: "16MB", "1GB", "8kB", "512".
func ParseSize(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(n), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return v * u.mult, nil
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v, nil
}

// ReplicationSlot is what READ_REPLICATION_SLOT says of a slot.
type ReplicationSlot struct {
	Exists   bool
	Physical bool
	// RestartLSN is the oldest WAL the server keeps for it ("" when none
	// is reserved yet), on RestartTimeline.
	RestartLSN      string
	RestartTimeline uint32
}

// ReadReplicationSlot reads a slot (PostgreSQL 15 and later).
func ReadReplicationSlot(ctx context.Context, conn *pgconn.PgConn, slot string) (ReplicationSlot, error) {
	rows, err := replCommand(ctx, conn, "READ_REPLICATION_SLOT "+slot)
	if err != nil {
		return ReplicationSlot{}, fmt.Errorf("READ_REPLICATION_SLOT %s: %w", slot, err)
	}
	if len(rows) != 1 || len(rows[0]) != 3 || rows[0][0] == "" {
		return ReplicationSlot{}, nil
	}
	s := ReplicationSlot{Exists: true, Physical: rows[0][0] == "physical", RestartLSN: rows[0][1]}
	if v, err := strconv.ParseUint(rows[0][2], 10, 32); err == nil {
		s.RestartTimeline = uint32(v)
	}
	return s, nil
}

// CreatePhysicalSlot creates a physical slot that reserves WAL at once,
// so the server keeps every segment from now on.
func CreatePhysicalSlot(ctx context.Context, conn *pgconn.PgConn, slot string) error {
	if _, err := replCommand(ctx, conn, "CREATE_REPLICATION_SLOT "+slot+" PHYSICAL RESERVE_WAL"); err != nil {
		return fmt.Errorf("create replication slot %s: %w", slot, err)
	}
	return nil
}

// TimelineHistory returns timeline tli's history file: its name and content.
func TimelineHistory(ctx context.Context, conn *pgconn.PgConn, tli uint32) (string, []byte, error) {
	results, err := conn.Exec(ctx, fmt.Sprintf("TIMELINE_HISTORY %d", tli)).ReadAll()
	if err != nil {
		return "", nil, fmt.Errorf("TIMELINE_HISTORY %d: %w", tli, err)
	}
	if len(results) != 1 || len(results[0].Rows) != 1 || len(results[0].Rows[0]) != 2 {
		return "", nil, fmt.Errorf("TIMELINE_HISTORY %d: unexpected answer", tli)
	}
	row := results[0].Rows[0]
	return string(row[0]), append([]byte(nil), row[1]...), nil
}
