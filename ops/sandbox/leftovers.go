package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/safefile"
)

// Leftovers. The servers die with the process that started them (ops/proc),
// but their directories stay when that process is killed, and a cleanup cut
// short (a crash, SIGPIPE) leaves both. So every process that runs sandbox
// servers keeps a record of its temporary directories and child processes
// in a directory of records, and the first server start of the next process
// removes what a dead owner left: it kills the recorded processes that are
// still the same processes (pid and start time), and the servers whose
// command line points into a recorded directory, then removes the
// directories and the record. A record whose owner still runs is left
// alone, so test binaries running side by side do not touch each other's
// servers.

// leftoverRecord is one process's record.
type leftoverRecord struct {
	Owner int `json:"owner"`
	// OwnerStart is the owner's start time (clock ticks after boot, from
	// /proc/<pid>/stat), 0 where there is no /proc.
	OwnerStart uint64         `json:"owner_start"`
	Boot       string         `json:"boot,omitempty"` // /proc/sys/kernel/random/boot_id
	Dirs       []string       `json:"dirs,omitempty"`
	Procs      []recordedProc `json:"procs,omitempty"`
}

type recordedProc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // 0 where there is no /proc: never killed then
	Name  string `json:"name"`
}

// serverNames are the programs the sandbox runs; only these are killed
// for pointing into a leftover directory (not, say, a shell of the user
// who is looking into it).
var serverNames = []string{"postgres", "initdb", "redis-server", "etcd", "kube-apiserver", "prometheus", "alertmanager"}

// records is this process's record, kept on disk as it changes.
var records struct {
	mu     sync.Mutex
	inited bool
	self   leftoverRecord
	dirs   map[string]bool
	procs  map[int]recordedProc
	// dir holds our record file while there is something to record, ""
	// otherwise. It is chosen (leftoverDir) each time the record stops
	// being empty, and removed with the record when it is empty, so that a
	// test that points TMPDIR at a directory of its own finds it empty
	// after the servers have stopped.
	dir string
}

// leftoverDir is where the records are: one directory per user under the
// temporary directory, 0700, ours.
func leftoverDir() string {
	return filepath.Join(os.TempDir(), "opsdeck-sandbox-records-"+strconv.Itoa(os.Geteuid()))
}

// initRecords prepares this process's record and, the first time, removes
// what dead owners left. It returns what was removed, for the first caller
// only. The caller holds records.mu.
func initRecords() string {
	if records.inited {
		return ""
	}
	records.inited = true
	records.dirs = map[string]bool{}
	records.procs = map[int]recordedProc{}
	self := os.Getpid()
	start, _ := processStart(self)
	records.self = leftoverRecord{Owner: self, OwnerStart: start, Boot: bootID()}
	dir := leftoverDir()
	if _, err := os.Lstat(dir); err != nil || checkPrivateDir(dir) != nil {
		return "" // nothing recorded, or not by us: leave it
	}
	msg := cleanLeftoversIn(dir, recordName(records.self))
	_ = os.Remove(dir) // when empty
	return msg
}

// CleanLeftovers removes what sandbox processes that died without cleaning
// up left behind (see above), once per process; the first server start does
// it anyway. It returns a one-line summary, "" when there was nothing.
func CleanLeftovers() string {
	records.mu.Lock()
	defer records.mu.Unlock()
	return initRecords()
}

func recordName(r leftoverRecord) string {
	return fmt.Sprintf("%d-%d.json", r.Owner, r.OwnerStart)
}

// checkPrivateDir checks that dir is a directory of ours that nobody else
// may write: a record makes us kill and remove things.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || !ok || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not a private directory of ours", dir)
	}
	return nil
}

// mkTempDir is os.MkdirTemp that records the directory.
func mkTempDir(base, pattern string) (string, error) {
	dir, err := os.MkdirTemp(base, pattern)
	if err != nil {
		return "", err
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	records.mu.Lock()
	defer records.mu.Unlock()
	initRecords()
	records.dirs[dir] = true
	saveRecord()
	return dir, nil
}

// removeDir is os.RemoveAll that forgets the directory once it is gone.
func removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	records.mu.Lock()
	defer records.mu.Unlock()
	if records.inited && records.dirs[dir] {
		delete(records.dirs, dir)
		saveRecord()
	}
	return nil
}

// trackProcess records a child server; untrackProcess forgets it once it
// has exited.
func trackProcess(pid int, name string) {
	start, _ := processStart(pid)
	records.mu.Lock()
	defer records.mu.Unlock()
	initRecords()
	records.procs[pid] = recordedProc{PID: pid, Start: start, Name: name}
	saveRecord()
}

func untrackProcess(pid int) {
	records.mu.Lock()
	defer records.mu.Unlock()
	if _, ok := records.procs[pid]; records.inited && ok {
		delete(records.procs, pid)
		saveRecord()
	}
}

