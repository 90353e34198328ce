package pgtemp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Recovery asks an instance on an existing data directory to recover:
// Start writes recovery.signal (standby.signal for a standby) into the data
// directory and appends the settings to its postgresql.auto.conf (0600,
// where pg_basebackup -R writes them too: they may hold a password, which
// the command line would show to everyone).
type Recovery struct {
	// Standby keeps the server in recovery, following PrimaryConnInfo or
	// RestoreCommand, until promoted (standby.signal).
	Standby bool
	// RestoreCommand fetches an archived WAL file: %f its name, %p the path
	// to write. It runs as the server's user.
	RestoreCommand string

	// At most one target. Without one, recovery replays all the WAL it
	// can get (the end of the archive).
	TargetTime string // recovery_target_time, e.g. "2026-12-07 09:13:00+00"
	TargetLSN  string // recovery_target_lsn
	TargetXID  string // recovery_target_xid
	TargetName string // recovery_target_name (a pg_create_restore_point name)
	// TargetImmediate ends recovery as soon as the backup is consistent
	// (recovery_target = 'immediate').
	TargetImmediate bool
	// TargetInclusive: stop just after the target (nil: the server's
	// default, true) or just before it.
	TargetInclusive *bool
	// TargetTimeline: recovery_target_timeline ("latest", "current" or a
	// number; default latest).
	TargetTimeline string
	// TargetAction: "promote", "pause" or "shutdown" on reaching the
	// target (default: the server's, pause).
	TargetAction string

	// PrimaryConnInfo and PrimarySlotName make a standby stream from a
	// primary.
	PrimaryConnInfo string
	PrimarySlotName string
}

// ErrStopped is returned (wrapped, with the end of the log) by
// WaitRecovery when the server exits before recovery ends: a recovery that
// fails stops the server, and so does recovery_target_action=shutdown.
var ErrStopped = errors.New("PostgreSQL stopped during recovery")

// ErrPaused is returned (wrapped) by WaitRecovery when recovery paused at
// its target (recovery_target_action=pause): the server waits for
// pg_wal_replay_resume() or a promotion.
var ErrPaused = errors.New("recovery paused at its target")

func (r *Recovery) validate() error {
	if r == nil {
		return nil
	}
	n := 0
	for _, t := range []string{r.TargetTime, r.TargetLSN, r.TargetXID, r.TargetName} {
		if t != "" {
			n++
		}
	}
	if r.TargetImmediate {
		n++
	}
	if n > 1 {
		return errors.New("pgtemp: at most one recovery target (time, LSN, xid, name or immediate)")
	}
	switch r.TargetAction {
	case "", "promote", "pause", "shutdown":
	default:
		return fmt.Errorf("pgtemp: recovery_target_action %q: want promote, pause or shutdown", r.TargetAction)
	}
	if r.Standby && n > 0 {
		return errors.New("pgtemp: a standby has no recovery target")
	}
	return nil
}

// settings are the recovery parameters to write, in a fixed order.
func (r *Recovery) settings() [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("restore_command", r.RestoreCommand)
	add("recovery_target_time", r.TargetTime)
	add("recovery_target_lsn", r.TargetLSN)
	add("recovery_target_xid", r.TargetXID)
	add("recovery_target_name", r.TargetName)
	if r.TargetImmediate {
		add("recovery_target", "immediate")
	}
	if r.TargetInclusive != nil {
		add("recovery_target_inclusive", fmt.Sprint(*r.TargetInclusive))
	}
	add("recovery_target_timeline", r.TargetTimeline)
	add("recovery_target_action", r.TargetAction)
	add("primary_conninfo", r.PrimaryConnInfo)
	add("primary_slot_name", r.PrimarySlotName)
	return out
}

// write puts the signal file and the settings into the data directory.
func (r *Recovery) write(i *Instance) error {
	if r == nil {
		return nil
	}
	signal := "recovery.signal"
	if r.Standby {
		signal = "standby.signal"
	}
	if err := i.writeOwned(filepath.Join(i.DataDir, signal), ""); err != nil {
		return err
	}
	auto := filepath.Join(i.DataDir, "postgresql.auto.conf")
	f, err := os.OpenFile(auto, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("add the recovery settings: %w", err)
	}
	var b strings.Builder
	b.WriteString("\n# Recovery settings written by opsdeck (ops/pgtemp).\n")
	for _, kv := range r.settings() {
		fmt.Fprintf(&b, "%s = '%s'\n", kv[0], strings.ReplaceAll(kv[1], "'", "''"))
	}
	_, err = f.WriteString(b.String())
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("add the recovery settings to %s: %w", auto, err)
	}
	return i.Account.Chown(auto)
}

// WaitRecovery waits until recovery has ended (pg_is_in_recovery() is
// false: the server was promoted and accepts writes). It returns ErrStopped
// with the end of the log when the server exits first, ErrPaused when
// recovery paused at its target, and ctx's error (with where the server
// was) when ctx ends first.
func (i *Instance) WaitRecovery(ctx context.Context) error {
	srv := i.server()
	if srv == nil {
		return errors.New("wait for recovery: the server does not run")
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	state := "not started"
	for {
		if srv.Exited() {
			return fmt.Errorf("%w (%v); its log ends:\n%s", ErrStopped, srv.ExitErr(), i.LogTail(20))
		}
		status, err := i.status(srv.PID)
		switch {
		case err != nil:
			state = err.Error()
		case status == statusReady || status == statusStandby:
			done, paused, err := i.recoveryState(ctx)
			switch {
			case err != nil:
				state = err.Error()
			case done:
				return nil
			case paused:
				return fmt.Errorf("%w (recovery_target_action is pause): resume with pg_wal_replay_resume() or promote",
					ErrPaused)
			default:
				state = "in recovery"
			}
		default:
			state = status
		}
		select {
		case <-srv.Done():
		case <-ctx.Done():
			return fmt.Errorf("wait for the end of recovery: %w (the server is %s); its log ends:\n%s",
				ctx.Err(), state, i.LogTail(10))
		case <-tick.C:
		}
	}
}

// recoveryState asks the server whether recovery is over, or paused.
func (i *Instance) recoveryState(ctx context.Context) (done, paused bool, err error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := i.Connect(qctx, "postgres")
	if err != nil {
		return false, false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var inRecovery bool
	err = conn.QueryRow(qctx, `SELECT pg_is_in_recovery(),
		CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END`).Scan(&inRecovery, &paused)
	if err != nil {
		return false, false, err
	}
	return !inRecovery, paused, nil
}

// Promote ends recovery (pg_promote) and waits until the server accepts
// writes.
func (i *Instance) Promote(ctx context.Context) error {
	conn, err := i.Connect(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("promote: connect: %w", err)
	}
	var promoted bool
	err = conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&promoted)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if !promoted {
		return fmt.Errorf("promote: the server did not finish its promotion within 60s; its log ends:\n%s", i.LogTail(10))
	}
	return i.WaitRecovery(ctx)
}
