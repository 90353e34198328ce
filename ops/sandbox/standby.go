package sandbox

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/proc"
)

// StartStandby makes a standby of s: a copy taken with pg_basebackup -R -X
// stream (through the physical replication slot named slot when not "",
// created on s if missing), run as the postgres user on its own port with
// s's roles and passwords, streaming from s. It returns once the standby
// accepts read-only connections. Its Stop removes it and drops the slot if
// StartStandby created it; Promote turns it into a primary.
func (s *PostgresServer) StartStandby(ctx context.Context, slot string) (sb *PostgresServer, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	primary := s.instance()
	if primary == nil {
		return nil, errors.New("start a standby: the primary was not started")
	}
	dir, err := makePostgresDir(s.baseDir)
	if err != nil {
		return nil, err
	}
	sb = &PostgresServer{
		Dir:         dir,
		BinDir:      s.BinDir,
		baseDir:     s.baseDir,
		AppPassword: s.AppPassword,
		primary:     s,
	}
	defer func() {
		if err != nil {
			_ = sb.Stop()
		}
	}()
	if slot != "" {
		created, err := s.ensureSlot(ctx, slot)
		if err != nil {
			return nil, err
		}
		if created {
			sb.createdSlot = slot
		}
	}
	if err := s.baseBackup(ctx, dir, slot); err != nil {
		return nil, err
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s application_name=opsdeck_standby sslmode=disable",
		s.Port, PostgresSuperuser, s.Password)
	inst, err := pgtemp.Start(ctx, pgtemp.Options{
		BinDir:    s.BinDir,
		Dir:       dir,
		DataDir:   filepath.Join(dir, "data"),
		Superuser: PostgresSuperuser,
		Password:  s.Password,
		Settings:  maps.Clone(postgresSettings),
		Recovery: &pgtemp.Recovery{
			Standby:         true,
			PrimaryConnInfo: conninfo,
			PrimarySlotName: slot,
		},
		Hooks: postgresHooks(),
	})
	if err != nil {
		return nil, fmt.Errorf("start the standby: %w", err)
	}
	sb.setInstance(inst)
	return sb, nil
}

// baseBackup copies s into dir/data with pg_basebackup, run as the
// postgres user; its output goes to dir/pg_basebackup.log.
func (s *PostgresServer) baseBackup(ctx context.Context, dir, slot string) error {
	acct, err := proc.ServiceAccount("postgres")
	if err != nil {
		return err
	}
	if err := acct.Chown(dir); err != nil {
		return fmt.Errorf("give %s to the postgres user: %w", dir, err)
	}
	logPath := filepath.Join(dir, "pg_basebackup.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create pg_basebackup's log: %w", err)
	}
	defer logFile.Close()
	args := []string{
		"--pgdata=" + filepath.Join(dir, "data"),
		"--host=127.0.0.1",
		"--port=" + strconv.Itoa(s.Port),
		"--username=" + PostgresSuperuser,
		"--no-password",
		"--wal-method=stream",
		"--write-recovery-conf",
		"--checkpoint=fast",
		"--no-sync",
	}
	if slot != "" {
		args = append(args, "--slot="+slot)
	}
	cmd := pgtemp.Command(ctx, s.BinDir, acct.Cred, "pg_basebackup", args...)
	cmd.Env = append(cmd.Env, "PGPASSWORD="+s.Password)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := proc.Run(cmd); err != nil {
		return fmt.Errorf("pg_basebackup of the primary failed (%w); its log ends:\n%s", err, tailFile(logPath, 15))
	}
	return nil
}

// ensureSlot creates the physical replication slot on s unless it exists,
// reserving WAL at once, and reports whether it created it.
func (s *PostgresServer) ensureSlot(ctx context.Context, slot string) (bool, error) {
	conn, err := pgx.Connect(ctx, s.DSNFor("postgres"))
	if err != nil {
		return false, fmt.Errorf("connect to the primary: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var created bool
	err = conn.QueryRow(ctx, `SELECT count(pg_create_physical_replication_slot($1, true)) > 0
		WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`, slot).Scan(&created)
	if err != nil {
		return false, fmt.Errorf("create the replication slot %q: %w", slot, err)
	}
	return created, nil
}

// dropSlot drops the replication slot on s, waiting up to 10s for the
// walsender that used it to go; a slot already gone is no error, and
// neither is a primary that no longer runs.
func (s *PostgresServer) dropSlot(slot string) error {
	if s.PID() == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSNFor("postgres"))
	if err != nil {
		return fmt.Errorf("drop the replication slot %q: %w", slot, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		_, err = conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
			WHERE slot_name = $1 AND NOT active`, slot)
		if err != nil {
			return fmt.Errorf("drop the replication slot %q: %w", slot, err)
		}
		var left bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`, slot).Scan(&left); err != nil {
			return fmt.Errorf("drop the replication slot %q: %w", slot, err)
		}
		if !left {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop the replication slot %q: still in use after 10s", slot)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Promote ends a standby's recovery (pg_promote) and waits until it
// accepts writes, on a new timeline.
func (s *PostgresServer) Promote(ctx context.Context) error {
	inst := s.instance()
	if inst == nil {
		return errors.New("promote: the server was not started")
	}
	return inst.Promote(ctx)
}