// saveRecord writes this process's record, or removes it (and the
// directory of records, when that is left empty) when nothing is left to
// record. Errors are ignored: the record is a safety net, and the servers
// work without it. The caller holds records.mu.
func saveRecord() {
	if len(records.dirs) == 0 && len(records.procs) == 0 {
		if records.dir != "" {
			_ = os.Remove(filepath.Join(records.dir, recordName(records.self)))
			_ = os.Remove(records.dir)
			records.dir = ""
		}
		return
	}
	if records.dir == "" {
		records.dir = leftoverDir()
	}
	// (Re)create it: another process may have removed it, empty, meanwhile.
	if err := os.Mkdir(records.dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return
	}
	if checkPrivateDir(records.dir) != nil {
		return
	}
	r := records.self
	for d := range records.dirs {
		r.Dirs = append(r.Dirs, d)
	}
	slices.Sort(r.Dirs)
	for _, p := range records.procs {
		r.Procs = append(r.Procs, p)
	}
	slices.SortFunc(r.Procs, func(a, b recordedProc) int { return a.PID - b.PID })
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return
	}
	_ = safefile.Write(filepath.Join(records.dir, recordName(records.self)), append(data, '\n'), 0o600)
}

// cleanLeftoversIn removes what the owners of the records in dir that no
// longer run left behind, skipping the record named self. It returns a
// summary, "" when there was nothing to do.
func cleanLeftoversIn(dir, self string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var owners []string
	var nDirs, nProcs int
	var problems []string
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			// A temporary file of safefile.Write whose writer died.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 10*time.Minute {
				_ = os.Remove(path)
			}
			continue
		}
		if name == self || !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var r leftoverRecord
		if err := json.Unmarshal(data, &r); err != nil || r.Owner <= 0 {
			_ = os.Remove(path) // not a record of ours: safefile never leaves half a file
			continue
		}
		if ownerRuns(r) {
			continue
		}
		killed := killLeftoverProcesses(r)
		nProcs += len(killed)
		for _, d := range r.Dirs {
			if !isSandboxDir(d) {
				continue
			}
			if _, err := os.Lstat(d); err != nil {
				continue
			}
			if err := os.RemoveAll(d); err != nil {
				problems = append(problems, err.Error())
				continue
			}
			nDirs++
		}
		_ = os.Remove(path)
		owners = append(owners, strconv.Itoa(r.Owner))
	}
	if nDirs == 0 && nProcs == 0 && len(problems) == 0 {
		return ""
	}
	s := fmt.Sprintf("removed what a killed opsdeck (pid %s) left: %d directories, %d processes",
		strings.Join(owners, ", "), nDirs, nProcs)
	if len(problems) > 0 {
		s += " (could not remove: " + strings.Join(problems, "; ") + ")"
	}
	return s
}

// isSandboxDir guards RemoveAll against a record that names anything but a
// directory the sandbox made.
func isSandboxDir(dir string) bool {
	return filepath.IsAbs(dir) && filepath.Clean(dir) == dir && strings.HasPrefix(filepath.Base(dir), "opsdeck-")
}

// ownerRuns reports whether r's owner still runs: the same pid with the
// same start time since the same boot. Without /proc a live pid counts as
// the owner.
func ownerRuns(r leftoverRecord) bool {
	if boot := bootID(); boot != "" && r.Boot != "" && boot != r.Boot {
		return false
	}
	if start, ok := processStart(r.Owner); ok {
		return start == r.OwnerStart
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		return false // /proc works, the pid does not exist
	}
	err := syscall.Kill(r.Owner, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// killLeftoverProcesses kills r's processes that are provably the recorded
// ones (same pid and start time, same boot; their process groups too when
// they lead one) and the servers whose command line points into one of r's
// directories, waits for them to go, and returns them.
func killLeftoverProcesses(r leftoverRecord) []int {
	if boot := bootID(); boot == "" || boot != r.Boot {
		return nil // another boot: they are long gone (or there is no /proc)
	}
	var killed []int
	for _, p := range r.Procs {
		fields, ok := procStat(p.PID)
		if !ok || p.Start == 0 || len(fields) < 20 || fields[19] != strconv.FormatUint(p.Start, 10) {
			continue // gone, or the pid now belongs to someone else
		}
		if fields[0] == "Z" || fields[0] == "X" {
			continue // dead already, waiting for init to reap it
		}
		if fields[2] == strconv.Itoa(p.PID) {
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		}
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
		killed = append(killed, p.PID)
	}
	for _, d := range r.Dirs {
		if !isSandboxDir(d) {
			continue
		}
		for _, pid := range serversIn(d, serverNames) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !slices.Contains(killed, pid) {
				killed = append(killed, pid)
			}
		}
	}
	waitGone(killed, 5*time.Second)
	return killed
}

// serversIn returns the processes (not us) running one of names whose
// command line points into dir, read from /proc; none without /proc.
func serversIn(dir string, names []string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	marker := []byte(filepath.Clean(dir) + string(filepath.Separator))
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, marker) {
			continue
		}
		exe := filepath.Base(string(bytes.SplitN(cmdline, []byte{0}, 2)[0]))
		if slices.Contains(names, exe) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processStart returns pid's start time in clock ticks after boot, from
// /proc/<pid>/stat (field 22).
func processStart(pid int) (uint64, bool) {
	fields, ok := procStat(pid)
	if !ok || len(fields) < 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(fields[19], 10, 64)
	return n, err == nil
}

// bootID identifies this boot of the machine, "" without /proc.
func bootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
