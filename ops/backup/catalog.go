package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// VerifyName is the side file holding a set's last verify result.
const VerifyName = "verify.json"

// Verify states of a set.
const (
	VerifyNone       = "unverified"
	VerifyOK         = "verified"
	VerifyFailed     = "failed"
	VerifyDeepOK     = "verified-deep"
	verifyUnreadable = "unreadable"
)

// VerifyResult is the outcome of verifying one set.
type VerifyResult struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Deep     bool      `json:"deep"`
	OK       bool      `json:"ok"`
	Problems []string  `json:"problems,omitempty"`
	// Files counts the files checked.
	Files int `json:"files"`
}

// State is the verify state the result gives a set.
func (v *VerifyResult) State() string {
	switch {
	case v == nil:
		return VerifyNone
	case !v.OK:
		return VerifyFailed
	case v.Deep:
		return VerifyDeepOK
	}
	return VerifyOK
}

// Set is a committed backup set as the catalog shows it.
type Set struct {
	Manifest *Manifest     `json:"manifest"`
	Verify   *VerifyResult `json:"verify,omitempty"`
	// Err is set when the manifest could not be read.
	Err string `json:"error,omitempty"`
	ID  string `json:"id"`
}

// VerifyState is "unverified", "verified", "verified-deep" or "failed".
func (s Set) VerifyState() string {
	if s.Err != "" {
		return verifyUnreadable
	}
	return s.Verify.State()
}

// Verified reports whether the set's last verify passed.
func (s Set) Verified() bool { return s.Err == "" && s.Verify != nil && s.Verify.OK }

// Age is how old the set is at now.
func (s Set) Age(now time.Time) time.Duration {
	if s.Manifest == nil {
		return 0
	}
	return now.Sub(s.Manifest.Start)
}

// List reads every committed set, newest first. A set whose manifest
// cannot be read is listed with Err set, so it is seen and can be pruned.
func List(ctx context.Context, st Store) ([]Set, error) {
	ids, _, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	sets := make([]Set, 0, len(ids))
	for _, id := range slices.Backward(ids) {
		s, err := Get(ctx, st, id)
		if err != nil && s.Err == "" {
			return nil, err
		}
		sets = append(sets, s)
	}
	return sets, nil
}

// Get reads one committed set. A manifest that is missing or unreadable
// gives a Set with Err (and the error); a context or store failure gives
// just the error.
func Get(ctx context.Context, st Store, id string) (Set, error) {
	s := Set{ID: id}
	if !ValidID(id) {
		return s, fmt.Errorf("bad backup id %q: want YYYYMMDD_HHMMSS (see opsdeck backups list)", id)
	}
	data, err := readAll(ctx, st, id, ManifestName)
	if errors.Is(err, ErrNotFound) {
		return s, fmt.Errorf("no backup set %s in %s — see opsdeck backups list: %w", id, st, ErrNotFound)
	}
	if err != nil {
		return s, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		s.Err = err.Error()
		return s, fmt.Errorf("backup %s: %w", id, err)
	}
	if m.ID != id {
		s.Err = fmt.Sprintf("manifest says id %s", m.ID)
		return s, fmt.Errorf("backup %s: %s", id, s.Err)
	}
	s.Manifest = m
	if b, err := st.GetMeta(ctx, id, VerifyName); err == nil {
		var v VerifyResult
		if json.Unmarshal(b, &v) == nil {
			s.Verify = &v
		}
	}
	return s, nil
}

func readAll(ctx context.Context, st Store, id, name string) ([]byte, error) {
	rc, err := st.Open(ctx, id, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", id, name, err)
	}
	return b, nil
}

// Latest returns the newest set that holds component ok and, when
// verified is set, whose last verify passed.
func Latest(sets []Set, component string, verified bool) (Set, bool) {
	for _, s := range sets { // newest first
		if s.Manifest == nil || (verified && !s.Verified()) {
			continue
		}
		if c, ok := s.Manifest.Component(component); ok && c.Status == StatusOK {
			return s, true
		}
	}
	return Set{}, false
}
