package pitr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/proc"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Progress steps of a recovery (progress.Event.Step, Op "recover").
const (
	StepUnpack = "unpack the base backup"
	StepStage  = "stage the WAL"
	StepReplay = "replay the WAL"
)

// Options tune Recover.
type Options struct {
	// WorkDir is where the recovery's own directory is made
	// (restore.work_dir); running as root, the server's user must be able
	// to traverse it.
	WorkDir string
	// BinDir is backup.pg_bin_dir (see ServerBinDir).
	BinDir string
	// Superuser is a role of the recovered cluster the instance is used
	// as (postgres.dsn's user): it logs in through the instance's private
	// socket without a password.
	Superuser string
	// IDs decrypt the store's files.
	IDs []age.Identity
	// Hooks are told what the instance leaves on the machine (a journal);
	// Hooks.Dir is called with the recovery's directory before anything
	// is written into it.
	Hooks pgtemp.Hooks
	// Unpacked, when set, is called with the data directory once the base
	// backup is unpacked, before the server starts on it (a drill runs
	// pg_verifybackup there); its error ends the recovery.
	Unpacked func(ctx context.Context, dataDir string) error
	// Progress is told each step's advance.
	Progress progress.Func
	// Timeout bounds the whole recovery (default 6 h).
	Timeout time.Duration
}

// Recovered is a private instance recovered to the plan's target and
// promoted: it accepts connections on its socket and on loopback.
type Recovered struct {
	*pgtemp.Instance
	Plan *Plan
	// Reached is the last LSN replayed; Took how long unpacking, staging
	// and replay took together.
	Reached pgwal.LSN
	Took    time.Duration
}

// headroom is the room the work directory needs beyond the base backup
// and the WAL: 10 %.
const headroom = 0.10

// restoreScript is the instance's restore_command: it copies a staged
// file, waiting for one still being staged; a timeline history missing
// once every history is staged, and anything missing once staging ended,
// does not exist (exit 1: the server then ends recovery, or looks for the
// next timeline).
const restoreScript = `#!/bin/sh
# Written by opsdeck (ops/pitr): the restore_command of a private recovery.
stage=%s
f="$1"
p="$2"
while :; do
	if [ -f "$stage/$f" ]; then
		# A copy that fails (a full disk) must stop the recovery, not
		# look like the archive's end: above 125 the server gives up.
		cp "$stage/$f" "$p" || exit 127
		exit 0
	fi
	case "$f" in
	*.history) [ -f "$stage/%s" ] && exit 1 ;;
	esac
	[ -f "$stage/%s" ] && exit 1
	sleep 0.1
done
`

