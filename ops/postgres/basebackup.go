package postgres

import (
	"context"
	"strconv"
)

// BaseBackupFacts are what a physical base backup needs to know of the
// server before it starts: whether it can take one at all, and the facts
// its manifest records.
type BaseBackupFacts struct {
	Version    string
	VersionNum int
	// SystemID is the cluster's system identifier (pg_control_system()).
	SystemID uint64
	// WALLevel is wal_level: a base backup needs replica or logical.
	WALLevel string
	// MaxWALSenders is max_wal_senders; WALSendersInUse counts the
	// walsender processes running now.
	MaxWALSenders   int
	WALSendersInUse int
	// WALSegmentSize is wal_segment_size in bytes, read from the server.
	WALSegmentSize int64
	// Superuser and Replication are the session's role's attributes.
	Superuser, Replication bool
	// Tablespaces are the user tablespaces (not pg_default, pg_global).
	Tablespaces []Tablespace
	// DatabasesSize is the sum of the sizes of the databases the role may
	// connect to: an estimate of the backup's size.
	DatabasesSize int64
	// InRecovery is true on a standby.
	InRecovery bool
}

// Tablespace is a user tablespace and its directory on the server.
type Tablespace struct {
	Name, Location string
}

// ReadBaseBackupFacts reads BaseBackupFacts in one statement and the
// tablespaces in a second. Every function it calls may be run by any role.
func ReadBaseBackupFacts(ctx context.Context, q Querier) (BaseBackupFacts, error) {
	var f BaseBackupFacts
	var sysid string
	err := q.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
       (SELECT system_identifier::text FROM pg_control_system()),
       current_setting('wal_level'), current_setting('max_wal_senders')::int,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int,
       pg_size_bytes(current_setting('wal_segment_size')),
       r.rolsuper, r.rolreplication,
       coalesce((SELECT sum(pg_database_size(d.oid)) FROM pg_database d
                  WHERE d.datallowconn AND has_database_privilege(d.oid, 'CONNECT')), 0)::bigint,
       pg_is_in_recovery()
  FROM pg_roles r WHERE r.rolname = current_user`).Scan(&f.Version, &f.VersionNum, &sysid, &f.WALLevel, &f.MaxWALSenders, &f.WALSendersInUse,
		&f.WALSegmentSize, &f.Superuser, &f.Replication, &f.DatabasesSize, &f.InRecovery)
	if err != nil {
		return f, err
	}
	if f.SystemID, err = strconv.ParseUint(sysid, 10, 64); err != nil {
		return f, err
	}
	rows, err := q.Query(ctx, `SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace
  WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY spcname`)
	if err != nil {
		return f, err
	}
	defer rows.Close()
	for rows.Next() {
		var t Tablespace
		if err := rows.Scan(&t.Name, &t.Location); err != nil {
			return f, err
		}
		f.Tablespaces = append(f.Tablespaces, t)
	}
	return f, rows.Err()
}
