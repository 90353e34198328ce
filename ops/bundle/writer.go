package bundle

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/opsdeck/opsdeck/ops/safefile"
)

// member is one part on its way to the archive, already redacted.
type member struct {
	name string
	body []byte
	took time.Duration
	err  string
}

// Names of the index's two parts.
const (
	partManifest     = "MANIFEST"
	partManifestJSON = "manifest.json"
)

// archive is the bundle's file while it is written: a temporary file in
// the destination's directory, renamed over it once complete.
type archive struct {
	path  string
	tmp   *os.File
	buf   *bufio.Writer
	zw    *zstd.Encoder
	tw    *tar.Writer
	start time.Time
}

// writeResult is what the writer wrote.
type writeResult struct {
	parts []Part
	size  int64
	err   error
}

// createArchive opens the temporary file (0600) of path.
func createArchive(path string) (*archive, error) {
	if err := ensureDir(path); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("bundle: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("bundle: write %s: %w", path, err)
	}
	buf := bufio.NewWriterSize(tmp, 256<<10)
	// One encoding goroutine and a modest window: the bundle is a few
	// megabytes of text, memory matters more than the last percent.
	zw, err := zstd.NewWriter(buf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(4<<20))
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("bundle: zstd: %w", err)
	}
	return &archive{path: path, tmp: tmp, buf: buf, zw: zw, tw: tar.NewWriter(zw), start: time.Now()}, nil
}

// run writes every member that arrives until finish is closed (then the
// ones still queued), then the MANIFEST and manifest.json, and renames the
// file into place. After a write error it keeps taking members, so that
// no source waits on it, and removes the file.
func (a *archive) run(members <-chan member, finish <-chan struct{}, progress func(Part)) writeResult {
	var res writeResult
	take := func(m member) {
		p := Part{Name: m.name, Size: int64(len(m.body)), Took: m.took, Err: m.err}
		res.parts = append(res.parts, p)
		if res.err == nil {
			res.err = a.add(m.name, m.body)
		}
		if progress != nil {
			progress(p)
		}
	}
loop:
	for {
		select {
		case m := <-members:
			take(m)
		case <-finish:
			for {
				select {
				case m := <-members:
					take(m)
				default:
					break loop
				}
			}
		}
	}
	sortedParts(res.parts)
	if res.err == nil {
		res.err = a.add(partManifest, manifestText(res.parts, time.Since(a.start)))
	}
	if res.err == nil {
		b, err := json.MarshalIndent(struct {
			Started time.Time `json:"started"`
			Parts   []Part    `json:"parts"`
		}{a.start.UTC(), res.parts}, "", "  ")
		if err == nil {
			res.err = a.add(partManifestJSON, append(b, '\n'))
		} else {
			res.err = err
		}
	}
	size, err := a.finish(res.err)
	res.size, res.err = size, err
	return res
}

// add writes one member, 0600, timed now.
func (a *archive) add(name string, body []byte) error {
	h := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), ModTime: time.Now().UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("bundle: write %s: %w — is the disk full?", a.path, err)
	}
	if _, err := a.tw.Write(body); err != nil {
		return fmt.Errorf("bundle: write %s: %w — is the disk full?", a.path, err)
	}
	return nil
}

// finish closes the archive and renames it into place (a synced file and
// directory, as ops/safefile does), or removes it when failed is set.
func (a *archive) finish(failed error) (size int64, err error) {
	defer func() {
		if err != nil {
			a.tmp.Close()
			os.Remove(a.tmp.Name())
		}
	}()
	if failed != nil {
		a.zw.Close()
		return 0, failed
	}
	for _, c := range []func() error{a.tw.Close, a.zw.Close, a.buf.Flush, a.tmp.Sync} {
		if err := c(); err != nil {
			return 0, fmt.Errorf("bundle: write %s: %w — is the disk full?", a.path, err)
		}
	}
	st, err := a.tmp.Stat()
	if err != nil {
		return 0, fmt.Errorf("bundle: write %s: %w", a.path, err)
	}
	if err := a.tmp.Close(); err != nil {
		return 0, fmt.Errorf("bundle: write %s: %w", a.path, err)
	}
	if err := os.Rename(a.tmp.Name(), a.path); err != nil {
		return 0, fmt.Errorf("bundle: write %s: %w", a.path, err)
	}
	return st.Size(), safefile.SyncDir(filepath.Dir(a.path))
}

// manifestText is the MANIFEST: one line per part with its size, how long
// it took and its error.
func manifestText(parts []Part, took time.Duration) []byte {
	var b strings.Builder
	failed := 0
	for _, p := range parts {
		if p.Err != "" {
			failed++
		}
	}
	fmt.Fprintf(&b, "opsdeck diagnostic bundle, %s: %d parts, %d failed, read in %s\n\n",
		time.Now().UTC().Format(time.RFC3339), len(parts), failed, took.Round(time.Millisecond))
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PART\tSIZE\tTOOK\tERROR")
	for _, p := range parts {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.Size, p.Took.Round(time.Millisecond), oneLine(p.Err))
	}
	tw.Flush()
	return []byte(b.String())
}

// oneLine folds s onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