// Recover unpacks the plan's base backup into a directory of its own
// under o.WorkDir, stages the WAL beside it (while the server already
// replays), and runs a private PostgreSQL instance (ops/pgtemp, as the
// server's user) until it has recovered to the plan's target and
// promoted. On failure and on ctx's end everything it made is removed;
// on success the caller owns the instance and must Remove it.
func Recover(ctx context.Context, e *backup.Engine, p *Plan, o Options) (rec *Recovered, err error) {
	start := time.Now()
	if o.Timeout <= 0 {
		o.Timeout = 6 * time.Hour
	}
	o.Progress = o.Progress.Serialized() // unpacking, staging and replay report at once
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	binDir, err := ServerBinDir(o.BinDir, p.Major)
	if err != nil {
		return nil, err
	}
	if err := checkRoom(o.WorkDir, p); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.WorkDir, "opsdeck-pitr-")
	if err != nil {
		return nil, fmt.Errorf("make the recovery's directory in %s: %w — set restore.work_dir to a writable directory", o.WorkDir, err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	var inst *pgtemp.Instance
	defer func() {
		if err == nil {
			return
		}
		if inst != nil {
			_ = inst.Remove() // stops it, removes dir, tells the hooks
			return
		}
		_ = os.RemoveAll(dir)
		if o.Hooks.Removed != nil {
			o.Hooks.Removed(dir)
		}
	}()
	if o.Hooks.Dir != nil {
		if err := o.Hooks.Dir(dir); err != nil {
			return nil, err
		}
	}
	data, stage := filepath.Join(dir, "data"), filepath.Join(dir, "wal")
	for _, d := range []string{data, stage} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("make %s: %w", d, err)
		}
	}
	acct, err := proc.ServiceAccount("postgres")
	if err != nil {
		return nil, err
	}
	if err := acct.Chown(stage); err != nil {
		return nil, fmt.Errorf("give %s to the %s user: %w", stage, acct.Name, err)
	}

	// The WAL is staged from the start, beside the unpacking and then the
	// replay; the server waits for a segment not staged yet.
	stageCtx, stopStaging := context.WithCancel(ctx)
	defer stopStaging()
	var staged sync.WaitGroup
	var stageErr error
	var stagedBytes int64
	staged.Go(func() {
		_, stageErr = p.archive.StageWAL(stageCtx, stage, backup.StageOptions{
			From: p.Base.Start, To: stageTo(p), Chown: acct.Chown,
			OnFile: func(_ string, size int64) {
				stagedBytes += size
				o.Progress.Emit(progress.Event{Kind: progress.Advance, Op: "recover", Step: StepStage, Done: stagedBytes, Total: p.WALBytes, Bytes: true})
			},
		})
	})
	waitStaging := func() error {
		staged.Wait()
		if stageErr != nil {
			return fmt.Errorf("stage the WAL from the archive: %w", stageErr)
		}
		return nil
	}
	abort := func(err error) (*Recovered, error) {
		stopStaging()
		staged.Wait()
		return nil, err
	}

	err = backup.ExtractBase(ctx, e.Store, p.Set.ID, p.tar, o.IDs, data, func(n int64) {
		o.Progress.Emit(progress.Event{Kind: progress.Advance, Op: "recover", Step: StepUnpack, Done: n, Total: p.TarBytes, Bytes: true})
	})
	if err != nil {
		return abort(err)
	}
	if o.Unpacked != nil {
		if err := o.Unpacked(ctx, data); err != nil {
			return abort(err)
		}
	}
	if err := neutralizeAutoConf(data); err != nil {
		return abort(err)
	}
	script := filepath.Join(dir, "restore_wal.sh")
	if err := os.WriteFile(script, fmt.Appendf(nil, restoreScript, shellQuote(stage), backup.StagedHistories, backup.StagedDone), 0o700); err != nil {
		return abort(fmt.Errorf("write the restore_command: %w", err))
	}
	if err := acct.Chown(script); err != nil {
		return abort(err)
	}
	inst, err = pgtemp.Start(ctx, pgtemp.Options{
		BinDir: binDir, Major: p.Major, Dir: dir, DataDir: data, Superuser: o.Superuser,
		Recovery: recoverySettings(p.replayTarget(), script), Hooks: o.Hooks,
		// Replay from the store can be slow to start; the wait below bounds it.
		StartTimeout: 5 * time.Minute,
		Settings: map[string]string{
			"max_wal_size": "1GB", "hot_standby": "on",
		},
	})
	if err != nil {
		return abort(fmt.Errorf("start the private instance: %w", err))
	}
	replayDone := make(chan struct{})
	go func() {
		defer close(replayDone)
		followReplay(ctx, inst, p, o.Progress)
	}()
	waitErr := inst.WaitRecovery(ctx)
	// Staging stops once the target is reached. Staging that failed (and
	// so told the server the archive ends there) fails the recovery even
	// when the server promoted: it stopped short.
	stopStaging()
	serr := waitStaging()
	<-replayDone
	if waitErr != nil && serr == nil && p.Target.Kind() == "time" && notReached(inst) {
		// No commit after the target time is in the archive: the state at
		// that time is the archive's end.
		waitErr = replayToEnd(ctx, inst)
	}
	switch {
	case serr != nil && !(waitErr == nil && errors.Is(serr, context.Canceled)):
		return nil, serr
	case waitErr != nil:
		return nil, explainRecovery(waitErr, p, inst)
	}
	rec = &Recovered{Instance: inst, Plan: p, Took: time.Since(start)}
	if rec.Reached, err = replayed(ctx, inst); err != nil {
		return nil, fmt.Errorf("read where the recovery ended: %w", err)
	}
	if err := os.RemoveAll(stage); err != nil {
		return nil, fmt.Errorf("remove the staged WAL: %w", err)
	}
	return rec, nil
}

// stageTo is the last LSN the recovery needs: a segment past the
// target's for an LSN (the record at or after the target, which the
// server reads to stop, may start in the next one), else all of it.
func stageTo(p *Plan) pgwal.LSN {
	if p.Target.Kind() == "lsn" {
		return p.Target.LSN + pgwal.LSN(p.SegmentSize)
	}
	return 0
}

// ServerBinDir is where a recovery's server (and its pg_dump and
// pg_restore) are: pgBinDir (backup.pg_bin_dir) when it holds a server,
// else the Debian directory of major, with an error naming the package
// to install when that is missing.
func ServerBinDir(pgBinDir string, major int) (string, error) {
	if pgBinDir != "" {
		if _, err := os.Stat(filepath.Join(pgBinDir, "postgres")); err == nil {
			return pgBinDir, nil
		}
	}
	return pgtemp.BinDir(major)
}

