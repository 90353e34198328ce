package pgtemp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/opsdeck/opsdeck/ops/proc"
)

// Command is an exec.Cmd for one of the instance's binaries (pg_basebackup,
// pg_controldata, ...) that runs as the instance's account, in its own
// process group, with an environment free of PG* variables. Start it with
// ops/proc so that it does not outlive opsdeck.
func (i *Instance) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return Command(ctx, i.BinDir, i.Account.Cred, name, args...)
}

// Command is Instance.Command before there is an instance: binDir's name,
// run with cred (nil: as ourselves).
func Command(ctx context.Context, binDir string, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, name), args...)
	cmd.Dir = "/"
	cmd.Env = proc.Env("PG")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	return cmd
}

// The files an instance on an existing data directory reads instead of
// that directory's own (a base backup carries the origin server's, which
// may name certificates, libraries and addresses of another machine).
const (
	confName  = "postgresql.conf"
	hbaName   = "pg_hba.conf"
	identName = "pg_ident.conf"
)

// hbaLines let the superuser in through the socket, which lies in the
// work directory only the server's user and root can reach, and every role
// with its password over loopback TCP, replication included.
const hbaLines = `# Written by opsdeck (ops/pgtemp) for a temporary instance.
local all         all                trust
local replication all                trust
host  all         all  127.0.0.1/32  scram-sha-256
host  replication all  127.0.0.1/32  scram-sha-256
`

// prepareDataDir readies an existing data directory: given to the
// server's user (0700), the instance's own configuration files, the
// recovery signal and settings. It returns the settings the command line
// must carry: the files' paths and, from the control file, the values a hot
// standby needs at least.
func (i *Instance) prepareDataDir(ctx context.Context, rec *Recovery) (map[string]string, error) {
	if err := i.Account.ChownTree(i.DataDir); err != nil {
		return nil, fmt.Errorf("give %s to the %s user: %w", i.DataDir, i.Account.Name, err)
	}
	if err := os.Chmod(i.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("protect %s: %w", i.DataDir, err)
	}
	files := map[string]string{
		confName: "# Written by opsdeck (ops/pgtemp): a temporary instance reads this file,\n" +
			"# the data directory's postgresql.auto.conf and its command line.\n",
		hbaName:   hbaLines,
		identName: "# Written by opsdeck (ops/pgtemp).\n",
	}
	for name, text := range files {
		if err := i.writeOwned(filepath.Join(i.Dir, name), text); err != nil {
			return nil, err
		}
	}
	if err := rec.write(i); err != nil {
		return nil, err
	}
	settings := map[string]string{
		"config_file": filepath.Join(i.Dir, confName),
		"hba_file":    filepath.Join(i.Dir, hbaName),
		"ident_file":  filepath.Join(i.Dir, identName),
	}
	minimums, err := i.controlMinimums(ctx)
	if err != nil {
		return nil, err
	}
	for k, v := range minimums {
		settings[k] = v
	}
	return settings, nil
}

// writeOwned writes a file (0600) that the server's user owns.
func (i *Instance) writeOwned(path, text string) error {
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := i.Account.Chown(path); err != nil {
		return fmt.Errorf("give %s to the %s user: %w", path, i.Account.Name, err)
	}
	return nil
}

// controlSettings name the settings the control file records that a hot
// standby (or an archive recovery with hot_standby on) needs at least as
// high as the origin server had them.
var controlSettings = map[string]string{
	"max_connections setting":      "max_connections",
	"max_worker_processes setting": "max_worker_processes",
	"max_wal_senders setting":      "max_wal_senders",
	"max_prepared_xacts setting":   "max_prepared_transactions",
	"max_locks_per_xact setting":   "max_locks_per_transaction",
}

// controlMinimums reads those settings with pg_controldata; without the
// tool it returns none (the server then says which one is too low).
func (i *Instance) controlMinimums(ctx context.Context) (map[string]string, error) {
	if _, err := os.Stat(filepath.Join(i.BinDir, "pg_controldata")); err != nil {
		return nil, nil
	}
	cmd := i.Command(ctx, "pg_controldata", "-D", i.DataDir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("read the control file of %s with pg_controldata (%w): %s",
			i.DataDir, err, strings.TrimSpace(errOut.String()))
	}
	got := map[string]string{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if name, known := controlSettings[strings.TrimSpace(k)]; ok && known {
			got[name] = strings.TrimSpace(v)
		}
	}
	return got, nil
}
