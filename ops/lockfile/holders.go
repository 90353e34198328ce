package lockfile

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	recordSuffix = ".json"
	tmpSuffix    = ".tmp"
	// tmpAge is how old an unlocked temporary record must be before a
	// reader removes it: younger, its writer may not have locked it yet.
	tmpAge = time.Minute
)

// Holders returns the live holders of the lock at path, oldest first, and
// removes the records of holders that are gone. It does not take the lock:
// it is what a status display or a refusal shows.
func Holders(path string) ([]Holder, error) {
	dir := RecordDir(path)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hs []Holder
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, tmpSuffix):
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > tmpAge {
				removeIfDead(p)
			}
		case strings.HasSuffix(name, recordSuffix):
			if h, ok := liveRecord(p, name); ok {
				hs = append(hs, h)
			}
		}
	}
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].Since.Before(hs[j].Since) })
	return hs, nil
}

// holdersSettled is Holders for a refusal: a holder that has just taken
// the lock may not have written its record yet, so an empty answer is
// asked again a few times (within 100 ms).
func holdersSettled(path string) []Holder {
	for i := 0; ; i++ {
		hs, _ := Holders(path)
		if len(hs) > 0 || i == 4 {
			return hs
		}
		time.Sleep(time.Duration(10*(i+1)) * time.Millisecond)
	}
}

// liveRecord reads the record at p when its holder still holds it locked.
// A record it can lock itself is a dead holder's: removed, not reported.
func liveRecord(p, name string) (Holder, bool) {
	f, err := os.Open(p)
	if err != nil {
		return Holder{}, false // released meanwhile
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		os.Remove(p) // its holder is gone
		return Holder{}, false
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		return Holder{}, false
	}
	var h Holder
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil || json.Unmarshal(b, &h) != nil || h.PID == 0 {
		// Alive but unreadable: its pid is in its name.
		pid, _ := strconv.Atoi(strings.SplitN(name, "-", 2)[0])
		h = Holder{PID: pid, Action: "an unknown action", User: "?", Host: "?"}
	}
	return h, true
}

// removeIfDead removes the file at p when nobody holds it locked.
func removeIfDead(p string) {
	f, err := os.Open(p)
	if err != nil {
		return
	}
	defer f.Close()
	if flock(f, syscall.LOCK_SH|syscall.LOCK_NB) == nil {
		os.Remove(p)
	}
}