// checkRoom refuses a work directory without room for the base backup,
// the WAL and 10 %.
func checkRoom(dir string, p *Plan) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("restore.work_dir %s: %w", dir, err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("restore.work_dir %s: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	need := p.WorkBytes() + int64(float64(p.WorkBytes())*headroom)
	if free < need {
		return fmt.Errorf("restore.work_dir %s has %s free; the recovery needs %s (the base backup %s, the WAL %s, and 10 %%) — free space there or set restore.work_dir to a larger disk",
			dir, progress.Bytes(free), progress.Bytes(need), progress.Bytes(p.TarBytes), progress.Bytes(p.WALBytes))
	}
	return nil
}

// neutralizeAutoConf sets the origin server's postgresql.auto.conf aside
// (as postgresql.auto.conf.origin): its ALTER SYSTEM settings belong to
// production (libraries the bastion lacks, a primary_conninfo, an
// archive_command), not to a private instance.
func neutralizeAutoConf(data string) error {
	auto := filepath.Join(data, "postgresql.auto.conf")
	if err := os.Rename(auto, auto+".origin"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set the origin's postgresql.auto.conf aside: %w", err)
	}
	return os.WriteFile(auto, []byte("# Written by opsdeck (ops/pitr): the origin's is postgresql.auto.conf.origin.\n"), 0o600)
}

// replayTarget is the target the server is given: an LSN at the end of
// the WAL held (the head's, as `wal status` shows it) is the head — no
// record starts there, and the server would call it never reached.
func (p *Plan) replayTarget() Target {
	if t := p.Target; t.Kind() == "lsn" && t.LSN >= p.Coverage.To {
		return Target{How: t.How}
	}
	return p.Target
}

// recoverySettings turn the target into the server's recovery settings.
func recoverySettings(t Target, script string) *pgtemp.Recovery {
	r := &pgtemp.Recovery{
		RestoreCommand: shellQuote(script) + " %f %p",
		TargetTimeline: "latest",
		TargetAction:   "promote",
	}
	switch t.Kind() {
	case "time":
		r.TargetTime = t.Time.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
	case "lsn":
		r.TargetLSN = t.LSN.String()
	case "xid":
		r.TargetXID = strconv.FormatUint(t.XID, 10)
	case "name":
		r.TargetName = t.Name
	}
	if !t.Head() {
		inclusive := !t.Exclusive
		r.TargetInclusive = &inclusive
	}
	return r
}

// followReplay reports the replayed LSN against the plan's end until
// recovery ends or ctx does.
func followReplay(ctx context.Context, inst *pgtemp.Instance, p *Plan, pf progress.Func) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	total := int64(p.Until - p.Base.Start)
	for {
		select {
		case <-ctx.Done():
			return
		case <-inst.Done():
			return
		case <-tick.C:
		}
		l, inRecovery, err := replayState(ctx, inst)
		if err != nil {
			continue // not consistent yet: no connections
		}
		if l > p.Base.Start {
			pf.Emit(progress.Event{Kind: progress.Advance, Op: "recover", Step: StepReplay,
				Done: min(int64(l-p.Base.Start), total), Total: total, Bytes: true, Message: "replayed to " + l.String()})
		}
		if !inRecovery {
			return
		}
	}
}

// replayState asks the instance for the last LSN replayed and whether it
// still recovers.
func replayState(ctx context.Context, inst *pgtemp.Instance) (pgwal.LSN, bool, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := inst.Connect(qctx, "postgres")
	if err != nil {
		return 0, false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var s *string
	var in bool
	if err := conn.QueryRow(qctx, "SELECT pg_last_wal_replay_lsn()::text, pg_is_in_recovery()").Scan(&s, &in); err != nil {
		return 0, false, err
	}
	if s == nil {
		return 0, in, nil
	}
	l, err := pgwal.ParseLSN(*s)
	return l, in, err
}

func replayed(ctx context.Context, inst *pgtemp.Instance) (pgwal.LSN, error) {
	l, _, err := replayState(ctx, inst)
	return l, err
}

// notReachedLog is what the server says when the WAL ends before its
// recovery target.
const notReachedLog = "recovery ended before configured recovery target was reached"

func notReached(inst *pgtemp.Instance) bool {
	return strings.Contains(inst.LogTail(40), notReachedLog)
}

// replayToEnd restarts a recovery that stopped short of its time target
// without the target: the server resumes from its last restartpoint,
// replays the rest and promotes.
func replayToEnd(ctx context.Context, inst *pgtemp.Instance) error {
	auto := filepath.Join(inst.DataDir, "postgresql.auto.conf")
	b, err := os.ReadFile(auto)
	if err != nil {
		return fmt.Errorf("read %s: %w", auto, err)
	}
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "recovery_target") || strings.HasPrefix(strings.TrimSpace(l), "recovery_target_timeline") || strings.HasPrefix(strings.TrimSpace(l), "recovery_target_action") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(auto, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", auto, err)
	}
	if err := inst.Account.Chown(auto); err != nil {
		return err
	}
	if err := inst.Restart(ctx); err != nil {
		return fmt.Errorf("restart the recovery to the archive's end: %w", err)
	}
	return inst.WaitRecovery(ctx)
}

// explainRecovery turns the server's refusals into what to do.
func explainRecovery(err error, p *Plan, inst *pgtemp.Instance) error {
	log := inst.LogTail(40)
	switch {
	case strings.Contains(log, notReachedLog):
		return fmt.Errorf("the WAL after base backup %s ends before %s: the target is not in it (a transaction or restore point older than the base backup? name an older one with --set; see opsdeck wal status): %w",
			p.Set.ID, p.Target, err)
	case strings.Contains(log, "requested timeline") || strings.Contains(log, "is not a child of"):
		return fmt.Errorf("the archive's timelines do not lead from base backup %s to the target: %w", p.Set.ID, err)
	}
	return fmt.Errorf("recover base backup %s to %s: %w", p.Set.ID, p.Target, err)
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
