package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"filippo.io/age"
)

// ExtractBase unpacks a base backup set's tar into dir (which must exist
// and be empty): the data directory as the server sent it, with its
// backup_label and backup_manifest. Members are written 0700/0600; a name
// that leaves dir, a link, or any member but a file or a directory is
// refused (pg_basebackup writes none for a cluster without tablespaces).
// The stored file's SHA-256 is checked at the end: a damaged set fails
// here, before anything runs on what was unpacked. tick is told the tar
// bytes read.
func ExtractBase(ctx context.Context, store Store, setID string, f File, ids []age.Identity, dir string, tick func(int64)) error {
	fr, err := OpenFile(ctx, store, setID, f, ids)
	if err != nil {
		return fmt.Errorf("open the base backup of %s: %w", setID, err)
	}
	defer fr.Close()
	cr := &countingReader{r: fr, tick: tick}
	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("the base backup of %s does not read as a tar: %w", setID, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("the base backup of %s holds %q, outside the data directory: refused", setID, h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return fmt.Errorf("unpack the base backup: %w", err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return fmt.Errorf("unpack the base backup: %w", err)
			}
			if err := writeMember(target, tr); err != nil {
				return fmt.Errorf("unpack %s: %w — check free space in %s", name, err, dir)
			}
		default:
			return fmt.Errorf("the base backup of %s holds %q of tar type %q, which opsdeck does not unpack (a tablespace link?)", setID, h.Name, h.Typeflag)
		}
	}
	// The tar's end padding, then the file's checksum.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return fmt.Errorf("read the base backup of %s: %w", setID, err)
	}
	if err := fr.Verified(); err != nil {
		return fmt.Errorf("the base backup of %s is damaged — pick another base backup: %w", setID, err)
	}
	return nil
}

func writeMember(target string, r io.Reader) error {
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
