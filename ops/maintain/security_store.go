package maintain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
)

// rbBackups is the runbook section on checking backups.
const rbBackups = "backup-restore.md#check-backups"

// maxListed bounds the paths a finding lists as evidence.
const maxListed = 5

// storeSecurity checks the local backup store's permissions and whether
// backups are encrypted.
func (e *Engine) storeSecurity(ctx context.Context) []Finding {
	var fs []Finding
	b := e.Config.Backup
	if b.S3.Bucket == "" {
		fs = append(fs, StorePermissionFindings(b.Dir)...)
	} else {
		fs = append(fs, Finding{Area: AreaSecurity, Check: "backup store permissions", Status: health.OK, NA: true, Object: "s3 " + b.S3.Bucket,
			Summary: "n/a: an S3 bucket's access is set by its policy, not file modes — check that it is private"})
	}
	if !b.Encryption.Enabled() {
		fs = append(fs, Finding{Area: AreaSecurity, Check: "backup encryption", Status: health.Warn, Object: "backup store", Runbook: rbBackups,
			Summary:    "backups are not encrypted",
			Evidence:   []string{"backup.encryption has no recipients", "Kubernetes Secrets are left out of config backups for that reason"},
			Why:        "a database dump holds every user's e-mail and password hash; whoever can read the store can read them",
			Suggestion: "set backup.encryption.recipients (age public keys) and keep the identity file off the backup host"})
	}
	eng, ok, err := e.backupEngine()
	if err != nil {
		return append(fs, na(AreaSecurity, "backup sets", "backup store", err.Error()))
	}
	if !ok {
		return fs
	}
	sets, err := backup.List(ctx, eng.Store)
	if err != nil {
		return append(fs, na(AreaSecurity, "backup sets", "backup store", err.Error()))
	}
	fs = append(fs, UnencryptedSecretFindings(sets)...)
	return fs
}

// StorePermissionFindings walks a local backup store and reports
// directories wider than 0700 and files wider than 0600.
func StorePermissionFindings(dir string) []Finding {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return []Finding{{Area: AreaSecurity, Check: "backup store permissions", Status: health.OK, Object: dir,
			Summary: "no backup store yet (the directory does not exist)"}}
	}
	var wideDirs, wideFiles []string
	worst := health.OK
	var walkErr error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			walkErr = err
			return nil // keep walking what can be read
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		perm := info.Mode().Perm()
		limit := os.FileMode(0o600)
		if d.IsDir() {
			limit = 0o700
		}
		if perm&^limit == 0 {
			return nil
		}
		if perm&0o007 != 0 {
			worst = health.Crit
		} else if worst == health.OK {
			worst = health.Warn
		}
		line := fmt.Sprintf("%s %s", perm, path)
		if d.IsDir() {
			wideDirs = append(wideDirs, line)
		} else {
			wideFiles = append(wideFiles, line)
		}
		return nil
	})
	if err == nil {
		err = walkErr
	}
	var out []Finding
	if err != nil {
		out = append(out, na(AreaSecurity, "backup store permissions", dir, "cannot read all of it: "+err.Error()))
	}
	if len(wideDirs)+len(wideFiles) == 0 {
		if err == nil {
			out = append(out, Finding{Area: AreaSecurity, Check: "backup store permissions", Status: health.OK, Object: dir,
				Summary: "directories 0700, files 0600"})
		}
		return out
	}
	ev := append(clip(wideDirs, maxListed), clip(wideFiles, maxListed)...)
	return append(out, Finding{Area: AreaSecurity, Check: "backup store permissions", Status: worst, Object: dir, Runbook: rbBackups,
		Summary:    fmt.Sprintf("%d directories wider than 0700, %d files wider than 0600", len(wideDirs), len(wideFiles)),
		Evidence:   ev,
		Why:        "other users of the host can read the backups (database dumps, configuration)",
		Suggestion: fmt.Sprintf("chmod -R go-rwx %s", dir)})
}

// UnencryptedSecretFindings reports backup sets that hold Kubernetes
// Secrets in files that are not encrypted.
func UnencryptedSecretFindings(sets []backup.Set) []Finding {
	var fs []Finding
	for _, s := range sets {
		if s.Manifest == nil {
			continue
		}
		c, ok := s.Manifest.Component(backup.Config)
		if !ok || c.Kube == nil || c.Kube.Objects["Secret"] == 0 {
			continue
		}
		var plain []string
		for _, f := range c.Files {
			if f.Encryption == "" {
				plain = append(plain, f.Name)
			}
		}
		if len(plain) == 0 {
			continue
		}
		fs = append(fs, Finding{Area: AreaSecurity, Check: "backup secrets unencrypted", Status: health.Crit, Object: "backup " + s.ID, Runbook: rbBackups,
			Summary:    fmt.Sprintf("%d Kubernetes Secrets stored in unencrypted files", c.Kube.Objects["Secret"]),
			Evidence:   plain,
			Why:        "Secrets hold the database and API passwords: an unencrypted copy outlives their rotation",
			Suggestion: "delete the set once a newer encrypted one exists (opsdeck backups prune), and rotate the secrets it held"})
	}
	return fs
}

func clip(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(list[:n:n], fmt.Sprintf("… and %d more", len(list)-n))
}
